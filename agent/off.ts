import type { AgentApi } from './agent';
import { configFromEnvironment, type Config } from './config';
import { kAgent, runningAgent } from './symbols';

// FORKSAFE_MODE=off costs an empty preload: the settings are checked (a bad one still
// stops the process), and the agent itself is loaded only if the application calls the
// API (configure({ mode: 'log' }) switches it on, as ever).

const API: { [key in keyof AgentApi]: true } = {
  version: true,
  loadedFrom: true,
  databases: true,
  disconnectAll: true,
  register: true,
  configure: true,
  violations: true,
  onViolation: true,
  ForkSafetyError: true,
  patchBundled: true,
};

/** Puts a stand-in for the agent's API on the global; `load` starts the agent (off) on first use. */
export function startOff(load: (config: Config) => void): void {
  if (runningAgent()) return;
  // Checked now, read once: a bad value stops the process before the app runs.
  const config = configFromEnvironment();
  const global = globalThis as { [kAgent]?: AgentApi };
  let agent: AgentApi | undefined;
  const real = (): AgentApi => {
    if (agent === undefined) {
      delete global[kAgent];
      load(config);
      agent = runningAgent<AgentApi>()!;
    }
    return agent;
  };
  const standIn = {} as AgentApi;
  for (const key of Object.keys(API) as (keyof AgentApi)[]) {
    Object.defineProperty(standIn, key, { enumerable: true, get: () => real()[key] });
  }
  global[kAgent] = standIn;
}
