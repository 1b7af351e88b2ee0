import type { ModulePatch } from '../agent/patching';
import { setRunnerContext } from '../agent/raise';
import type { TestRef } from '../agent/violations';
import { unwrapMethod, wrapMethod } from '../agent/wrap';
import { SUPPORTED } from './shared/supported';

// Mocha runs test files as they are, in plain Node (its own process, or with --parallel a
// workerpool child that builds a Mocha of its own): the driver patches and the doors apply
// there as anywhere. What the agent cannot know by itself is the test running: Mocha's
// Runner keeps it in `currentRunnable` (the test or hook it runs now, set before the
// runnable's function is called, in every release since 1.x), and a test's `state` is set
// once it has finished. The Runner is noted as it starts running (Runner#run, lib/runner.js,
// Mocha 10 and 11; one runs per process at a time).

interface Runnable {
  type?: unknown;
  file?: unknown;
  state?: unknown;
  fullTitle?: () => unknown;
}

// Held weakly: a finished run must be collectable.
let lastRunner: WeakRef<{ currentRunnable?: Runnable }> | undefined;

function currentTest(): TestRef | undefined {
  const r = lastRunner?.deref()?.currentRunnable;
  if (!r || typeof r.file !== 'string') return undefined;
  // A finished test stays `currentRunnable` until the next one starts: a violation from
  // code it left running is not that test's.
  if (r.type !== 'test' || r.state !== undefined || typeof r.fullTitle !== 'function') return { file: r.file };
  const name = r.fullTitle();
  return typeof name === 'string' ? { file: r.file, name } : { file: r.file };
}

export const mochaPatch: ModulePatch = {
  package: 'mocha',
  file: 'lib/runner.js',
  versions: SUPPORTED.mocha,
  patch(Runner: any) {
    const proto = Runner?.prototype;
    if (typeof proto?.run !== 'function') throw new Error('mocha: lib/runner.js exports no Runner with run()');
    setRunnerContext({ test: currentTest, mapSite: (site) => site });
    wrapMethod(proto, 'run', (original) =>
      function run(this: object) {
        lastRunner = new WeakRef(this);
        return original.apply(this, arguments as any);
      },
    );
  },
  unpatch(Runner: any) {
    if (Runner?.prototype) unwrapMethod(Runner.prototype, 'run');
  },
};
