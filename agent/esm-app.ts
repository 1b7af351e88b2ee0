import { existsSync, readdirSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { nearestPackageJson } from './packages';

/**
 * Whether this process runs an ES-module app, the one kind that can `import` a driver's ESM
 * build: its entry is an ES module (`.mjs`, `.mts`, or `.js`/`.ts` under a package.json with
 * `"type": "module"`), or Node was given an ESM loader or an `--import` (how the README says
 * to start an ESM app under the agent), or ES-module syntax by default. Asked once at start,
 * before the app's entry is loaded, because a module hook costs every module the process
 * loads, CommonJS ones too (+5.5% to +6.6% of an app's start-up on Node 22 and 24,
 * docs/benchmarks.md): a CommonJS app, whose `require` gets the drivers' CommonJS builds,
 * does not pay it.
 */
export function runsEsModules(entry: string | undefined = process.argv[1], execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const flags = [...execArgv, ...nodeOptions.split(/\s+/)];
  if (flags.some((f) => /^--(import|loader|experimental-loader)(=|$)/.test(f) || /^--(experimental-default-type|input-type)=module$/.test(f))) return true;
  if (entry === undefined || entry === '' || entry === '-') return false;
  const file = resolve(entry);
  const ext = extname(file);
  if (ext === '.mjs' || ext === '.mts') return true;
  if (ext === '.cjs' || ext === '.cts') return false;
  return nearestPackageJson(file, () => true)?.type === 'module';
}

/**
 * Whether one of `packages` is installed where an ES module of this app can import it from:
 * `node_modules/<name>` in a folder above the entry or the working directory (how `import`
 * resolves a bare name; npm and yarn hoist there), or in pnpm's store beside them
 * (`node_modules/.pnpm/<name>@<version>`, which a workspace package links to). A few `stat`s,
 * against a module hook that costs every module loaded: an ESM app without these drivers
 * does not pay for them.
 */
export function installedNear(packages: readonly string[], entry: string | undefined = process.argv[1], cwd = process.cwd()): boolean {
  const seen = new Set<string>();
  const starts = [cwd, ...(entry ? [dirname(resolve(entry))] : [])];
  for (const start of starts) {
    for (let dir = start; !seen.has(dir); dir = dirname(dir)) {
      seen.add(dir);
      const modules = join(dir, 'node_modules');
      if (packages.some((name) => existsSync(join(modules, name, 'package.json')))) return true;
      if (inPnpmStore(join(modules, '.pnpm'), packages)) return true;
    }
  }
  return false;
}

function inPnpmStore(store: string, packages: readonly string[]): boolean {
  let entries: string[];
  try {
    entries = readdirSync(store);
  } catch {
    return false;
  }
  // A scoped name is stored as `@scope+name@version`.
  const prefixes = packages.map((name) => `${name.replace('/', '+')}@`);
  return entries.some((e) => prefixes.some((p) => e.startsWith(p)));
}
