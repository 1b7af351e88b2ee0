import Module = require('node:module');
import { sep } from 'node:path';
import { internalError } from './boundary';
import { hookEsmEvaluatedCjs, type LoaderStandIn } from './esm-cjs-hook';
import { disguise } from './wrap';

/** Where a loaded file sits: `<basedir>/<file>`. Which package `basedir` holds is the caller's to say. */
export interface PackageFile {
  basedir: string;
  /** Relative to the package, with `/` separators: `lib/client.js`. */
  file: string;
}

/**
 * Says from where a file sits whether a patch wants it, before its exports are read:
 * the function that takes its exports and returns the ones to hand out, or undefined.
 */
export type Claim = (where: PackageFile) => ((exports: unknown) => unknown) | undefined;

interface Wanted {
  file: string;
  /** `<sep>lib<sep>client.js`: what the loaded file's path must end with. */
  suffix: string;
}

/** The wanted files keyed by their basename, so that any other file costs one Map lookup. */
function indexByBasename(files: readonly string[]): Map<string, Wanted[]> {
  const index = new Map<string, Wanted[]>();
  for (const file of new Set(files)) {
    const parts = file.split('/');
    const list = index.get(parts[parts.length - 1]!) ?? [];
    list.push({ file, suffix: sep + parts.join(sep) });
    index.set(parts[parts.length - 1]!, list);
  }
  return index;
}

const NM = `${sep}node_modules${sep}`;

/**
 * Whether `basedir` can be the root of a package: directly in a node_modules folder
 * (`node_modules/x`, `node_modules/@s/x`: npm, aliases, pnpm's store) or outside every
 * node_modules folder (a vendored copy, a workspace). A folder deeper inside a package
 * (`node_modules/x/lib`) is not, which spares a package.json read for each `index.js`.
 */
function canBePackageRoot(basedir: string): boolean {
  const at = basedir.lastIndexOf(NM);
  if (at === -1) return true;
  const rest = basedir.slice(at + NM.length);
  const slash = rest.indexOf(sep);
  if (slash === -1) return true;
  return rest.startsWith('@') && rest.indexOf(sep, slash + 1) === -1;
}

type Compile = (this: NodeJS.Module, content: string, filename: string, ...rest: unknown[]) => unknown;

/**
 * Sees every CommonJS file as it is first evaluated, and may replace its exports before
 * any `require` (or ESM `import` of CommonJS) returns them. Every CommonJS loader ends in
 * `Module.prototype._compile`: Node's own `.js`/`.cjs` handlers, and those that TypeScript
 * loaders install in front of them (tsx, pirates and so @babel/register, esbuild-register,
 * @swc-node/register; ts-node wraps `module._compile`, which still reaches the prototype's),
 * in whichever order they were installed. A hook on `Module._extensions['.js']` is bypassed
 * by a loader that replaces it without calling the one before. `require-in-the-middle`
 * hooks `require` instead: a resolution for every `require` call, where this is one string
 * slice and one Map lookup per file evaluated. Files no patch names are never touched:
 * their `module.exports` is not read (ansi-styles makes it a getter that builds a new
 * object on each read, and without a setter). The one path that skips `_compile`, Node 20's
 * ESM loader evaluating CommonJS source that a `module.register` hook returned, is seen
 * through esm-cjs-hook.ts.
 */
export function hookFirstLoads(files: readonly string[], claim: Claim, standIns?: readonly LoaderStandIn[]): () => void {
  const { basenames, claimFile } = fileClaimer(files, claim);
  const proto = Module.prototype as unknown as { _compile: Compile };
  const original = proto._compile;
  let active = true;
  const compile: Compile = function (this: NodeJS.Module, _content, filename) {
    // eslint-disable-next-line prefer-rest-params
    const result = original.apply(this, arguments as unknown as Parameters<Compile>);
    if (active && typeof filename === 'string') seen(this, filename);
    return result;
  };
  // Runs inside the application's require: nothing of ours may throw out of it.
  const seen = (module: NodeJS.Module, filename: string): void => {
    try {
      const patch = claimFile(filename);
      if (!patch) return;
      const exports = module.exports;
      const next = patch(exports);
      if (next !== exports) module.exports = next;
    } catch (err) {
      internalError(`load hook for ${filename}`, err);
    }
  };
  proto._compile = disguise(compile, original);
  const unhookEsm = hookEsmEvaluatedCjs(basenames, (module, filename) => {
    if (active && typeof filename === 'string') seen(module, filename);
  }, standIns);
  return () => {
    active = false;
    unhookEsm();
    // Put the original back only if nobody wrapped on top of us since.
    if (proto._compile === compile) proto._compile = original;
  };
}

/**
 * Which of `files` a loaded file is, and what `claim` makes of it: `claimFile(filename)`
 * gives the function that patches its exports (or whatever else `claim` returns), or
 * undefined. Any file whose basename no patch names costs one string slice and one Map
 * lookup. Shared by the load hook, the files another module system loads (Jest's runtime)
 * and the ESM hook (esm-hook.ts).
 */
export function fileClaimer<T = (exports: unknown) => unknown>(files: readonly string[], claim: (where: PackageFile) => T | undefined): { basenames: string[]; claimFile(filename: string): T | undefined } {
  const index = indexByBasename(files);
  return {
    basenames: [...index.keys()],
    claimFile(filename) {
      const wanted = index.get(filename.slice(filename.lastIndexOf(sep) + 1));
      if (!wanted) return undefined;
      for (const w of wanted) {
        if (!filename.endsWith(w.suffix)) continue;
        const basedir = filename.slice(0, filename.length - w.suffix.length);
        if (!canBePackageRoot(basedir)) continue;
        const patch = claim({ basedir, file: w.file });
        if (patch) return patch;
      }
      return undefined;
    },
  };
}
