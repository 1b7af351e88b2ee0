import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// What a package.json says, read once per directory. A package is known by its own
// package.json `name`, never by its folder's: an npm alias ("pg-legacy": "npm:pg@8.11.3"),
// a vendored copy or pnpm's store is recognised as what it is.

export interface PackageJson {
  name?: unknown;
  version?: unknown;
  type?: unknown;
}

// null: none, or not JSON; 'unread': read, but it named nothing the caller looked for.
const known = new Map<string, PackageJson | null | 'unread'>();

/**
 * `<dir>/package.json`, parsed; null when there is none or it is not JSON. With `mentions`
 * (JSON-quoted names), a file that contains none of them is not parsed and gives null:
 * the load hook reads the package.json of every package with a root `index.js` (for
 * pg-pool's), and parsing them all cost more than reading them.
 */
export function packageJsonAt(dir: string, mentions?: readonly string[]): PackageJson | null {
  const cached = known.get(dir);
  if (cached !== undefined && (cached !== 'unread' || mentions)) return cached === 'unread' ? null : cached;
  let pkg: PackageJson | null | 'unread';
  try {
    const text = readFileSync(join(dir, 'package.json'), 'utf8');
    if (mentions && !mentions.some((m) => text.includes(m))) pkg = 'unread';
    else {
      const parsed = JSON.parse(text) as unknown;
      pkg = parsed !== null && typeof parsed === 'object' ? (parsed as PackageJson) : null;
    }
  } catch {
    pkg = null;
  }
  known.set(dir, pkg);
  return pkg === 'unread' ? null : pkg;
}

/** The nearest package.json above `file` that `accept` takes, or undefined. */
export function nearestPackageJson(file: string, accept: (pkg: PackageJson) => boolean): PackageJson | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = packageJsonAt(dir);
    if (pkg && accept(pkg)) return pkg;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The name of the package a file belongs to: the nearest package.json above it with a name. */
export function packageNameOf(file: string): string | undefined {
  return nearestPackageJson(file, (pkg) => typeof pkg.name === 'string' && pkg.name !== '')?.name as string | undefined;
}
