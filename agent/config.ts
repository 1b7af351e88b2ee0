import { resolve } from 'node:path';
import { sayOnce } from './boundary';

export type Mode = 'log' | 'strict' | 'off';
export type OnFork = 'disconnect' | 'keep';

export interface Config {
  mode: Mode;
  onFork: OnFork;
  /** Absolute path of the JSON Lines report, or undefined for none. */
  report: string | undefined;
  propagate: boolean;
  /** Integrations left unpatched (FORKSAFE_DISABLE), by the names the patches declare. */
  disable: readonly string[];
  /** Packages and `host:port` targets whose client sockets may be handed over (FORKSAFE_ALLOW). */
  allow: readonly string[];
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

export const DEFAULTS: Readonly<Config> = { mode: 'log', onFork: 'disconnect', report: undefined, propagate: true, disable: [], allow: [] };

const PACKAGE_NAME = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i;
const TARGET = /^(\[[0-9a-f:.]+\]|[\w.-]+):\d{1,5}$/i;

/** FORKSAFE_ALLOW: npm package names and `host:port` targets, comma-separated. */
function allowList(value: string): string[] {
  const items = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const bad = items.filter((n) => !PACKAGE_NAME.test(n) && !TARGET.test(n));
  if (bad.length > 0) {
    throw new ConfigError(`FORKSAFE_ALLOW=${JSON.stringify(value)} has ${bad.map((n) => JSON.stringify(n)).join(', ')}, which is neither a package name nor host:port; accepted: a comma-separated list of npm package names (amqplib, @scope/name) and host:port targets (127.0.0.1:5672)`);
  }
  return [...new Set(items)];
}

/** A comma-separated list of names, each one of `accepted`. */
function namesOf(name: string, value: string, accepted: readonly string[]): string[] {
  const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const unknown = names.filter((n) => !accepted.includes(n));
  if (unknown.length > 0) {
    throw new ConfigError(`${name}=${JSON.stringify(value)} names ${unknown.map((n) => JSON.stringify(n)).join(', ')}, which forksafe does not patch; accepted: a comma-separated list of ${accepted.join(', ')}`);
  }
  return [...new Set(names)];
}

/**
 * Reads the FORKSAFE_* variables (`integrations`: the names FORKSAFE_DISABLE accepts;
 * undefined in off mode, where nothing is patched and the names are not checked).
 * An empty variable counts as unset. A bad value throws
 * ConfigError; with `onBad` (a child process, which must keep running) it is handed to
 * `onBad` and the default is used instead.
 */
export function readEnv(env: NodeJS.ProcessEnv, integrations: readonly string[] | undefined, onBad?: (err: ConfigError) => void): Config {
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
    allow: read('FORKSAFE_ALLOW', allowList, DEFAULTS.allow),
    disable: read('FORKSAFE_DISABLE', (v) => (integrations ? namesOf('FORKSAFE_DISABLE', v, integrations) : v.split(',')), DEFAULTS.disable),
  };
}

/** Set in every child the agent reaches: the pid of the process that passed the settings on. */
export const PARENT_ENV = 'FORKSAFE_PARENT';

/**
 * The settings of this process's environment. Only the first process of a tree stops on a
 * bad one, before the application runs: one stderr line, exit 9 (Node's own code for a bad
 * argument). A child got its settings from its parent (or has its own explicit ones): it
 * says what is wrong once and uses the default instead.
 */
export function configFromEnvironment(integrations?: readonly string[]): Config {
  const child = process.env[PARENT_ENV] !== undefined;
  try {
    return readEnv(process.env, integrations, child ? (err) => sayOnce(err.message, `${err.message}; this child process uses the default instead`) : undefined);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return exitBadConfig(err);
  }
}

/** Stops the first process of a tree on a bad setting, before the application runs. */
export function exitBadConfig(err: ConfigError): never {
  process.stderr.write(`forksafe: ${err.message}\n`);
  process.exit(9);
}

/** Whether this process's settings came from a parent running the agent. */
export function isChild(): boolean {
  return process.env[PARENT_ENV] !== undefined;
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
