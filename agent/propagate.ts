import { join } from 'node:path';
import { guard } from './debug';
import { distDir } from './dist-dir';
import { buildManifest, MANIFEST_ENV } from './doors';
import { settings } from './settings';

// Children get the agent through NODE_OPTIONS, which every Node process reads whatever
// started it (fork, spawn('node'), a shell, a custom execArgv), plus the settings in force
// here (configure() included) and the manifest of this process's database sockets.

export const registerPath = join(distDir, 'register.js');

/**
 * NODE_OPTIONS with `--require "<register>"` added, unless the agent is already there.
 * Inside double quotes NODE_OPTIONS reads `\\` and `\"` as escapes, and nothing else.
 */
export function withPreload(nodeOptions: string | undefined, register = registerPath): string {
  const existing = nodeOptions?.trim() ?? '';
  const quoted = register.replace(/[\\"]/g, '\\$&');
  if (existing.includes(register) || existing.includes(quoted) || existing.includes('forksafe/register')) return existing;
  const preload = `--require "${quoted}"`;
  return existing === '' ? preload : `${existing} ${preload}`;
}

/** The variables to set in a child's environment, or undefined to leave it as it is. */
function childVariables(nodeOptions: string | undefined): Record<string, string> | undefined {
  const s = settings();
  if (!s.propagate || s.mode === 'off') return undefined;
  const vars: Record<string, string> = {
    NODE_OPTIONS: withPreload(nodeOptions),
    FORKSAFE_MODE: s.mode,
    FORKSAFE_ON_FORK: s.onFork,
    FORKSAFE_PROPAGATE: '1',
  };
  if (s.report !== undefined) vars.FORKSAFE_REPORT = s.report;
  const manifest = guard('buildManifest', buildManifest, undefined);
  if (manifest !== undefined) vars[MANIFEST_ENV] = manifest;
  return vars;
}

const OURS = new Set(['NODE_OPTIONS', 'FORKSAFE_MODE', 'FORKSAFE_ON_FORK', 'FORKSAFE_PROPAGATE', 'FORKSAFE_REPORT', MANIFEST_ENV]);

/** For ChildProcess.prototype.spawn, whose normalised options carry `envPairs` ('K=V' strings). */
export function childEnvPairs(envPairs: string[]): string[] {
  const nodeOptions = envPairs.find((p) => p.startsWith('NODE_OPTIONS='))?.slice('NODE_OPTIONS='.length);
  const vars = childVariables(nodeOptions);
  if (!vars) return envPairs;
  const kept = envPairs.filter((p) => !OURS.has(p.slice(0, p.indexOf('='))));
  return kept.concat(Object.entries(vars).map(([k, v]) => `${k}=${v}`));
}

/** For the *Sync functions, which take the caller's `env` object (or process.env). */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const vars = childVariables(env.NODE_OPTIONS);
  if (!vars) return env;
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!OURS.has(k)) out[k] = v;
  return Object.assign(out, vars);
}
