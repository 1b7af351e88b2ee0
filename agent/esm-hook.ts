import Module = require('node:module');
import { fileURLToPath } from 'node:url';
import { internalError } from './boundary';
import { kEsmPatch } from './symbols';

/**
 * Sees the ES modules a patch names, on the runtimes that have in-thread module hooks
 * (`module.registerHooks`: Node 22.15, 23.5 and later). `import postgres from 'postgres'`
 * loads postgres.js's ESM build and `import mariadb from 'mariadb'` (3.5 on) mariadb's, and
 * no CommonJS hook sees those files. An ES module's exports cannot be replaced after it has
 * run, so a claimed module is stood in for, as import-in-the-middle does: its URL loads a
 * small module that imports the original (the same URL with `?forksafe-original`),
 * re-exports all of it, and exports the patched values under the names the patch replaces
 * (an own export wins over the same name from `export *`). Every importer of the file, the
 * package's own modules included, gets the stand-in; the original runs once.
 *
 * Node 20 has no such hook: `module.register` runs its hooks in a thread of their own that
 * costs 90–180 ms of start-up, too much to start in every process. There the same stand-ins
 * come from that thread only when another tool has started it (esm-cjs-hook.ts), and
 * otherwise the ESM builds are seen by the doors only (docs/drivers-postgres.md).
 */

/** How the module namespace of an ES module maps onto what the file's patch takes. */
export type EsmExports =
  /** patch() takes the `default` export: the ESM twin of a CommonJS `module.exports = fn`. */
  | 'default'
  /**
   * patch() takes an object of the named exports and returns one with these names replaced;
   * the `default` export, an object holding the same functions, is patched the same way.
   */
  | { readonly named: readonly string[] };

/**
 * Says from a file's path whether a patch wants it (its package by its package.json, its
 * version): how its namespace maps, and the function that patches what it maps to.
 */
export type EsmClaim = (filename: string) => { exports: EsmExports; patch: (exports: unknown) => unknown } | undefined;

const ORIGINAL = 'forksafe-original';

interface Hooks {
  deregister(): void;
}
type LoadResult = { format?: string | null; source?: unknown; shortCircuit?: boolean };
type NextLoad = (url: string, context?: unknown) => LoadResult;
type RegisterHooks = (hooks: { load(url: string, context: unknown, nextLoad: NextLoad): LoadResult }) => Hooks;

/** The stand-in's source: the original's exports, with `names` taken from what the patch made of them. */
function standIn(url: string, names: readonly string[]): string {
  const original = JSON.stringify(url + (url.includes('?') ? '&' : '?') + ORIGINAL);
  const lines = [
    `import * as original from ${original};`,
    `export * from ${original};`,
    // The agent may be gone (switched off, or a copy without it): then the module is as it was.
    `const patched = (globalThis[Symbol.for(${JSON.stringify(kEsmPatch.description)})] || ((u, ns) => ns))(${JSON.stringify(url)}, original);`,
  ];
  names.forEach((name, i) => {
    if (name === 'default') lines.push('export default patched.default;');
    else lines.push(`const v${i} = patched[${JSON.stringify(name)}];`, `export { v${i} as ${name} };`);
  });
  return lines.join('\n') + '\n';
}

/**
 * Where a stand-in template holds the module's URL: Node 20's loader thread (esm-cjs-hook.ts)
 * fills it in with the JSON-escaped URL of a file without query or fragment.
 */
export const STAND_IN_URL = 'forksafe-stand-in-url:';

/** The stand-in's source for any URL without query or fragment: STAND_IN_URL in place of the URL. */
export function standInTemplate(exports: EsmExports): string {
  return standIn(STAND_IN_URL, namesOf(exports));
}

function namesOf(exports: EsmExports): string[] {
  return exports === 'default' ? ['default'] : ['default', ...exports.named];
}

/** The values the stand-in exports, from the original's namespace and the file's patch. */
function patchNamespace(exports: EsmExports, patch: (exports: unknown) => unknown, namespace: Record<string, unknown>): Record<string, unknown> {
  if (exports === 'default') return { default: patch(namespace.default) };
  const named = patch({ ...namespace }) as Record<string, unknown>;
  const out: Record<string, unknown> = { default: namespace.default };
  for (const name of exports.named) out[name] = named[name];
  if (namespace.default !== null && typeof namespace.default === 'object') out.default = patch(namespace.default);
  return out;
}

const registerHooks = (): RegisterHooks | undefined => {
  const register = (Module as unknown as { registerHooks?: RegisterHooks }).registerHooks;
  return typeof register === 'function' ? register : undefined;
};

/** Whether this Node has in-thread module hooks (22.15, 23.5 and later). */
export const esmHooksAvailable = (): boolean => registerHooks() !== undefined;

/**
 * Hooks the loading of ES modules whose basename is one of `basenames`; `claim` decides
 * from the full path. Returns the unhook, or undefined when this Node has no in-thread hooks.
 */
export function hookEsmLoads(basenames: readonly string[], claim: EsmClaim): (() => void) | undefined {
  const register = registerHooks();
  if (!register) return undefined;
  const wanted = new Set(basenames);
  let hooks: Hooks;
  try {
    hooks = register({
      load(url, context, nextLoad) {
        const result = nextLoad(url, context);
        // Every module of the process passes here, CommonJS ones too: anything not named
        // costs a slice and a Set lookup.
        const at = url.search(/[?#]/);
        const path = at === -1 ? url : url.slice(0, at);
        if (!wanted.has(path.slice(path.lastIndexOf('/') + 1)) || result.format !== 'module' || !url.startsWith('file:')) return result;
        if (at !== -1 && url.slice(at).includes(ORIGINAL)) return result;
        try {
          const claimed = claim(fileURLToPath(path));
          if (!claimed) return result;
          return { format: 'module', source: standIn(url, namesOf(claimed.exports)), shortCircuit: true };
        } catch (err) {
          internalError(`ESM load hook for ${url}`, err);
          return result;
        }
      },
    });
  } catch (err) {
    internalError('register the ESM load hook', err);
    return undefined;
  }
  const unbridge = installEsmBridge(claim);
  return () => {
    unbridge();
    hooks.deregister();
  };
}

/**
 * What a stand-in calls when it runs, with its URL and the original's namespace: the values
 * it exports. The file is claimed again there (package.json and version, both cached), so a
 * stand-in made in another thread is patched by the same rules.
 */
export function installEsmBridge(claim: EsmClaim): () => void {
  const bridge = (url: string, namespace: Record<string, unknown>): Record<string, unknown> => {
    try {
      const at = url.search(/[?#]/);
      const claimed = claim(fileURLToPath(at === -1 ? url : url.slice(0, at)));
      return claimed ? patchNamespace(claimed.exports, claimed.patch, namespace) : namespace;
    } catch (err) {
      internalError(`patch the ES module ${url}`, err);
      return namespace;
    }
  };
  (globalThis as { [kEsmPatch]?: unknown })[kEsmPatch] = bridge;
  return () => {
    if ((globalThis as { [kEsmPatch]?: unknown })[kEsmPatch] === bridge) delete (globalThis as { [kEsmPatch]?: unknown })[kEsmPatch];
  };
}
