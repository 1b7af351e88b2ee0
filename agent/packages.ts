import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// What a package.json says, read once per directory: the package that owns a file is the
// nearest package.json above it that has a name (npm aliases and vendored copies are known
// by their own name, not by their folder's).

interface PackageJson {
  name?: string;
  version?: string;
}

const read = new Map<string, PackageJson | null>();

/** `<dir>/package.json`, parsed; null when there is none or it is not JSON. */
export function packageJsonAt(dir: string): PackageJson | null {
  let pkg = read.get(dir);
  if (pkg === undefined) {
    try {
      const parsed = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as unknown;
      pkg = parsed !== null && typeof parsed === 'object' ? (parsed as PackageJson) : null;
    } catch {
      pkg = null;
    }
    read.set(dir, pkg);
  }
  return pkg;
}

/** The name of the package a file belongs to, or undefined outside any named package. */
export function packageNameOf(file: string): string | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const name = packageJsonAt(dir)?.name;
    if (typeof name === 'string' && name !== '') return name;
    if (dirname(dir) === dir) return undefined;
  }
}
