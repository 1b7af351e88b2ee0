// Sequel's Parallel in_processes entry, the Node way: pools of worker processes
// (workerpool with workerType 'process', tinypool with runtime 'child_process', jest-worker
// with child processes). The parent's idle connections are closed before the workers are
// forked, and the workers run the agent (Passenger's starting_worker_process / Spring's
// after_fork, done for you): each lists its own pool with its own pid, and checks itself at
// start-up for its parent's connections, reporting to the same file.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pgKill, pgSessions, readReport, stepFixture, tempDir, uniqueName, waitFor } from './helpers';

async function runPool(lib: string, env: NodeJS.ProcessEnv = {}) {
  const app = uniqueName(lib.replace(/-/g, '_'));
  const { dir, cleanup } = tempDir();
  const report = join(dir, 'report.jsonl');
  try {
    const run = stepFixture('libs/process-pool.js', { env: { LIB: lib, PGAPPNAME: app, FORKSAFE_REPORT: report, ...env } });
    const done = await run.next();
    const parentSessions = await waitFor(() => pgSessions(app), (n) => n === done.parent.total);
    run.go();
    const end = await run.done;
    assert.equal(end.code, 0, end.stderr);
    assert.equal(await waitFor(() => pgSessions(`${app}_w`), (n) => n === 0), 0, 'the tasks closed their pools');
    assert.equal(await waitFor(() => pgSessions(app), (n) => n === 0), 0, 'the parent closed its pool');
    const records = readReport(report);
    return { done, parentSessions, ...end.json, records, forks: records.filter((l) => l.type === 'fork'), stderr: end.stderr };
  } finally {
    cleanup();
    await pgKill(app);
    await pgKill(`${app}_w`);
  }
}

for (const lib of ['workerpool', 'tinypool', 'jest-worker']) {
  test(`${lib}: forking its worker processes closes the parent's idle connections; the workers run the agent`, async () => {
    const r = await runPool(lib);
    assert.equal(r.done.warm, 3);
    assert.deepEqual(r.done.parent, { total: 0, idle: 0 }, 'the first fork closed the 3 warm connections');
    assert.equal(r.parentSessions, 0, 'the server: no backend left for the parent');
    assert.equal(r.serves, 1, "the parent's pool serves after the workers ran");
    assert.deepEqual(r.forks.map((f: any) => [f.api, f.closed]), [
      ['child_process.fork', 3],
      ['child_process.fork', 0],
    ]);
    const parent = r.forks[0].pid;
    const started = new Set(r.forks.map((f: any) => f.childPid));
    assert.equal(r.results.length, 4);
    for (const task of r.results) {
      assert.equal(task.ppid, parent);
      assert.ok(started.has(task.pid), 'the task ran in a worker whose fork the agent saw');
      assert.deepEqual(task.databases, [{ driver: 'pg', kind: 'pool', pid: task.pid, total: 1 }], 'the agent runs in the worker and tracks its pool');
    }
    assert.equal(r.records.filter((l: any) => l.type === 'violation').length, 0, 'no false alarm');
  });
}

test("jest-worker given a parent's connection in forkOptions.stdio: the parent records stdio-inherit, each worker finds it at start-up", async () => {
  const r = await runPool('jest-worker', { LEAK: '1' });
  assert.equal(r.results.length, 4, 'the tasks still ran');
  const parent = r.forks[0].pid;
  const violations = r.records.filter((l: any) => l.type === 'violation');
  const workers = r.forks.map((f: any) => f.childPid).sort();
  const fromParent = violations.filter((v: any) => v.pid === parent);
  assert.deepEqual(fromParent.map((v: any) => [v.kind, v.api, v.driver]), [
    ['stdio-inherit', 'child_process.fork', 'pg'],
    ['stdio-inherit', 'child_process.fork', 'pg'],
  ]);
  const fromWorkers = violations.filter((v: any) => v.pid !== parent);
  assert.deepEqual(fromWorkers.map((v: any) => v.pid).sort(), workers, 'each worker checked itself at start-up and reported to the same file');
  for (const v of fromWorkers) {
    assert.equal(v.kind, 'inherited-socket');
    assert.equal(v.ppid, parent);
    assert.equal(v.target, fromParent[0].target);
    assert.deepEqual(v.socket, fromParent[0].socket, 'the same connection, seen from both sides');
  }
});
