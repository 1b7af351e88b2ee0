import Module = require('node:module');
import { internalError } from './boundary';
import { kEsmCjsEvaluated as kEvaluated } from './symbols';
import { disguise } from './wrap';

/**
 * Node 20's ESM loader evaluates a CommonJS file itself, without `Module.prototype._compile`
 * or `require`, when a `module.register` load hook returns its source (`--import
 * jiti/register` does so for every `.js` file): `import pg from 'pg'` then loads all of pg
 * unseen. Node has no public point after such a file runs, so a load hook of ours, chained
 * in front of that loader's, appends one call to the source of the files a patch names; the
 * call runs at the end of the file, in its own scope, and hands the module to `onEvaluated`.
 */


// The hook runs in the loader thread; a data: URL needs no file beside the bundle. It calls
// the next hook and only adds to CommonJS sources it was given, for the basenames it was told.
const HOOK_SOURCE = `
let basenames = new Set();
export function initialize(data) { basenames = new Set(data.basenames); }
const KEY = ${JSON.stringify(kEvaluated.description)};
const CALL = '\\n;(globalThis[Symbol.for(' + JSON.stringify(KEY) + ')]||function(){})(arguments[2], arguments[3]);\\n';
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (result.format !== 'commonjs' || result.source == null || !url.startsWith('file:')) return result;
  const path = url.split(/[?#]/)[0];
  if (!basenames.has(decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)))) return result;
  const source = typeof result.source === 'string' ? result.source : new TextDecoder().decode(result.source);
  if (source.endsWith(CALL)) return result;
  return { ...result, source: source + CALL };
}
`;

type Register = (specifier: string | URL, parentURL?: unknown, options?: unknown) => void;

/**
 * From now on, every `module.register` call is followed by one of ours, so that our load
 * hook sits in front of the one just registered. Returns the function that undoes it (the
 * hooks already registered stay, and call nothing once `onEvaluated` is withdrawn). The
 * caller runs `syncBuiltinESMExports()` after either, for `import { register } from
 * 'node:module'`, which reads a copy of the builtin's exports.
 */
export function hookEsmEvaluatedCjs(basenames: readonly string[], onEvaluated: (module: NodeJS.Module, filename: string) => void): () => void {
  const mod = Module as unknown as { register?: Register };
  const original = mod.register;
  if (typeof original !== 'function') return () => undefined;
  const ours = (): void => {
    try {
      original.call(mod, `data:text/javascript,${encodeURIComponent(HOOK_SOURCE)}`, { data: { basenames: [...new Set(basenames)] } });
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
