import { join } from 'node:path';
import { checkOptions, configFromEnvironment, ConfigError, exitBadConfig, isChild, type Config, type ConfigureOptions } from './config';
import { register } from './resources';
import { debug } from './boundary';
import { distDir } from './dist-dir';
import { checkInheritedAtStartup } from './doors';
import { packageJsonAt } from './packages';
import { installPatches, integrationOf, patchBundledFile, uninstallPatches, type Patch } from './patching';
import { databases, disconnectAll } from './registry';
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
  /** Called by the code forksafe/esbuild adds to each bundled driver file. */
  patchBundled: typeof patchBundledFile;
}

function ownVersion(): string {
  const version = packageJsonAt(join(distDir, '..'))?.version;
  return typeof version === 'string' ? version : 'unknown';
}

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
 * Node runs every --require once more inside the thread that module.register()'s hooks run
 * in (20, 22 and 24 alike; hooks registered with module.registerHooks run in the
 * application's own thread and start none). That thread is a worker with no parentPort (a
 * user's Worker always has one); Node 22.14+ says so directly with isInternalThread.
 * Loading worker_threads costs ~4 ms of start-up, so it is asked only when a loader can be
 * running.
 */
function inLoaderThread(): boolean {
  const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if (!/--(import|loader|experimental-loader)\b/.test(flags)) return false;
  const wt = require('node:worker_threads') as typeof import('node:worker_threads') & { isInternalThread?: boolean };
  return wt.isInternalThread ?? (!wt.isMainThread && wt.parentPort === null);
}

const api: AgentApi = {
  // Read when a second copy asks, not at every start-up.
  get version() {
    return ownVersion();
  },
  loadedFrom: distDir,
  databases,
  disconnectAll,
  register,
  configure,
  violations,
  onViolation,
  ForkSafetyError,
  patchBundled: patchBundledFile,
};

/**
 * Starts the agent in this process, once: a second copy (`-r` twice, two installed
 * copies) finds the first one's API on the global and stays idle. `preread`: the settings
 * the off-mode stand-in already read from the environment.
 */
export function start(allPatches: readonly Patch[], preread?: Config): void {
  if (inLoaderThread()) {
    debug('module loader thread: idle (the application runs in the main thread)');
    return;
  }
  const running = runningAgent<AgentApi>();
  if (running) {
    debug('already running (forksafe %s from %s): this copy from %s stays idle', running.version, running.loadedFrom, distDir);
    return;
  }
  const integrations = [...new Set(allPatches.map(integrationOf))].sort();
  const config = preread ?? configFromEnvironment(integrations);
  try {
    applySettings(config, isChild());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitBadConfig(err);
  }
  (globalThis as { [kAgent]?: AgentApi })[kAgent] = api;
  patches = allPatches.filter((p) => !config.disable.includes(integrationOf(p)));
  debug('integrations: %s%s', integrations.filter((n) => !config.disable.includes(n)).join(', '), config.disable.length > 0 ? ` (FORKSAFE_DISABLE: ${config.disable.join(', ')} left unpatched)` : '');
  if (config.mode === 'off') {
    debug('FORKSAFE_MODE=off: nothing installed');
    return;
  }
  installPatches(patches);
  checkInheritedAtStartup(start);
}
