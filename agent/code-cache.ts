import { readFileSync, statSync } from 'node:fs';
import Module = require('node:module');
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

// Every process of a tree starts the agent, so the compile of its 110 KB bundle is paid
// in each of them: about 13 M of the instructions `node -e 0` spends on the agent, by
// callgrind. V8 can skip that compile when handed the code it made last time. Node 20 has
// no compile cache of its own (module.enableCompileCache is 22.1+, and switches it on for
// the whole application, which is not ours to decide), so the bundle is loaded here
// with its own cache, kept beside it in dist/cache/: one file per Node version,
// architecture and set of command-line flags, since V8 refuses a cache made under other
// flags. V8 checks each cache against its version, the flags and the source's length
// (not its text), and refuses a damaged one; the bundle is then compiled as usual and the
// cache written again. The length is not enough to tell one build from the next, so the
// key also holds the bundle file's inode, size and mtime: a rebuilt or reinstalled bundle
// never meets an older build's cache. A cache that cannot be written (a read-only
// install) costs nothing but the try.

// This file runs at every start, in dist/register.js, outside the bundle and so outside
// its cache: it holds only what loading needs. The bundle itself says how it was compiled
// (its debug log) and writes a missing cache (code-cache-save.ts), once it has started.

// Node options that take a value and cannot change a compile: the script of `-e`, the
// preloads (whose paths differ between installs), conditions, env files, the title.
const NOT_COMPILER_FLAGS = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '-e', '--eval', '-p', '--print', '-C', '--conditions', '--env-file', '--input-type', '--title']);

/** FNV-1a of the bundle file's identity and of the flags that can change V8's compile: the cache key. */
function cacheKey(file: string): string {
  const flags: string[] = [];
  const options = process.env.NODE_OPTIONS;
  const args = options ? [...process.execArgv, ...options.split(' ').filter(Boolean)] : process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const name = args[i].split('=')[0];
    if (NOT_COMPILER_FLAGS.has(name)) {
      if (!args[i].includes('=')) i++;
      continue;
    }
    flags.push(args[i]);
  }
  let h = 0x811c9dc5;
  const st = statSync(file);
  flags.push(`${st.ino}:${st.size}:${st.mtimeMs}`);
  for (const c of flags.join(' ')) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** How the bundle was compiled, and the cache to write for the next start if there was none to use. */
export interface CodeCacheState {
  /** 'used', 'none yet', 'refused by V8 (…)', or 'skipped (<error>)' when no cache could be named. */
  readonly compiled: string;
  readonly cacheFile?: string;
  /** Set when V8 had no cache to use: `createCachedData()` of it, once the start-up code has run, is the next start's cache. */
  readonly script?: Script;
}

export interface LoadedBundle<T> extends CodeCacheState {
  readonly exports: T;
}

/**
 * Loads a CommonJS bundle that sits beside its parent, compiled from its code cache when V8
 * accepts it. The bundle is built already wrapped as Node wraps a module (`(function
 * (exports, require, module, __filename, __dirname) { … })`, esbuild's banner and footer):
 * the source is compiled as read, where wrapping it here would copy 120 KB into a new
 * string at every start (about 2 M instructions, with the young collection it brings on).
 * It is handed `parentRequire` itself: it requires only builtins, and the agent's ESM
 * CommonJS hook (esm-cjs-hook.ts) reads from it how the parent was loaded (Node 20's ESM
 * loader gives a file whose CommonJS source a `module.register` hook returned a `require`
 * without a cache).
 */
export function loadWithCodeCache<T>(file: string, parent: NodeModule, parentRequire: NodeJS.Require): LoadedBundle<T> {
  let cacheFile: string | undefined;
  let cachedData: Buffer | undefined;
  let skipped: string | undefined;
  try {
    cacheFile = join(dirname(file), 'cache', `${basename(file, '.js')}-${process.version}-${process.arch}-${cacheKey(file)}.bin`);
  } catch (err) {
    skipped = `skipped (${String(err)}): the bundle compiles without one`;
  }
  if (cacheFile !== undefined) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      // No cache yet: compiled as usual, and written after start-up.
    }
  }
  const script = new Script(readFileSync(file, 'utf8'), { filename: file, cachedData });
  const fresh = cachedData === undefined || script.cachedDataRejected === true;
  const m = new Module(file, parent);
  m.filename = file;
  const internals = Module as unknown as { _nodeModulePaths(dir: string): string[]; _cache: Record<string, NodeModule> };
  m.paths = internals._nodeModulePaths(dirname(file));
  // In require's cache as if required: a later require of the bundle finds this copy.
  internals._cache[file] = m;
  try {
    (script.runInThisContext() as Function).call(m.exports, m.exports, parentRequire, m, file, dirname(file));
  } catch (err) {
    delete internals._cache[file];
    throw err;
  }
  m.loaded = true;
  return {
    exports: m.exports as T,
    compiled: skipped ?? (cachedData === undefined ? 'none yet' : fresh ? 'refused by V8 (made by another build or flags)' : 'used'),
    cacheFile,
    script: fresh ? script : undefined,
  };
}
