import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkOptions, ConfigError, readEnv, type Config, type ConfigureOptions } from './config';
import { register } from './custom';
import { debug, sayOnce } from './debug';
import { distDir } from './dist-dir';
import { checkInheritedAtStartup } from './doors';
import { installPatches, uninstallPatches, type Patch } from './patching';
import { databases, disconnectAll } from './registry';
import { PARENT_ENV } from './propagate';
import { applySettings, settings } from './settings';
import { kAgent, runningAgent } from './symbols';
import { ForkSafetyError, onViolation, violations } from './violations';

/** What the first copy of forksafe loaded into a process shares with every other copy. */
export interface AgentApi {
  readonly version: string;
  /** Where this copy lives, for the debug line of a second copy. */
  readonly loadedFrom: string;
  databases: typeof databases;
  disconnectAll: typeof disconnectAll;
  register: typeof register;
  configure(options: ConfigureOptions): Readonly<Config>;
  violations: typeof violations;
  onViolation: typeof onViolation;
  ForkSafetyError: typeof ForkSafetyError;
}

const VERSION: string = (() => {
  try {
    return JSON.parse(readFileSync(join(distDir, '..', 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
})();

let patches: readonly Patch[] = [];

function configure(options: ConfigureOptions): Readonly<Config> {
  const o = checkOptions(options);
  const before = settings();
  const next: Config = {
    ...before,
    ...(o.mode !== undefined && { mode: o.mode }),
    ...(o.onFork !== undefined && { onFork: o.onFork }),
    ...(o.report !== undefined && { report: o.report ?? undefined }),
  };
  applySettings(next);
  if (before.mode === 'off' && next.mode !== 'off') installPatches(patches);
  if (before.mode !== 'off' && next.mode === 'off') uninstallPatches();
  debug('configured: mode=%s onFork=%s report=%s', next.mode, next.onFork, next.report ?? '(none)');
  return next;
}

/**
 * Node 20 runs every --require once more inside the thread that --import's module hooks
 * run in. That thread is a worker with no parentPort (a user's Worker always has one);
 * Node 22.14+ says so directly with isInternalThread. Loading worker_threads costs ~4 ms
 * of start-up, so it is asked only when a loader can be running.
 */
function inLoaderThread(): boolean {
  const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if (!/--(import|loader|experimental-loader)\b/.test(flags)) return false;
  const wt = require('node:worker_threads') as typeof import('node:worker_threads') & { isInternalThread?: boolean };
  return wt.isInternalThread ?? (!wt.isMainThread && wt.parentPort === null);
}

const api: AgentApi = {
  version: VERSION,
  loadedFrom: distDir,
  databases,
  disconnectAll,
  register,
  configure,
  violations,
  onViolation,
  ForkSafetyError,
};

/**
 * Starts the agent in this process, once: a second copy (`-r` twice, two installed
 * copies) finds the first one's API on the global and stays idle.
 */
export function start(allPatches: readonly Patch[]): void {
  if (inLoaderThread()) {
    debug('module loader thread: idle (the application runs in the main thread)');
    return;
  }
  const running = runningAgent<AgentApi>();
  if (running) {
    debug('already running (forksafe %s from %s): this copy from %s stays idle', running.version, running.loadedFrom, distDir);
    return;
  }
  // Only the first process of a tree stops on a bad setting. A child got its settings from
  // its parent (or its own explicit ones): it says what is wrong once and keeps running.
  const child = process.env[PARENT_ENV] !== undefined;
  let config: Config;
  try {
    config = readEnv(process.env, child ? (err) => sayOnce(err.message, `${err.message}; this child process uses the default instead`) : undefined);
    applySettings(config, child);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Before the application runs: one line, and a non-zero exit (9, Node's own code for a bad argument).
    process.stderr.write(`forksafe: ${err.message}\n`);
    process.exit(9);
  }
  (globalThis as { [kAgent]?: AgentApi })[kAgent] = api;
  patches = allPatches;
  if (config.mode === 'off') {
    debug('FORKSAFE_MODE=off: nothing installed');
    return;
  }
  installPatches(patches);
  checkInheritedAtStartup(start);
}
