import Module = require('node:module');
import { internalError } from './boundary';
import { STAND_IN_URL } from './esm-hook';
import { kEsmCjsEvaluated as kEvaluated } from './symbols';
import { disguise } from './wrap';

/**
 * Node 20's ESM loader evaluates a CommonJS file itself, without `Module.prototype._compile`
 * or `require`, when a `module.register` load hook returns its source (`--import
 * jiti/register` does so for every `.js` file): `import pg from 'pg'` then loads all of pg
 * unseen. Node has no public point after such a file runs, so a load hook of ours, chained
 * in front of that loader's, appends one call to the source of the files a patch names; the
 * call runs at the end of the file, in its own scope, and hands the module to `onEvaluated`.
 *
 * The same hook stands in for the drivers' ES-module builds on Node 20 (`standIns`), which
 * has no in-thread hook (esm-hook.ts): where another tool has started the loader thread
 * (tsx, a loader, anything that calls `module.register`), ours costs that thread one more
 * hook, not a thread of its own. The thread reads the package.json beside a
 * file to know it is the driver's; the main thread's bridge checks the version when the
 * stand-in runs.
 */


// The hook runs in the loader thread; a data: URL needs no file beside the bundle. It calls
// the next hook and only adds to CommonJS sources it was given, for the basenames it was
// told, or stands in for the ES modules it was told (package and file).
const HOOK_SOURCE = `
import { readFileSync } from 'node:fs';
let basenames = new Set();
let standIns = [];
export function initialize(data) { basenames = new Set(data.basenames); standIns = data.standIns || []; }
const KEY = ${JSON.stringify(kEvaluated.description)};
const CALL = '\\n;(globalThis[Symbol.for(' + JSON.stringify(KEY) + ')]||function(){})(arguments[2], arguments[3]);\\n';
const names = new Map();
function packageName(dir) {
  if (!names.has(dir)) {
    let name;
    try { name = JSON.parse(readFileSync(dir + '/package.json', 'utf8')).name; } catch {}
    names.set(dir, name);
  }
  return names.get(dir);
}
function standInFor(url) {
  if (/[?#]/.test(url)) return undefined;
  const path = decodeURIComponent(url.slice('file://'.length));
  for (const s of standIns) {
    if (!path.endsWith('/' + s.file)) continue;
    const dir = path.slice(0, path.length - s.file.length - 1);
    if (packageName(dir) === s.package) return s.template.split(${JSON.stringify(STAND_IN_URL)}).join(JSON.stringify(url).slice(1, -1));
  }
  return undefined;
}
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (result.format === 'module' && standIns.length > 0 && url.startsWith('file:')) {
    const source = standInFor(url);
    return source === undefined ? result : { format: 'module', source, shortCircuit: true };
  }
  if (result.format !== 'commonjs' || result.source == null || !url.startsWith('file:')) return result;
  const path = url.split(/[?#]/)[0];
  if (!basenames.has(decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)))) return result;
  const source = typeof result.source === 'string' ? result.source : new TextDecoder().decode(result.source);
  if (source.endsWith(CALL)) return result;
  return { ...result, source: source + CALL };
}
`;

type Register = (specifier: string | URL, parentURL?: unknown, options?: unknown) => void;

/** A driver's ES module the loader thread stands in for: its package, its file, the stand-in's source (esm-hook.ts). */
export interface LoaderStandIn {
  package: string;
  file: string;
  template: string;
}

/**
 * From now on, every `module.register` call is followed by one of ours, so that our load
 * hook sits in front of the one just registered. Returns the function that undoes it (the
 * hooks already registered stay, and call nothing once `onEvaluated` is withdrawn). The
 * caller runs `syncBuiltinESMExports()` after either, for `import { register } from
 * 'node:module'`, which reads a copy of the builtin's exports.
 */
export function hookEsmEvaluatedCjs(basenames: readonly string[], onEvaluated: (module: NodeJS.Module, filename: string) => void, standIns: readonly LoaderStandIn[] = []): () => void {
  const mod = Module as unknown as { register?: Register };
  const original = mod.register;
  if (typeof original !== 'function') return () => undefined;
  const ours = (): void => {
    try {
      original.call(mod, `data:text/javascript,${encodeURIComponent(HOOK_SOURCE)}`, { data: { basenames: [...new Set(basenames)], standIns } });
    } catch (err) {
      internalError('register the ESM CommonJS hook', err);
    }
  };
  const register: Register = function (this: unknown, ...args) {
    const result = original.apply(this, args);
    ours();
    return result;
  };
  mod.register = disguise(register, original);
  // Loaded from such a hook's source ourselves (`--import jiti/register --import
  // forksafe/register`), we were given the ESM loader's own `require`, which has no cache:
  // that hook was registered before us, so ours goes in front of it now.
  if ((require as { cache?: unknown }).cache === undefined) ours();
  (globalThis as { [kEvaluated]?: unknown })[kEvaluated] = onEvaluated;
  return () => {
    if ((globalThis as { [kEvaluated]?: unknown })[kEvaluated] === onEvaluated) delete (globalThis as { [kEvaluated]?: unknown })[kEvaluated];
    if (mod.register === register) mod.register = original;
  };
}
