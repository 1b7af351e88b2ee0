// Jest under the agent, with no change to Jest's config: the real Jest 29 and 30
// (test/apps/jest-*), on small projects in temp folders, against the real PostgreSQL and
// MariaDB. Jest runs every module of a test file in a sandbox of its own (vm contexts, a
// module registry per file); these tests prove from outside, through Jest's exit code, its
// output and the report, that strict mode fails the violating test there and only there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, pgKill, pgSessions, readReport, REGISTER, ROOT, tempDir, uniqueName, waitFor } from './helpers';
import { serverEnv } from './servers';

const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const JEST_FIXTURES = join(FIXTURES, 'jest');
const VERSIONS = ['29', '30'] as const;
type Launch = 'forksafe run --strict' | 'NODE_OPTIONS';

// The violating line of the fixture, as Jest prints it (source-mapped).
const SITE_LINE = readFileSync(join(JEST_FIXTURES, 'violating.test.js'), 'utf8').split('\n').findIndex((l) => l.includes('VIOLATION-SITE')) + 1;

/** A Jest project: the fixture files, and a node_modules of links to the fixture app's packages and to this forksafe. */
function project(version: string, files: string[]): { dir: string; cleanup: () => void } {
  const t = tempDir();
  const modules = join(ROOT, 'test', 'apps', `jest-${version}`, 'node_modules');
  mkdirSync(join(t.dir, 'node_modules'));
  for (const name of readdirSync(modules)) symlinkSync(join(modules, name), join(t.dir, 'node_modules', name));
  symlinkSync(ROOT, join(t.dir, 'node_modules', 'forksafe'));
  // No "jest" key: Jest's default config.
  writeFileSync(join(t.dir, 'package.json'), JSON.stringify({ name: 'jest-project', private: true }));
  for (const f of [...files, 'child.js']) copyFileSync(join(JEST_FIXTURES, f), join(t.dir, f));
  return t;
}

interface JestRun {
  code: number | null;
  output: string;
  report: any[];
  /** The pid of the process this test spawned (Jest itself, or `forksafe run`). */
  pid: number;
}

function runJest(dir: string, launch: Launch, jestArgs: string[], appName: string, mode = 'strict'): Promise<JestRun> {
  const jest = join(dir, 'node_modules', 'jest', 'bin', 'jest.js');
  const report = join(dir, 'report.jsonl');
  const env: NodeJS.ProcessEnv = { ...process.env, ...serverEnv(), PGAPPNAME: appName, NODE_OPTIONS: '', CI: 'true', FORCE_COLOR: '0' };
  delete env.FORKSAFE_MODE;
  delete env.FORKSAFE_REPORT;
  let args: string[];
  if (launch === 'NODE_OPTIONS') {
    Object.assign(env, { NODE_OPTIONS: `-r ${REGISTER}`, FORKSAFE_MODE: mode, FORKSAFE_REPORT: report });
    args = [jest, ...jestArgs];
  } else {
    args = [CLI, 'run', '--strict', '--report', report, '--', process.execPath, jest, ...jestArgs];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`jest timed out\n${output}`));
    }, 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, report: readReport(report), pid: child.pid! });
    });
  });
}

async function noSessionsLeft(appName: string): Promise<void> {
  const left = await waitFor(() => pgSessions(appName), (n) => n === 0);
  if (left !== 0) await pgKill(appName);
  assert.equal(left, 0, `pg sessions left by ${appName}`);
}

for (const version of VERSIONS) {
  for (const launch of ['forksafe run --strict', 'NODE_OPTIONS'] as const) {
    for (const inBand of [false, true]) {
      // Jest runs in band by itself on a machine of 2 CPUs (maxWorkers = CPUs - 1): the flag
      // makes its default, workers in child processes, happen here too.
      const mode = inBand ? '--runInBand' : 'workers (--maxWorkers=2)';
      test(`Jest ${version}, ${launch}, ${mode}: the violating test fails with ForkSafetyError, the rest pass, the report names the test`, async () => {
        const p = project(version, ['violating.test.js', 'clean.test.js', 'tracked.test.js']);
        const app = uniqueName('fsjest');
        try {
          const run = await runJest(p.dir, launch, inBand ? ['--runInBand'] : ['--maxWorkers=2'], app);
          assert.notEqual(run.code, 0, run.output);
          // Jest's own failure output: the error, at the test file's line.
          // Jest's own failure output: the one failing test, its error, at the test file's line.
          assert.deepEqual(run.output.match(/● .*/g)?.filter((h) => h !== '● Console'), ['● hands a pooled socket to a child'], run.output);
          assert.match(run.output, /ForkSafetyError: A connection's socket was handed to another process: pg connection/, run.output);
          assert.match(run.output, new RegExp(`at .*\\(violating\\.test\\.js:${SITE_LINE}:\\d+\\)`), run.output);
          // The file's other tests, and the other files (tracked: this file's pg and mysql2 seen in the sandbox), pass.
          assert.match(run.output, /PASS \.\/tracked\.test\.js/);
          assert.match(run.output, /PASS \.\/clean\.test\.js/);
          assert.match(run.output, /Tests:\s+1 failed, 5 passed, 6 total/);
          // One violation, the violating file's: the clean file adds none.
          const violations = run.report.filter((r) => r.type === 'violation');
          assert.equal(violations.length, 1, JSON.stringify(run.report));
          const [v] = violations;
          const file = join(p.dir, 'violating.test.js');
          assert.equal(v.kind, 'handle-transfer');
          assert.equal(v.driver, 'pg');
          // The source line, not the line of babel-jest's output (mapped by Jest's own source map).
          assert.match(v.site.slice(file.length), new RegExp(`^:${SITE_LINE}:\\d+$`), v.site);
          assert.ok(v.site.startsWith(file), v.site);
          assert.ok(v.message.includes(`at ${v.site};`), v.message);
          assert.deepEqual(v.test, { file, name: 'hands a pooled socket to a child' });
          // In band the test ran in Jest's own process; otherwise in one of its workers.
          const jestPid = launch === 'NODE_OPTIONS' ? v.pid === run.pid : v.ppid === run.pid;
          assert.equal(jestPid, inBand, `violation pid ${v.pid} ppid ${v.ppid}, spawned ${run.pid}`);
          if (launch === 'forksafe run --strict') {
            assert.match(run.output, /1 violation/);
            // The summary groups the violations by the test that was running.
            assert.match(run.output, /\nby test\n {2}1 {2}\S*violating\.test\.js › hands a pooled socket to a child {2}handle-transfer\n/, run.output);
          }
        } finally {
          p.cleanup();
          await noSessionsLeft(app);
        }
      });
    }
  }

  test(`Jest ${version}: setupFiles: ['forksafe/strict'] makes a log-mode agent strict for the test run`, async () => {
    const p = project(version, ['violating.test.js']);
    const app = uniqueName('fsjest');
    try {
      // The agent runs in log mode (FORKSAFE_MODE=log): only the setup file can make it strict.
      writeFileSync(join(p.dir, 'package.json'), JSON.stringify({ name: 'jest-project', private: true, jest: { setupFiles: ['forksafe/strict'] } }));
      const strict = await runJest(p.dir, 'NODE_OPTIONS', ['--runInBand'], app, 'log');
      assert.notEqual(strict.code, 0, strict.output);
      assert.match(strict.output, /ForkSafetyError: A connection's socket was handed to another process/);
      assert.deepEqual(strict.report.filter((r) => r.type === 'violation').map((r) => r.mode), ['strict']);
    } finally {
      p.cleanup();
      await noSessionsLeft(app);
    }
  });

  test(`Jest ${version}, forksafe run --strict: a clean file passes with zero violations`, async () => {
    const p = project(version, ['clean.test.js']);
    const app = uniqueName('fsjest');
    try {
      const run = await runJest(p.dir, 'forksafe run --strict', [], app);
      assert.equal(run.code, 0, run.output);
      assert.match(run.output, /Tests:\s+2 passed, 2 total/);
      assert.deepEqual(run.report.filter((r) => r.type === 'violation'), []);
      assert.match(run.output, /no violations/);
    } finally {
      p.cleanup();
      await noSessionsLeft(app);
    }
  });
}
