import { DEFAULTS, type Config } from './config';
import { reasonOf, sayOnce } from './boundary';
import { openReport } from './report';

// The settings in force in this process: from the environment at start-up, then from
// configure(). Read on every patched call, so kept as one plain object.

let current: Config = DEFAULTS;

export function settings(): Readonly<Config> {
  return current;
}

/**
 * Applies a whole configuration. A report that cannot be opened throws ConfigError and
 * changes nothing; with `lenient` (a child process, whose settings came from its parent)
 * it is said once on stderr and the process goes on without writing it, its other
 * settings (strict mode) in force and the path still passed on to its own children.
 */
export function applySettings(next: Config, lenient = false): void {
  try {
    if (next.report !== current.report) openReport(next.report);
  } catch (err) {
    if (!lenient) throw err;
    openReport(undefined);
    sayOnce('report open', `${err instanceof Error ? err.message : reasonOf(err)}; this process goes on without writing it`);
  }
  current = next;
}

export function enabled(): boolean {
  return current.mode !== 'off';
}
