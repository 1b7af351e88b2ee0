// Sequel's Resque entry (before_fork, a fork per job), the Node way: a plain
// child_process.fork-per-job loop, and BullMQ sandboxed processors. The parent's idle
// connections are closed before each fork, its pool keeps serving between jobs, and the
// job processes run the agent (their own pools are listed with their own pid).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { pgKill, pgSessions, readReport, stepFixture, tempDir, uniqueName, waitFor } from './helpers';

const REDIS = { host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) };

async function runJobs(runner: 'fork-per-job' | 'bullmq', queue?: string) {
  const app = uniqueName(runner.replace(/-/g, '_'));
  const { dir, cleanup } = tempDir();
  const report = join(dir, 'report.jsonl');
  try {
    const run = stepFixture('libs/jobs.js', { env: { RUNNER: runner, QUEUE: queue, PGAPPNAME: app, FORKSAFE_REPORT: report }, timeoutMs: 120000 });
    const first = await run.next();
    assert.deepEqual(first.afterJob, { total: 0, idle: 0 }, "the fork closed the parent's 2 warm connections");
    assert.equal(await waitFor(() => pgSessions(app), (n) => n === 0), 0, 'the server: no idle backend left for the parent');
    run.go();
    const end = await run.done;
    assert.equal(end.code, 0, end.stderr);
    assert.equal(await waitFor(() => pgSessions(`${app}_w`), (n) => n === 0), 0, 'the jobs closed their own pools');
    const records = readReport(report);
    return { first, ...end.json, records, forks: records.filter((l) => l.type === 'fork') };
  } finally {
    cleanup();
    await pgKill(app);
    await pgKill(`${app}_w`);
  }
}

function assertJobs(r: any) {
  assert.equal(r.jobs.length, 3);
  const parent = r.forks[0].pid;
  for (const job of r.jobs) {
    assert.equal(job.warm, 2);
    assert.equal(job.serves, 1, "the parent's pool serves between jobs");
    assert.deepEqual(job.result.input, { n: job.n });
    assert.equal(job.result.ppid, parent, 'the job ran in a child of the runner');
    assert.deepEqual(job.result.databases, [{ driver: 'pg', kind: 'pool', pid: job.result.pid, total: 1 }], 'the agent runs in the job process and tracks its pool');
  }
  assert.ok(r.forks.every((f: any) => f.api === 'child_process.fork' && f.closed === 2), 'every fork closed the 2 warm connections');
  const started = new Set(r.forks.map((f: any) => f.childPid));
  assert.ok(r.jobs.every((j: any) => started.has(j.result.pid)), 'each job ran in a process whose fork the agent saw');
  assert.equal(new Set(r.jobs.map((j: any) => j.result.backend)).size, 3, 'each job used a backend of its own');
}

test('fork per job: before each of 3 forks the parent closes its idle connections; its pool serves between jobs', async () => {
  const r = await runJobs('fork-per-job');
  assertJobs(r);
  assert.equal(r.forks.length, 3, 'one fork per job');
  assert.deepEqual(r.forks.map((f: any) => f.childPid), r.jobs.map((j: any) => j.result.pid));
  assert.deepEqual(r.databases, []);
});

test('BullMQ sandboxed processor: the child it forks runs the agent; the runner closes its idle connections first and keeps its Redis connections', async () => {
  const queue = uniqueName('fsq');
  try {
    const r = await runJobs('bullmq', queue);
    assertJobs(r);
    // BullMQ keeps its child for the next jobs: one fork here, before the first job.
    assert.ok(r.forks.length >= 1);
    const redis = r.first.databases.filter((d: any) => d.driver === 'ioredis');
    assert.ok(redis.length >= 1 && redis.every((d: any) => d.kind === 'connection' && d.total === 1), "BullMQ's ioredis connections are listed");
    assert.equal(r.forks[0].kept, redis.length, 'Redis connections are not pools: kept open across the fork');
    assert.deepEqual(r.databases, [], 'closing the worker, the queue and its events ends every entry');
  } finally {
    // Whatever happened in the fixture, leave nothing of this queue in Redis.
    const q = new Queue(queue, { connection: REDIS });
    await q.obliterate({ force: true });
    await q.close();
    const redis = new Redis(REDIS);
    const left = await redis.keys(`bull:${queue}:*`);
    await redis.quit();
    assert.deepEqual(left, [], 'the queue was obliterated');
  }
});
