import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PARENT_ENV, type Config } from './config';
import { guard } from './boundary';
import { distDir } from './dist-dir';
import { manifestOf, MANIFEST_ENV } from './manifest';
import type { AtDoor } from './doors';
import { settings } from './settings';

// Children get the agent through NODE_OPTIONS, which every Node process reads whatever
// started it (fork, spawn('node'), a shell, a custom execArgv), plus the settings in force
// here (configure() included) and the manifest of the sockets let through to this child.
// What a parent passes on are defaults: a value the caller set for this one child wins.

export const registerPath = resolve(distDir, 'register.js');

const SPECIFIERS = new Set(['forksafe/register', 'forksafe/register.js', 'forksafe/dist/register.js']);

/**
 * Whether a `-r`/`--import` value names this agent. A package specifier or a relative path
 * resolves against the cwd, so a child started elsewhere (`fork({ cwd })`) would not find
 * it: such values are rewritten to the absolute path.
 */
function isOurs(value: string): boolean {
  if (SPECIFIERS.has(value)) return true;
  if (value.startsWith('file://')) return value === pathToFileURL(registerPath).href;
  return (value.startsWith('.') || value.startsWith('/')) && resolve(value) === registerPath;
}

// A RegExp is compiled when first used, at a cost the first spawn of a process would pay:
// run only for a path that has something to escape.
const quote = (path: string): string => `"${path.includes('"') || path.includes('\\') ? path.replace(/[\\"]/g, '\\$&') : path}"`;

/** NODE_OPTIONS' words that preload the agent. */
const preload = (register: string): string => `--require ${quote(register)}`;

// Made at start-up, where it costs next to nothing (the code cache holds what runs then),
// rather than at the first spawn, which pays for compiling every function it is first to run.
const PRELOAD_PAIR = `NODE_OPTIONS=${preload(registerPath)}`;

/**
 * NODE_OPTIONS with the agent preloaded by its absolute path: a relative mention of it is
 * made absolute, and `--require "<register>"` is added when it is not there at all.
 * Inside double quotes NODE_OPTIONS reads `\\` and `\"` as escapes, and nothing else
 * (https://github.com/nodejs/node/blob/v20.x/src/node_options.cc, ParseNodeOptionsEnvVar).
 */
export function withPreload(nodeOptions: string | undefined, register = registerPath): string {
  // Every spawn of a process usually passes the same NODE_OPTIONS: the last answer is kept
  // (a relative mention of the agent resolves against the cwd, so the cwd is in the key).
  const key = `${process.cwd()}\0${register}\0${nodeOptions ?? ''}`;
  if (key !== lastPreload.key) lastPreload = { key, value: rewritePreload(nodeOptions, register) };
  return lastPreload.value;
}

let lastPreload = { key: '', value: '' };

function rewritePreload(nodeOptions: string | undefined, register: string): string {
  const existing = nodeOptions?.trim() ?? '';
  if (existing === '') return preload(register);
  if (existing.includes(register) || existing.includes(quote(register).slice(1, -1))) return existing;
  let found = false;
  const rewritten = existing.replace(/(^|\s)(-r|--require|--import)(\s+|=)("?)([^\s"]+)\4(?=\s|$)/g, (all, lead: string, flag: string, sep: string, _q: string, value: string) => {
    if (!isOurs(value)) return all;
    found = true;
    return `${lead}${flag}${sep}${quote(register)}`;
  });
  return found ? rewritten : `${existing} ${preload(register)}`;
}

/** Node flags (a fork's execArgv) with a relative mention of the agent made absolute; the same array when there is none. */
export function withAbsolutePreload(flags: readonly string[]): readonly string[] {
  let out: string[] | undefined;
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    const eq = /^(--require|--import)=(.*)$/.exec(flag);
    if (eq && isOurs(eq[2]!)) (out ??= flags.slice())[i] = `${eq[1]}=${registerPath}`;
    else if ((flag === '-r' || flag === '--require' || flag === '--import') && i + 1 < flags.length && isOurs(flags[i + 1]!)) {
      (out ??= flags.slice())[i + 1] = registerPath;
      i++;
    }
  }
  return out ?? flags;
}

const VARIABLES = ['FORKSAFE_MODE', 'FORKSAFE_ON_FORK', 'FORKSAFE_PROPAGATE', 'FORKSAFE_REPORT', 'FORKSAFE_DISABLE', 'FORKSAFE_ALLOW'] as const;
type Variable = (typeof VARIABLES)[number];

/** Every variable a child's environment gets from this process, and nothing else. */
const OURS: ReadonlySet<string> = new Set<string>(['NODE_OPTIONS', ...VARIABLES, PARENT_ENV, MANIFEST_ENV]);

/** The settings in force as a child's variables. */
interface Passed {
  settings: Readonly<Config>;
  values: { readonly [name in Variable]: string | undefined };
  /** The pairs to add to an environment that has none of our variables and no manifest to carry. */
  pairs: readonly string[];
}

let passedOn: Passed | undefined;

/** Worked out again only when the settings change (configure() makes a new object). */
function settingsPassedOn(s: Readonly<Config>): Passed {
  if (passedOn?.settings === s) return passedOn;
  const values = {
    FORKSAFE_MODE: s.mode,
    FORKSAFE_ON_FORK: s.onFork,
    FORKSAFE_PROPAGATE: '1',
    FORKSAFE_REPORT: s.report,
    FORKSAFE_DISABLE: s.disable.length > 0 ? s.disable.join(',') : undefined,
    FORKSAFE_ALLOW: s.allow.length > 0 ? s.allow.join(',') : undefined,
  };
  const pairs = [PRELOAD_PAIR];
  for (const name of VARIABLES) if (values[name] !== undefined) pairs.push(`${name}=${values[name]}`);
  pairs.push(`${PARENT_ENV}=${process.pid}`);
  passedOn = { settings: s, values, pairs };
  return passedOn;
}

/**
 * What to change in a child's environment, given what the caller put there (`get`) and the
 * tracked sockets let through to it (`passed`: in its stdio, in log mode), or undefined
 * to leave it as it is: a name mapped to undefined is removed. A variable the caller set
 * to another value than this process has is the caller's choice for this child and is
 * kept; one inherited unchanged, or missing, gets the setting in force here. An
 * explicitly empty NODE_OPTIONS keeps the child free of every preload, the agent's included.
 */
function childVariables(get: (name: string) => string | undefined, passed: readonly AtDoor[], fromProcessEnv = false): Map<string, string | undefined> | undefined {
  const s = settings();
  if (!s.propagate || s.mode === 'off') return undefined;
  const ours = settingsPassedOn(s).values;
  // `v`, the caller's value, against this process's own; one read from process.env is
  // that value (each read of process.env is a C++ call: read once, and only if needed).
  const explicit = (name: string, v: string | undefined): boolean => !fromProcessEnv && v !== undefined && v !== process.env[name];
  const vars = new Map<string, string | undefined>();
  const nodeOptions = get('NODE_OPTIONS');
  if (!(explicit('NODE_OPTIONS', nodeOptions) && nodeOptions!.trim() === '')) {
    const value = withPreload(nodeOptions);
    if (value !== nodeOptions) vars.set('NODE_OPTIONS', value);
  }
  for (const name of VARIABLES) {
    const given = get(name);
    // A pair that already holds the setting in force is left where it is.
    if (given === ours[name] || explicit(name, given)) continue;
    vars.set(name, ours[name]);
  }
  vars.set(PARENT_ENV, String(process.pid));
  vars.set(MANIFEST_ENV, passed.length > 0 ? guard('manifestOf', () => manifestOf(passed), undefined) : undefined);
  return vars;
}

/**
 * For ChildProcess.prototype.spawn, whose normalised options carry `envPairs` ('K=V'
 * strings, built afresh from `options.env` or process.env by every spawn): the pairs
 * the child gets, or `envPairs` itself when there is nothing to change. `env`: the
 * caller's `options.env`, from which Node built the pairs (undefined: process.env).
 */
export function childEnvPairs(envPairs: string[], passed: readonly AtDoor[], env?: unknown): string[] {
  const s = settings();
  if (!s.propagate || s.mode === 'off') return envPairs;
  if (passed.length > 0 || namesOurs(envPairs, env)) return rewrittenPairs(envPairs, passed);
  // Usually no pair names one of our variables, and the same pairs are added.
  return envPairs.concat(settingsPassedOn(s).pairs);
}

/**
 * Whether any of the pairs may name one of our variables (a false yes only costs the slow
 * path, which acts on those names alone). The pairs are fresh strings each time, with
 * nothing to cache them by: reading each was most of what the agent cost a spawn, and one
 * native join and search is still 14 k instructions (docs/benchmarks.md). A caller's own
 * env object, from which Node made the pairs (a `for…in`, so prototype values too),
 * answers for a third of that: Node skips a name whose value is undefined, and so does
 * this. process.env is read through C++ at 2.4 k a name, so its pairs are searched instead.
 */
function namesOurs(envPairs: string[], env: unknown): boolean {
  if (env !== null && typeof env === 'object' && env !== process.env) {
    for (const name of OURS) if ((env as Record<string, unknown>)[name] !== undefined) return true;
    return false;
  }
  const all = envPairs.join('\n');
  return all.includes('NODE_OPTIONS=') || all.includes('FORKSAFE_');
}

/** The general case: the caller's pairs that name our variables are kept or replaced one by one. */
function rewrittenPairs(envPairs: string[], passed: readonly AtDoor[]): string[] {
  const given = new Map<string, string>();
  const at: number[] = [];
  for (let i = 0; i < envPairs.length; i++) {
    const pair = envPairs[i]!;
    const eq = pair.indexOf('=');
    if (eq <= 0 || !OURS.has(pair.slice(0, eq))) continue;
    at.push(i);
    if (!given.has(pair.slice(0, eq))) given.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const vars = childVariables((name) => given.get(name), passed);
  if (!vars) return envPairs;
  const kept = envPairs.slice();
  for (let j = at.length - 1; j >= 0; j--) {
    const pair = envPairs[at[j]!]!;
    if (vars.has(pair.slice(0, pair.indexOf('=')))) kept.splice(at[j]!, 1);
  }
  for (const [k, v] of vars) if (v !== undefined) kept.push(`${k}=${v}`);
  return kept;
}

/**
 * For the *Sync functions, which take the caller's `env` object (or process.env): a copy
 * with our variables, read as Node reads an env, with a `for…in` (prototype values
 * included, as the child would have had them without the agent). Object.entries dropped
 * those, and on process.env (a C++ call per property) cost more: a spawnSync 589 k → 552 k
 * instructions (docs/benchmarks.md). An object over the caller's holding only our
 * variables reads slower still in Node's `for…in`, and over process.env V8 lists a
 * shadowed name twice.
 */
export function childEnv(env: NodeJS.ProcessEnv, passed: readonly AtDoor[]): NodeJS.ProcessEnv {
  const vars = childVariables((name) => env[name], passed, env === process.env);
  if (!vars) return env;
  const out: NodeJS.ProcessEnv = {};
  for (const k in env) if (!vars.has(k)) out[k] = env[k];
  for (const [k, v] of vars) if (v !== undefined) out[k] = v;
  return out;
}
