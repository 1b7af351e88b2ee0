// Strict mode under node's own test runner, with no configuration: `forksafe run --strict --
// node --test`, with and without --test-concurrency (each file then runs in a child).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { pgKill, readReport, ROOT, tempDir, uniqueName } from './helpers';
import { nodeTestOutput } from './node-versions';
import { serverEnv } from './servers';

const file = join(__dirname, 'fixtures', 'node-test', 'violating.test.js');

const { failedTest, counts, forkSafetyError } = nodeTestOutput();

function forksafeRun(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    // Without the runner's own NODE_TEST_CONTEXT: the inner `node --test` is a run of its own.
    const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'run', ...args], { cwd: ROOT, env: { ...outer, ...serverEnv(), NODE_OPTIONS: '', ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

for (const concurrency of [[], ['--test-concurrency=2']]) {
  test(`node --test ${concurrency.join(' ')}: the violating test fails with ForkSafetyError at its line, the others pass, the run exits non-zero`, async () => {
    const appName = uniqueName('nodetest');
    const { dir, cleanup } = tempDir();
    try {
      const report = join(dir, 'r.jsonl');
      const run = await forksafeRun(['--strict', '--report', report, '--', process.execPath, '--test', ...concurrency, file], { PGAPPNAME: appName });
      assert.notEqual(run.code, 0, run.out);
      assert.match(run.out, failedTest('hands a pooled socket to a child'));
      assert.match(run.out, forkSafetyError);
      assert.match(run.out, counts(2, 1));
      const violations = readReport(report).filter((r) => r.type === 'violation');
      assert.equal(violations.length, 1, run.out);
      assert.equal(violations[0].kind, 'handle-transfer');
      assert.match(violations[0].site, /test\/fixtures\/node-test\/violating\.test\.js:20:\d+$/);
    } finally {
      cleanup();
      await pgKill(appName);
    }
  });
}

test('node --test: a violation in a child process of a test (a worker that sends a socket onward) fails that test, and the report names the worker', async () => {
  const appName = uniqueName('nodetest');
  const { dir, cleanup } = tempDir();
  try {
    const report = join(dir, 'r.jsonl');
    const run = await forksafeRun(['--strict', '--report', report, '--', process.execPath, '--test', join(__dirname, 'fixtures', 'node-test', 'child-violates.test.js')], { PGAPPNAME: appName });
    assert.notEqual(run.code, 0, run.out);
    assert.match(run.out, failedTest('forks a worker that hands a socket onward'));
    assert.match(run.out, /ForkSafetyError: A connection's socket was handed to another process/, "the worker's own error, on its stderr");
    const [violation, ...more] = readReport(report).filter((r) => r.type === 'violation');
    assert.deepEqual(more, []);
    assert.equal(violation.kind, 'handle-transfer');
    assert.match(violation.site, /test\/fixtures\/node-test\/worker\.js:12:\d+$/);
    const forks = readReport(report).filter((r) => r.type === 'fork');
    assert.ok(forks.some((f) => f.childPid === violation.pid), 'the violation is the forked worker\'s');
  } finally {
    cleanup();
    await pgKill(appName);
  }
});
