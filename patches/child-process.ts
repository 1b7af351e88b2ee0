import type * as childProcess from 'node:child_process';
import { basename } from 'node:path';
import { asCall, currentCall } from '../agent/calls';
import { guard } from '../agent/debug';
import { checkSend, checkStdio } from '../agent/doors';
import { aroundFork } from '../agent/fork-policy';
import type { BuiltinPatch } from '../agent/patching';
import { childEnv, childEnvPairs, withAbsolutePreload } from '../agent/propagate';
import { enabled } from '../agent/settings';
import { unwrapMethod, wrapMethod } from '../agent/wrap';

type ChildProcessModule = typeof childProcess;

// Every asynchronous spawn (fork, spawn, exec, execFile, cluster workers) goes through
// ChildProcess.prototype.spawn with normalised options: `file` and `args` are the whole
// command line, stdio is the caller's array and the environment is `envPairs`. The *Sync
// functions go elsewhere and are wrapped apiece. The public functions are wrapped only to
// name the call (child_process.exec rather than ChildProcess.spawn) in a violation.

interface SpawnOptions {
  file?: unknown;
  args?: unknown;
  stdio?: unknown;
  envPairs?: unknown;
}

/** Wraps a child's `send`, an own property that Node assigns when it sets up the IPC channel. */
function watchSend(child: childProcess.ChildProcess): void {
  wrapMethod(child, 'send', (original) =>
    function send(this: childProcess.ChildProcess, _message: unknown, handle?: unknown) {
      if (handle != null) checkSend(currentCall('ChildProcess.send'), handle, send);
      return original.apply(this, arguments as any);
    },
  );
}

const isNode = (file: unknown): boolean => file === process.execPath || basename(String(file)) === 'node';

/** The options to spawn with: the child's environment and a node command line that find the agent from any cwd. */
function childOptions(options: SpawnOptions): SpawnOptions {
  let out = options;
  if (Array.isArray(options.envPairs)) {
    const envPairs = childEnvPairs(options.envPairs);
    if (envPairs !== options.envPairs) out = { ...out, envPairs };
  }
  if (Array.isArray(options.args) && isNode(options.file)) {
    const [argv0, ...rest] = options.args as string[];
    const flags = withAbsolutePreload(rest);
    if (flags !== rest) out = { ...out, args: [argv0, ...flags] };
  }
  return out;
}

function optionsIndex(args: unknown[]): number {
  // spawnSync(cmd, [args], [options]), execSync(cmd, [options]), execFileSync(file, [args], [options])
  for (let i = args.length - 1; i >= 1; i--) {
    const a = args[i];
    if (a !== null && typeof a === 'object' && !Array.isArray(a)) return i;
  }
  return -1;
}

const SYNC = ['spawnSync', 'execSync', 'execFileSync'] as const;
const NAMED = ['spawn', 'exec', 'execFile'] as const;

export const childProcessPatch: BuiltinPatch = {
  builtin: 'child_process',
  patch(cp: ChildProcessModule) {
    wrapMethod(cp.ChildProcess.prototype, 'spawn', (original) =>
      function spawn(this: childProcess.ChildProcess, options: SpawnOptions) {
        if (!enabled() || options === null || typeof options !== 'object') return original.apply(this, arguments as any);
        const start = () => {
          checkStdio(currentCall('ChildProcess.spawn'), options.stdio, spawn);
          const result = original.call(this, guard('childOptions', () => childOptions(options), options));
          guard('watchSend', () => watchSend(this), undefined);
          return result;
        };
        // A child with an IPC channel is a fork, even when the caller reached fork through
        // a reference taken before the agent loaded (`const { fork } = require(...)` in an
        // earlier preload): the pre-fork step runs here too, once per fork.
        const isFork = Array.isArray(options.stdio) && options.stdio.includes('ipc');
        return isFork ? aroundFork('child_process.fork', undefined, start, () => this.pid) : start();
      },
    );
    for (const name of NAMED) {
      wrapMethod(cp, name, (original) =>
        function named(this: unknown) {
          return asCall(`child_process.${name}`, () => original.apply(this, arguments as any));
        },
      );
    }
    for (const name of SYNC) {
      wrapMethod(cp, name, (original) =>
        function syncSpawn(this: unknown, ...args: unknown[]) {
          if (!enabled()) return original.apply(this, args);
          let i = optionsIndex(args);
          const options = (i === -1 ? {} : args[i]) as childProcess.SpawnSyncOptions;
          checkStdio(`child_process.${name}`, options.stdio, syncSpawn);
          const env = guard('childEnv', () => childEnv(options.env ?? process.env), undefined);
          if (env !== undefined && env !== (options.env ?? process.env)) {
            if (i === -1) {
              // No options given: add them where the function expects them.
              if (name === 'execSync') i = 1;
              else {
                if (!Array.isArray(args[1])) args[1] = [];
                i = 2;
              }
            }
            args[i] = { ...options, env };
          }
          return original.apply(this, args);
        },
      );
    }
    wrapMethod(cp, 'fork', (original) =>
      function fork(this: unknown, modulePath: unknown) {
        const command = typeof modulePath === 'string' ? modulePath : modulePath instanceof URL ? modulePath.href : undefined;
        return asCall('child_process.fork', () =>
          aroundFork('child_process.fork', command, () => original.apply(this, arguments as any), (c: childProcess.ChildProcess) => c.pid),
        );
      },
    );
  },
  unpatch(cp: ChildProcessModule) {
    unwrapMethod(cp.ChildProcess.prototype, 'spawn');
    for (const name of [...NAMED, ...SYNC]) unwrapMethod(cp, name);
    unwrapMethod(cp, 'fork');
  },
};
