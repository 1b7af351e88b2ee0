// "Whatever loaded first": libraries that fork, required before the agent (a -r preload of
// their own ahead of forksafe's), still get the pre-fork step and the agent in their children.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, pgKill, pgSessions, readReport, REGISTER, runFixture, stepFixture, tempDir, uniqueName, waitFor } from './helpers';

test('workerpool and jest-worker loaded before the agent: the forks of their workers still close the idle connections first', async () => {
  for (const lib of ['workerpool', 'jest-worker']) {
    const app = uniqueName('order');
    const { dir, cleanup } = tempDir();
    const report = join(dir, 'report.jsonl');
    try {
      const run = stepFixture('libs/process-pool.js', {
        nodeArgs: ['-r', join(FIXTURES, 'libs', 'preload-libs.js'), '-r', REGISTER],
        env: { LIB: lib, PGAPPNAME: app, FORKSAFE_REPORT: report },
      });
      const done = await run.next();
      assert.deepEqual(done.parent, { total: 0, idle: 0 }, lib);
      assert.equal(await waitFor(() => pgSessions(app), (n) => n === 0), 0);
      run.go();
      const end = await run.done;
      assert.equal(end.code, 0, end.stderr);
      assert.ok(end.json.results.every((t: any) => t.databases.length === 1 && t.databases[0].pid === t.pid), `${lib}: the agent runs in the workers`);
      assert.deepEqual(readReport(report).filter((l) => l.type === 'fork').map((f) => f.closed), [3, 0]);
    } finally {
      cleanup();
      await pgKill(app);
      await pgKill(`${app}_w`);
    }
  }
});

test(
  'a library that bound child_process.fork before the agent loaded: its fork still closes the idle connections first',
  async () => {
    const app = uniqueName('captured');
    const { dir, cleanup } = tempDir();
    const report = join(dir, 'report.jsonl');
    try {
      const run = await runFixture('libs/load-order.js', {
        nodeArgs: ['-r', join(FIXTURES, 'libs', 'captured-fork.js'), '-r', REGISTER],
        env: { PGAPPNAME: app, FORKSAFE_REPORT: report },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.json.job.databases, [{ driver: 'pg', kind: 'pool', pid: run.json.job.pid, total: 1 }], 'the agent runs in the job (through NODE_OPTIONS, set at spawn)');
      assert.deepEqual(run.json.afterJob, { total: 0, idle: 0 }, 'the fork closed the 2 idle connections');
      assert.deepEqual(readReport(report).filter((l) => l.type === 'fork').map((f) => [f.api, f.closed]), [['child_process.fork', 2]]);
    } finally {
      cleanup();
      await pgKill(app);
      await pgKill(`${app}_w`);
    }
  },
);
