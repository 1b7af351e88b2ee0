import type { Config } from './config';
import { openReport } from './report';

// The settings in force in this process: from the environment at start-up, then from
// configure(). Read on every patched call, so kept as one plain object.

let current: Config = { mode: 'log', onFork: 'disconnect', report: undefined, propagate: true };

export function settings(): Readonly<Config> {
  return current;
}

/** Applies a whole configuration; throws ConfigError (and changes nothing) if the report cannot be opened. */
export function applySettings(next: Config): void {
  openReport(next.report);
  current = next;
}

export function enabled(): boolean {
  return current.mode !== 'off';
}
