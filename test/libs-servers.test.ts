// Sequel's Puma (clustered) and Unicorn (preload_app) entries, the Node way: a primary that
// loads the app and warms its pool, then forks workers with `cluster` or with `throng`.
// Counted by the server: no idle backend is left in the primary after the forks, the
// workers serve queries from pools of their own, and a worker restarted after a crash gets
// the same treatment.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pgKill, pgSessions, readReport, stepFixture, tempDir, uniqueName, waitFor } from './helpers';

for (const lib of ['cluster', 'throng'] as const) {
  test(`${lib}: the primary holds no idle backend after forking its workers, nor after restarting one that crashed`, async () => {
    const app = uniqueName(lib);
    const { dir, cleanup } = tempDir();
    const report = join(dir, 'report.jsonl');
    try {
      const run = stepFixture('libs/server.js', { env: { LIB: lib, PGAPPNAME: app, FORKSAFE_REPORT: report } });

      const forked = await run.next();
      assert.deepEqual(forked.primary, { total: 0, idle: 0 }, 'the first fork closed the 5 warm connections');
      assert.equal(await waitFor(() => pgSessions(app), (n) => n === 0), 0, 'the server: no backend left for the primary');
      assert.equal(await waitFor(() => pgSessions(`${app}_w`), (n) => n === 2), 2, 'the server: one backend per worker');
      for (const w of forked.workers) {
        assert.deepEqual(w.databases, [{ driver: 'pg', kind: 'pool', pid: w.pid, total: 1 }], 'the agent runs in the worker and tracks its own pool');
      }
      run.go();

      const restarted = await run.next();
      assert.equal(restarted.primaryServes, 1, 'the primary reconnects for its next query');
      assert.deepEqual(restarted.beforeCrash, { total: 1, idle: 1 });
      assert.deepEqual(restarted.primary, { total: 0, idle: 0 }, "the restart's fork closed the primary's idle connection too");
      assert.equal(await waitFor(() => pgSessions(app), (n) => n === 0), 0);
      assert.equal(restarted.answers.length, 2);
      assert.equal(new Set(restarted.answers.map((a: any) => a.backend)).size, 2, 'each worker serves from a backend of its own');
      assert.deepEqual(restarted.replacement.databases, [{ driver: 'pg', kind: 'pool', pid: restarted.replacement.pid, total: 1 }]);
      assert.equal(await waitFor(() => pgSessions(`${app}_w`), (n) => n === 2), 2, "the crashed worker's backend is gone, the replacement has its own");
      run.go();

      const end = await run.done;
      assert.equal(end.code, 0, end.stderr);
      const forks = readReport(report).filter((l) => l.type === 'fork');
      assert.deepEqual(forks.map((f) => [f.api, f.closed, f.kept]), [
        ['cluster.fork', 5, 0],
        ['cluster.fork', 0, 0],
        ['cluster.fork', 1, 0],
      ]);
      const workerPids = [...forked.workers.map((w: any) => w.pid), restarted.replacement.pid].sort();
      assert.deepEqual(forks.map((f) => f.childPid).sort(), workerPids, 'one fork record per worker the primary started');
      assert.equal(await waitFor(() => pgSessions(`${app}_w`), (n) => n === 0), 0, 'the workers closed their pools on the way out');
    } finally {
      cleanup();
      await pgKill(app);
      await pgKill(`${app}_w`);
    }
  });
}
