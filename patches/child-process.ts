import type * as childProcess from 'node:child_process';
import { checkStdio, checkSend } from '../agent/doors';
import { aroundFork } from '../agent/fork-policy';
import type { BuiltinPatch } from '../agent/patching';
import { childEnv, childEnvPairs } from '../agent/propagate';
import { enabled } from '../agent/settings';
import { guard } from '../agent/debug';
import { unwrapMethod, wrapMethod } from '../agent/wrap';

type ChildProcessModule = typeof childProcess;

// Every asynchronous spawn (fork, spawn, exec, execFile, cluster workers) goes through
// ChildProcess.prototype.spawn with normalised options: stdio is the caller's array and
// the environment is `envPairs`. The *Sync functions go elsewhere and are wrapped apiece.

/** Which public call led here, read off the stack only when there is something to report. */
function spawnApi(): string {
  const stack = new Error().stack ?? '';
  let api = 'ChildProcess.spawn';
  for (const m of stack.matchAll(/at (?:Object\.)?(cluster\.fork|fork|spawn|spawnSync|exec|execFile|execSync|execFileSync) \(node:(?:child_process|internal\/cluster\/primary)/g)) {
    api = m[1]!.startsWith('cluster.') ? m[1]! : `child_process.${m[1]}`;
  }
  return api;
}

function sendApi(): string {
  return new Error().stack?.includes('at Worker.send') ? 'Worker.send' : 'ChildProcess.send';
}

/** Wraps a child's `send`, an own property that Node assigns when it sets up the IPC channel. */
function watchSend(child: childProcess.ChildProcess): void {
  wrapMethod(child, 'send', (original) =>
    function send(this: childProcess.ChildProcess, _message: unknown, handle?: unknown) {
      if (handle != null) checkSend(sendApi, handle, send);
      return original.apply(this, arguments as any);
    },
  );
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

export const childProcessPatch: BuiltinPatch = {
  builtin: 'child_process',
  patch(cp: ChildProcessModule) {
    wrapMethod(cp.ChildProcess.prototype, 'spawn', (original) =>
      function spawn(this: childProcess.ChildProcess, options: any) {
        if (!enabled() || options === null || typeof options !== 'object') return original.apply(this, arguments as any);
        const start = () => {
          checkStdio(spawnApi, options.stdio, spawn);
          let opts = options;
          if (Array.isArray(options.envPairs)) {
            const envPairs = guard('childEnvPairs', () => childEnvPairs(options.envPairs), options.envPairs);
            if (envPairs !== options.envPairs) opts = { ...options, envPairs };
          }
          const result = original.call(this, opts);
          guard('watchSend', () => watchSend(this), undefined);
          return result;
        };
        // A child with an IPC channel is a fork, even when the caller reached fork through
        // a reference taken before the agent loaded (`const { fork } = require(...)` in an
        // earlier preload): the pre-fork step runs here too, once per fork.
        const isFork = Array.isArray(options.stdio) && options.stdio.includes('ipc');
        return isFork ? aroundFork('child_process.fork', start, () => this.pid) : start();
      },
    );
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
      function fork(this: unknown) {
        return aroundFork('child_process.fork', () => original.apply(this, arguments as any), (c: childProcess.ChildProcess) => c.pid);
      },
    );
  },
  unpatch(cp: ChildProcessModule) {
    unwrapMethod(cp.ChildProcess.prototype, 'spawn');
    for (const name of SYNC) unwrapMethod(cp, name);
    unwrapMethod(cp, 'fork');
  },
};
