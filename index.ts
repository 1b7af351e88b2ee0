// The API: `require('forksafe')` / `import * as forksafe from 'forksafe'`.
// Every call goes to the agent running in this process (the first copy of forksafe that
// was loaded, through `-r forksafe/register`), so two installed copies share one registry.
// Only the shared key and the error class are imported: the agent itself is the one the
// preload started, and requiring the API must not build a second, empty one.
import type { AgentApi } from './agent/agent';
import type { Config, ConfigureOptions } from './agent/config';
import type { Resource } from './agent/resources';
import type { DatabaseInfo, DisconnectResult } from './agent/registry';
import { runningAgent as running } from './agent/symbols';
import { ForkSafetyError as OwnForkSafetyError, type Violation, type ViolationListener } from './agent/violations';

const runningAgent = (): AgentApi | undefined => running<AgentApi>();

export type { Config, ConfigureOptions, DatabaseInfo, DisconnectResult, Resource, Violation, ViolationListener };
export type { Kind } from './agent/registry';
export type { Mode, OnFork } from './agent/config';
export type { ViolationKind } from './agent/violations';

function notLoaded(what: string): never {
  throw new Error(`forksafe.${what}: the agent is not loaded in this process; start Node with -r forksafe/register (or --import forksafe/register), or run the command through \`forksafe run -- <command>\``);
}

/** Every tracked pool and connection of this process. Empty when the agent is not loaded. */
export function databases(): DatabaseInfo[] {
  return runningAgent()?.databases() ?? [];
}

/** Sequel's `DB.disconnect` for every tracked pool: idle connections closed now, the rest untouched. */
export function disconnectAll(): DisconnectResult {
  return runningAgent()?.disconnectAll() ?? { pools: 0, closed: 0, kept: 0, settled: Promise.resolve() };
}

/** Tracks anything else (an in-house pool, a Redis client); returns the function that untracks it. */
export function register(resource: Resource): () => void {
  return (runningAgent() ?? notLoaded('register()')).register(resource);
}

/** The settings of FORKSAFE_MODE, FORKSAFE_ON_FORK and FORKSAFE_REPORT, in code. Returns what is now in force. */
export function configure(options: ConfigureOptions): Readonly<Config> {
  return (runningAgent() ?? notLoaded('configure()')).configure(options);
}

/** The violations this process recorded (the last 1000). */
export function violations(): Violation[] {
  return runningAgent()?.violations() ?? [];
}

/** Calls `listener` with each violation of this process; returns the function that removes it. */
export function onViolation(listener: ViolationListener): () => void {
  return (runningAgent() ?? notLoaded('onViolation()')).onViolation(listener);
}

/** Thrown in strict mode by the call that would let a database socket reach another process. */
export const ForkSafetyError: typeof OwnForkSafetyError = runningAgent()?.ForkSafetyError ?? OwnForkSafetyError;
export type ForkSafetyError = OwnForkSafetyError;
