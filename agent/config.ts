import { resolve } from 'node:path';

export type Mode = 'log' | 'strict' | 'off';
export type OnFork = 'disconnect' | 'keep';

export interface Config {
  mode: Mode;
  onFork: OnFork;
  /** Absolute path of the JSON Lines report, or undefined for none. */
  report: string | undefined;
  propagate: boolean;
}

/** The settings a program may change with `configure()`. */
export interface ConfigureOptions {
  mode?: Mode;
  onFork?: OnFork;
  /** A file path, or null to stop writing a report. */
  report?: string | null;
}

/** A bad setting: the message names the setting, the value and what is accepted. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'FORKSAFE_BAD_CONFIG';
}

const MODES: readonly Mode[] = ['log', 'strict', 'off'];
const ON_FORK: readonly OnFork[] = ['disconnect', 'keep'];
const PROPAGATE = ['1', '0'] as const;

function oneOf<T extends string>(name: string, value: string, accepted: readonly T[]): T {
  if ((accepted as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(
    `${name}=${JSON.stringify(value)} is not valid; accepted values: ${accepted.join(', ')}`,
  );
}

const DEFAULTS: Config = { mode: 'log', onFork: 'disconnect', report: undefined, propagate: true };

/**
 * Reads the FORKSAFE_* variables. An empty variable counts as unset. A bad value throws
 * ConfigError; with `onBad` (a child process, which must keep running) it is handed to
 * `onBad` and the default is used instead.
 */
export function readEnv(env: NodeJS.ProcessEnv, onBad?: (err: ConfigError) => void): Config {
  const get = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const read = <T>(name: string, parse: (value: string) => T, fallback: T): T => {
    const value = get(name);
    if (value === undefined) return fallback;
    try {
      return parse(value);
    } catch (err) {
      if (!onBad || !(err instanceof ConfigError)) throw err;
      onBad(err);
      return fallback;
    }
  };
  return {
    mode: read('FORKSAFE_MODE', (v) => oneOf('FORKSAFE_MODE', v, MODES), DEFAULTS.mode),
    onFork: read('FORKSAFE_ON_FORK', (v) => oneOf('FORKSAFE_ON_FORK', v, ON_FORK), DEFAULTS.onFork),
    report: read('FORKSAFE_REPORT', (v) => resolve(v), DEFAULTS.report),
    propagate: read('FORKSAFE_PROPAGATE', (v) => oneOf('FORKSAFE_PROPAGATE', v, PROPAGATE) === '1', DEFAULTS.propagate),
  };
}

/** Validates what `configure()` was given, with the same words as for the environment. */
export function checkOptions(options: unknown): ConfigureOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError(`configure() takes an object { mode?, onFork?, report? }, got ${kindOf(options)}`);
  }
  const o = options as { [key: string]: unknown };
  for (const key of Object.keys(o)) {
    if (!['mode', 'onFork', 'report'].includes(key)) {
      throw new ConfigError(`configure(): unknown option ${JSON.stringify(key)}; accepted options: mode, onFork, report`);
    }
  }
  const out: ConfigureOptions = {};
  if (o.mode !== undefined) out.mode = oneOf('configure({ mode })', String(o.mode), MODES);
  if (o.onFork !== undefined) out.onFork = oneOf('configure({ onFork })', String(o.onFork), ON_FORK);
  if (o.report !== undefined) {
    if (o.report !== null && (typeof o.report !== 'string' || o.report === '')) {
      throw new ConfigError(`configure({ report }) takes a file path or null, got ${kindOf(o.report)}`);
    }
    out.report = o.report === null ? null : resolve(o.report);
  }
  return out;
}

/** What a bad value is, in an error message: `null`, `an array`, `"text"`, `number`. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}
