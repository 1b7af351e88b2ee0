// A small project in a temp folder for a real test runner (Vitest, Mocha) and one run of it
// under the agent, as a user would start it: `forksafe run --strict -- <runner>`, or
// FORKSAFE_MODE=strict with the preload in NODE_OPTIONS. Shared by test/runners-vitest.test.ts
// and test/runners-mocha.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgKill, pgSessions, readReport, REGISTER, ROOT, tempDir, waitFor } from './helpers';
import { serverEnv } from './servers';

const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export type Launch = 'forksafe run --strict' | 'NODE_OPTIONS';
export const LAUNCHES: Launch[] = ['forksafe run --strict', 'NODE_OPTIONS'];

/** The fixture files, and a node_modules of links to the fixture app's packages and to this forksafe. */
export function project(app: string, fixtures: string, files: string[]): { dir: string; cleanup: () => void } {
  const t = tempDir();
  const modules = join(ROOT, 'test', 'apps', app, 'node_modules');
  mkdirSync(join(t.dir, 'node_modules'));
  for (const name of readdirSync(modules)) symlinkSync(join(modules, name), join(t.dir, 'node_modules', name));
  symlinkSync(ROOT, join(t.dir, 'node_modules', 'forksafe'));
  // No config of the runner's: its defaults, and only command-line flags.
  writeFileSync(join(t.dir, 'package.json'), JSON.stringify({ name: 'runner-project', private: true }));
  for (const f of files) copyFileSync(join(fixtures, f), join(t.dir, f));
  return t;
}

export interface RunnerRun {
  code: number | null;
  output: string;
  report: any[];
  /** The pid of the process this test spawned (the runner itself, or `forksafe run`). */
  pid: number;
}

/** Runs `node <bin> ...args` in the project, under the agent in strict mode. */
export function runUnderAgent(dir: string, launch: Launch, bin: string, args: string[], appName: string): Promise<RunnerRun> {
  const report = join(dir, 'report.jsonl');
  // The outer node:test sets NODE_TEST_CONTEXT; the runner spawned here is a run of its own.
  const { NODE_TEST_CONTEXT: _, FORKSAFE_MODE: _m, FORKSAFE_REPORT: _r, ...outer } = process.env;
  const env: NodeJS.ProcessEnv = { ...outer, ...serverEnv(), PGAPPNAME: appName, NODE_OPTIONS: '', CI: 'true', FORCE_COLOR: '0', NO_COLOR: '1' };
  let argv: string[];
  if (launch === 'NODE_OPTIONS') {
    Object.assign(env, { NODE_OPTIONS: `-r ${REGISTER}`, FORKSAFE_MODE: 'strict', FORKSAFE_REPORT: report });
    argv = [bin, ...args];
  } else {
    argv = [CLI, 'run', '--strict', '--report', report, '--', process.execPath, bin, ...args];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`runner timed out\n${output}`));
    }, 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, report: readReport(report), pid: child.pid! });
    });
  });
}

export async function noSessionsLeft(appName: string): Promise<void> {
  const left = await waitFor(() => pgSessions(appName), (n) => n === 0);
  if (left !== 0) await pgKill(appName);
  assert.equal(left, 0, `pg sessions left by ${appName}`);
}
