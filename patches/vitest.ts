import type { BuiltinPatch } from '../agent/patching';
import { setRunnerContext } from '../agent/raise';
import { positionIn } from '../agent/source-map';
import type { TestRef } from '../agent/violations';

// Vitest (2, 3 and 4) runs test files in plain Node, in its forks and threads pools: the
// driver patches and the doors apply there as anywhere. What the agent cannot know by
// itself is the test running, and the source line of a test file's frame: Vite transforms
// each test file before Vitest runs it, and keeps the source map in memory. Vitest loads
// itself as ES modules, which the load hook does not see, so there is no file of Vitest's
// to patch; what it offers instead is the state of each worker, on the worker's global
// under `__vitest_worker__` (its NAME_WORKER_STATE, the same name in 2, 3 and 4): the task
// running (`current`) and the worker's module cache with its source maps. This context is
// installed with the process patch and reads that global only when a violation happens;
// outside Vitest there is none, and Jest's or Mocha's patch replaces the context as its
// runner loads.

interface Task {
  type?: unknown;
  name?: unknown;
  suite?: Task;
  file?: Task & { filepath?: unknown };
  result?: { state?: unknown };
}

interface WorkerState {
  filepath?: unknown;
  current?: Task;
  /** Vitest 2 and 3: vite-node's ModuleCacheMap (keys normalized by its normalizePath). */
  moduleCache?: { normalizePath?(id: string): string; has?(id: string): boolean; getSourceMap?(id: string): { mappings?: unknown } | null };
  /** Vitest 4: Vite's module runner's EvaluatedModules. */
  evaluatedModules?: { getModuleSourceMapById?(id: string): { map?: { mappings?: unknown } } | null };
}

function workerState(): WorkerState | undefined {
  const state = (globalThis as { __vitest_worker__?: unknown }).__vitest_worker__;
  return typeof state === 'object' && state !== null ? (state as WorkerState) : undefined;
}

/** The running test, by the name Vitest prints: its describe blocks and its own, joined by ` > `. */
function currentTest(): TestRef | undefined {
  const state = workerState();
  const task = state?.current;
  const file = typeof task?.file?.filepath === 'string' ? task.file.filepath : state?.filepath;
  if (typeof file !== 'string') return undefined;
  // `current` is the test from its start until its end, then its suite (hooks, collection).
  if (task?.type !== 'test' || task.result?.state !== 'run' || typeof task.name !== 'string') return { file };
  const names = [task.name];
  for (let s = task.suite; s && s !== task.file && typeof s.name === 'string'; s = s.suite) names.unshift(s.name);
  return { file, name: names.join(' > ') };
}

function mappingsOf(state: WorkerState, file: string): unknown {
  const cache = state.moduleCache;
  // ModuleCacheMap#get adds an empty entry for an id it does not hold: asked only for one it holds.
  if (cache && typeof cache.getSourceMap === 'function' && typeof cache.normalizePath === 'function' && cache.has?.(cache.normalizePath(file))) {
    return cache.getSourceMap(file)?.mappings;
  }
  return state.evaluatedModules?.getModuleSourceMapById?.(file)?.map?.mappings;
}

/** `file:line:col` in a module Vite transformed, as the source's line and column. */
function mapSite(site: string): string {
  const m = /^(.*):(\d+):(\d+)$/.exec(site);
  const state = workerState();
  if (!m || !state) return site;
  const mappings = mappingsOf(state, m[1]!);
  if (typeof mappings !== 'string') return site;
  const at = positionIn(mappings, Number(m[2]), Number(m[3]));
  return at ? `${m[1]}:${at.line}:${at.col}` : site;
}

export const vitestPatch: BuiltinPatch = {
  builtin: 'process',
  integration: 'vitest',
  patch() {
    setRunnerContext({ test: currentTest, mapSite });
  },
  // The context reads the global only: with Vitest gone it finds nothing.
  unpatch() {},
};
