import { guard } from '../agent/boundary';
import type { ModulePatch } from '../agent/patching';
import { applyFilePatches } from '../agent/patching';
import { setRunnerContext } from '../agent/raise';
import { originalPosition } from '../agent/source-map';
import { databases } from '../agent/registry';
import type { TestRef } from '../agent/violations';
import { unwrapMethod, wrapMethod } from '../agent/wrap';
import { SUPPORTED } from './shared/supported';

// Jest's runtime loads every module of a test file itself: it reads and transforms the
// file, compiles it with vm.compileFunction and calls it with a `require` of its own, into
// a module registry per test file. Node's loader (and so the load hook) never sees those
// modules, so each one is handed to the patching layer as it finishes executing, the
// moment its exports become what `require` returns: pg, mysql2 and the rest are patched in
// every test file's fresh copy. Core modules (net, child_process) are Node's own, already
// patched, inside the sandbox too.
//
// Layouts (https://github.com/jestjs/jest, packages/jest-runtime):
// - Jest 29: `Runtime.prototype._execModule(localModule, ...)` runs one module.
// - Jest 30.5: the runtime is split into internal classes bundled in build/index.js; a
//   Runtime builds a ModuleExecutor whose `exec(localModule, ...)` runs one module (and
//   returns 'env-disposed' when the environment is gone). The class is not exported, so
//   its prototype is reached through the first Runtime's `executor`.
// Earlier Jest 30 releases kept `_execModule`: whichever method is there is wrapped.

interface LocalModule {
  filename: string;
  exports: unknown;
}

/** The sandbox global of the test file that ran a module last: one file at a time runs per process. */
interface JestGlobal {
  [key: symbol]: { state?: { testPath?: string; currentTestName?: string } } | undefined;
}

// expect keeps its state (testPath, currentTestName, which jest-circus sets at each test's
// start) on the sandbox global under this registered symbol: what expect.getState() reads.
const kMatchers = Symbol.for('$$jest-matchers-object');

// Held weakly: a finished test file's environment must be collectable.
let lastGlobal: WeakRef<JestGlobal> | undefined;

function noteGlobal(g: unknown): void {
  if (typeof g !== 'object' || g === null || lastGlobal?.deref() === g) return;
  lastGlobal = new WeakRef(g as JestGlobal);
}

// The Runtime of the test file that ran a module last: its transformed files' source maps.
let lastRuntime: WeakRef<object> | undefined;

function noteRuntime(runtime: unknown): void {
  if (typeof runtime !== 'object' || runtime === null || lastRuntime?.deref() === runtime) return;
  lastRuntime = new WeakRef(runtime);
}

/** `file:line:col` in code Jest transformed, as the source's line and column (Runtime#getSourceMaps, Jest 29 and 30). */
function mapSite(site: string): string {
  const m = /^(.*):(\d+):(\d+)$/.exec(site);
  const runtime = lastRuntime?.deref() as { getSourceMaps?: () => Map<string, string> } | undefined;
  if (!m || typeof runtime?.getSourceMaps !== 'function') return site;
  const mapPath = runtime.getSourceMaps().get(m[1]!);
  if (typeof mapPath !== 'string') return site;
  const at = originalPosition(mapPath, Number(m[2]), Number(m[3]));
  return at ? `${m[1]}:${at.line}:${at.col}` : site;
}

function currentTest(): TestRef | undefined {
  const state = lastGlobal?.deref()?.[kMatchers]?.state;
  if (typeof state?.testPath !== 'string') return undefined;
  return typeof state.currentTestName === 'string' ? { file: state.testPath, name: state.currentTestName } : { file: state.testPath };
}

function execWrapper(original: (...args: any[]) => unknown, globalOf: (self: any) => unknown) {
  return function exec(this: unknown, localModule: LocalModule, ...rest: unknown[]) {
    const result = original.call(this, localModule, ...rest);
    if (result !== 'env-disposed' && localModule && typeof localModule.filename === 'string') {
      noteGlobal(globalOf(this));
      if (typeof (this as { getSourceMaps?: unknown }).getSourceMaps === 'function') noteRuntime(this);
      // Read once: a module may put a getter on module.exports that builds a new object
      // per read (ansi-styles); only a file a patch names gets its exports replaced.
      const before = localModule.exports;
      const exports = applyFilePatches(localModule.filename, before);
      if (exports !== before) localModule.exports = exports;
    }
    return result;
  };
}

const kExecutorWrapped = Symbol('forksafe.jestExecutor');

function patchRuntime(exported: any): void {
  const Runtime = exported?.default;
  const proto = Runtime?.prototype;
  if (!proto) throw new Error('jest-runtime has no default export class');
  setRunnerContext({ test: currentTest, mapSite });
  // The registry forgets ended pools when it is next read; until then an entry keeps the
  // stack captured where its pool was opened, and an unformatted V8 stack holds the
  // functions and receivers of its frames: a whole test file's sandbox. Reading the
  // registry as each test file's runtime is torn down lets it go (measured: without this,
  // a Jest worker grows by 0.7 MB of heap per test file that opens and ends a pool).
  wrapMethod(proto, 'teardown', (original) =>
    function teardown(this: unknown) {
      try {
        return original.apply(this, arguments as any);
      } finally {
        guard('jest teardown', () => void databases(), undefined);
      }
    },
  );
  if (typeof proto._execModule === 'function') {
    wrapMethod(proto, '_execModule', (original) => execWrapper(original, (self) => self._environment?.global));
    return;
  }
  if (typeof proto.requireModule !== 'function') throw new Error('jest-runtime: neither Runtime#_execModule nor Runtime#requireModule');
  // Every require of a sandbox (the test file's, Jest's own internal modules) goes through
  // Runtime#requireModule first: the executor's class is wrapped there, once.
  wrapMethod(proto, 'requireModule', (original) =>
    function requireModule(this: { executor?: object }) {
      noteRuntime(this);
      const executor = this.executor;
      const eproto = executor && Object.getPrototypeOf(executor);
      if (eproto && !eproto[kExecutorWrapped] && typeof eproto.exec === 'function') {
        wrapMethod(eproto, 'exec', (exec) => execWrapper(exec, (self) => self.environment?.global));
        Object.defineProperty(eproto, kExecutorWrapped, { value: true, configurable: true });
      }
      return original.apply(this, arguments as any);
    },
  );
}

function unpatchRuntime(exported: any): void {
  const proto = exported?.default?.prototype;
  if (!proto) return;
  unwrapMethod(proto, 'teardown');
  if (typeof proto._execModule === 'function') unwrapMethod(proto, '_execModule');
  else unwrapMethod(proto, 'requireModule');
  // The executor's wrapper stays (Runtimes already built hold it) and only patches files
  // while the patching layer is installed: applyFilePatches does nothing once it is not.
}

function runtimePatch(versions: string): ModulePatch {
  return { package: 'jest-runtime', integration: 'jest', file: 'build/index.js', versions, patch: patchRuntime, unpatch: unpatchRuntime };
}

/** One entry per major layout. */
export const jestRuntimePatches: ModulePatch[] = [runtimePatch(SUPPORTED['jest-runtime@29']), runtimePatch(SUPPORTED['jest-runtime@30'])];
