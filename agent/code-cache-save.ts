import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { debug } from './boundary';
import type { CodeCacheState } from './code-cache';

// The half of the code cache (code-cache.ts) that runs inside the bundle: its debug line,
// and the writing of the cache when V8 had none to use, after start-up, so that the
// functions start-up compiled are in it.

// Cache files kept at most, the oldest removed first: flags can vary without bound.
const MAX_CACHES = 8;

/** Makes room for one more cache. Best effort: another process may be pruning too. */
function pruneCaches(dir: string): void {
  const caches: { path: string; mtime: number }[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.bin')) continue;
    try {
      caches.push({ path: join(dir, name), mtime: statSync(join(dir, name)).mtimeMs });
    } catch {
      // removed meanwhile
    }
  }
  caches.sort((a, b) => a.mtime - b.mtime);
  for (const old of caches.slice(0, Math.max(0, caches.length - MAX_CACHES + 1))) {
    try {
      unlinkSync(old.path);
    } catch {
      // removed meanwhile
    }
  }
}

/** Says how the bundle was compiled (NODE_DEBUG=forksafe). */
export function sayHowCompiled(state: CodeCacheState): void {
  debug(state.cacheFile === undefined ? 'code cache %s' : `code cache ${state.cacheFile}: %s`, state.compiled);
}

/** Writes the next start's cache if V8 had none to use; best effort (a read-only install keeps compiling). */
export function saveCodeCache({ script, cacheFile }: CodeCacheState): void {
  if (script === undefined || cacheFile === undefined) return;
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(cacheFile), { recursive: true });
    pruneCaches(dirname(cacheFile));
    // A whole file or none: two processes starting at once each write their own and rename.
    writeFileSync(temporary, script.createCachedData(), { flag: 'wx' });
    renameSync(temporary, cacheFile);
    debug('code cache written: %s', cacheFile);
  } catch (err) {
    try {
      unlinkSync(temporary);
    } catch {
      // never written
    }
    debug('code cache not written (%s): the bundle compiles at each start', (err as NodeJS.ErrnoException).code ?? String(err));
  }
}
