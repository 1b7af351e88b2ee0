import type * as childProcess from 'node:child_process';
import { basename } from 'node:path';
import { asCall, callAs, currentCall } from '../agent/calls';
import { guard, internalError } from '../agent/boundary';
import { checkSend, checkStdio, type AtDoor } from '../agent/doors';
import { announcement } from '../agent/manifest';
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
  /** The caller's `env`, which Node made `envPairs` from (absent: process.env). */
  env?: unknown;
}

/**
 * Wraps a child's `send`, an own property that Node assigns when it sets up the IPC
 * channel. A tracked socket let through (log mode) is announced to the child just before.
 */
function watchSend(child: childProcess.ChildProcess): void {
  wrapMethod(child, 'send', (original) =>
    // Node's send(message, handle, options, callback) takes four arguments and never reads
    // their count: passed on as they are, with no `arguments` object made for each send.
    function send(this: childProcess.ChildProcess, message: unknown, handle?: unknown, options?: unknown, callback?: unknown) {
      if (handle !== null && typeof handle === 'object') announceSent(this, original, checkSend(currentCall('ChildProcess.send'), handle, send));
      return original.call(this, message, handle, options, callback);
    },
  );
}

const ignore = (): void => undefined;

/** A tracked socket let through (log mode) is announced to the child just before it is sent. */
function announceSent(child: childProcess.ChildProcess, send: (...args: unknown[]) => unknown, passed: AtDoor | undefined): void {
  if (!passed) return;
  guard('announce', () => {
    const message = announcement(passed);
    // With a callback, a closed channel's error comes to us, not to the child's 'error'.
    if (message) send.call(child, message, undefined, {}, ignore);
  }, undefined);
}

/** A node command line (a fork's execArgv) with a relative mention of the agent made absolute; `args` itself when there is none. */
function nodeArgs(args: string[]): string[] {
  const [argv0, ...rest] = args;
  const flags = withAbsolutePreload(rest);
  return flags === rest ? args : [argv0!, ...flags];
}

// Few functions and short ones on the path of every spawn: V8 compiles a function when it
// first runs, and the first spawns of a process paid more for compiling the agent's than
// for running them.
/**
 * Spawns with the child's environment and a node command line that find the agent from
 * any cwd. They are put in the caller's options for the call and put back after it: Node
 * itself writes into these options (their `stdio`, the IPC pairs of a fork), and copying
 * an object of a dozen properties on every spawn cost more than the rest of the work.
 */
function spawnChild(child: childProcess.ChildProcess, spawn: Function, options: SpawnOptions, skip: Function): unknown {
  const passed = checkStdio(currentCall('ChildProcess.spawn'), options.stdio, skip);
  const { envPairs, args } = options;
  let childPairs = envPairs;
  let childArgs = args;
  try {
    if (Array.isArray(envPairs)) childPairs = childEnvPairs(envPairs, passed, options.env);
    const file = options.file;
    // A node command line (inline: one function less to compile at the first spawn).
    const isNode = file === process.execPath || (typeof file === 'string' ? file.endsWith('node') && basename(file) === 'node' : basename(String(file)) === 'node');
    if (Array.isArray(args) && isNode) childArgs = nodeArgs(args);
  } catch (err) {
    // The agent's own error: the child starts as the caller asked.
    internalError('childOptions', err);
    childPairs = envPairs;
    childArgs = args;
  }
  options.envPairs = childPairs;
  options.args = childArgs;
  let result: unknown;
  try {
    result = spawn.call(child, options);
  } finally {
    options.envPairs = envPairs;
    options.args = args;
  }
  // A child without an IPC channel has no send().
  if (typeof child.send === 'function') guard('watchSend', () => watchSend(child), undefined);
  return result;
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
        // A child with an IPC channel is a fork, even when the caller reached fork through
        // a reference taken before the agent loaded (`const { fork } = require(...)` in an
        // earlier preload): the pre-fork step runs here too, once per fork.
        const isFork = Array.isArray(options.stdio) && options.stdio.includes('ipc');
        if (!isFork) return spawnChild(this, original, options, spawn);
        return aroundFork('child_process.fork', undefined, () => spawnChild(this, original, options, spawn), () => this.pid);
      },
    );
    for (const name of NAMED) {
      const api = `child_process.${name}`;
      wrapMethod(cp, name, (original) =>
        function named(this: unknown) {
          return callAs(api, original, this, arguments);
        },
      );
    }
    for (const name of SYNC) {
      wrapMethod(cp, name, (original) =>
        function syncSpawn(this: unknown, ...args: unknown[]) {
          if (!enabled()) return original.apply(this, args);
          let i = optionsIndex(args);
          const options = (i === -1 ? {} : args[i]) as childProcess.SpawnSyncOptions;
          const passed = checkStdio(`child_process.${name}`, options.stdio, syncSpawn);
          const env = guard('childEnv', () => childEnv(options.env ?? process.env, passed), undefined);
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
