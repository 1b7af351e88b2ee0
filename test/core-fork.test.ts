// The pre-fork step: just before every cluster.fork() and child_process.fork(), once per
// fork, the registry-wide idle disconnect; proven by the server's count of backends.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, mysqlUser, pgKill, pgSessions, readReport, REGISTER, runFixture, stepFixture, tempDir, uniqueName } from './helpers';

async function primary(env: NodeJS.ProcessEnv, nodeArgs?: string[]) {
  const app = uniqueName('fork');
  const { dir, cleanup } = tempDir();
  const report = join(dir, 'report.jsonl');
  try {
    const run = await runFixture('core/cluster-primary.js', { env: { PGAPPNAME: app, FORKSAFE_REPORT: report, ...env }, nodeArgs });
    assert.equal(run.code, 0, run.stderr);
    return { ...run.json, forks: readReport(report).filter((r) => r.type === 'fork'), stderr: run.stderr };
  } finally {
    cleanup();
    await pgKill(app);
    await pgKill(`${app}_w`);
  }
}

for (const api of ['cluster', 'child_process'] as const) {
  test(`${api}.fork: a primary with 10 warm connections holds none idle after forking 4 workers`, async () => {
    const r = await primary({ FORK_API: api });
    assert.deepEqual(r.before, { total: 10, idle: 10 });
    assert.deepEqual(r.after, { total: 0, idle: 0 }, 'the first fork closed every idle connection');
    assert.equal(r.stillServes, 1, 'the pool reconnects for its next query');
    assert.deepEqual(r.afterQuery, { total: 1, idle: 1 });
    assert.equal(r.replies.length, 4);
    for (const w of r.replies) {
      assert.equal(typeof w.backend, 'number', 'each worker ran a query on its own pool');
      assert.equal(w.databases.length, 1, 'the worker runs the agent too and tracks its own pool');
    }
    assert.equal(r.forks.length, 4, 'one fork record per fork, not two when cluster.fork goes through child_process.fork');
    assert.ok(r.forks.every((f: any) => f.api === `${api}.fork` && typeof f.childPid === 'number'));
    assert.deepEqual(r.forks.map((f: any) => f.closed), [10, 0, 0, 0]);
    assert.ok(r.forks.every((f: any) => typeof f.ms === 'number' && f.pools === 1));
  });
}

test('counted by the server: the primary holds 0 backends after the forks; each worker used its own', async () => {
  const app = uniqueName('forksrv');
  try {
    const run = stepFixture('core/cluster-primary.js', { env: { PGAPPNAME: app, FORK_API: 'cluster', STEP: '1' } });
    const forked = await run.next();
    assert.deepEqual(forked.after, { total: 0, idle: 0 });
    assert.equal(await pgSessions(app), 0, "the primary holds no backend after the forks");
    run.go();
    const end = await run.done;
    assert.equal(end.code, 0, end.stderr);
    assert.equal(new Set(end.json.replies.map((w: any) => w.backend)).size, 4, 'each worker used a backend of its own');
  } finally {
    await pgKill(app);
    await pgKill(`${app}_w`);
  }
});

test('cluster loaded before the agent: still one disconnect per fork', async () => {
  const r = await primary({ FORK_API: 'cluster' }, ['-r', join(FIXTURES, 'core', 'load-cluster-first.js'), '-r', REGISTER]);
  assert.deepEqual(r.after, { total: 0, idle: 0 });
  assert.equal(r.forks.length, 4);
  assert.ok(r.forks.every((f: any) => f.api === 'cluster.fork'));
});

test('FORKSAFE_ON_FORK=keep: nothing is closed before forks, and the forks are still recorded', async () => {
  const r = await primary({ FORK_API: 'cluster', FORKSAFE_ON_FORK: 'keep' });
  assert.deepEqual(r.after, { total: 10, idle: 10 });
  assert.equal(r.forks.length, 4);
  assert.ok(r.forks.every((f: any) => f.closed === 0 && f.onFork === 'keep'));
});

test('NODE_DEBUG=forksafe: one line per patch, one per pre-fork disconnect', async () => {
  const r = await primary({ FORK_API: 'cluster', NODE_DEBUG: 'forksafe', WORKERS: '2' });
  const own = r.stderr.split('\n').filter((l: string) => l.startsWith('FORKSAFE '));
  const primaryPid = own.map((l: string) => l.split(' ')[1]).find(() => true);
  const mine = own.filter((l: string) => l.startsWith(`FORKSAFE ${primaryPid}`));
  assert.equal(mine.filter((l: string) => / patched child_process$/.test(l)).length, 1);
  assert.equal(mine.filter((l: string) => / patched cluster$/.test(l)).length, 1);
  assert.equal(mine.filter((l: string) => / patched pg-pool\/index\.js 3\./.test(l)).length, 1);
  const pre = mine.filter((l: string) => / before cluster\.fork: /.test(l));
  assert.equal(pre.length, 2);
  assert.match(pre[0], /before cluster\.fork: 1 pools, 10 closed, 0 kept, [\d.]+ ms/);
});

for (const api of ['cluster', 'child_process'] as const) {
  test(`ESM app (import pg, mysql2/promise, node:cluster, node:child_process): ${api} fork disconnects both pools`, async () => {
    const my = await mysqlUser();
    const app = uniqueName('esm');
    try {
      for (const nodeArgs of [['--import', REGISTER], ['-r', REGISTER]]) {
        const run = await runFixture('core/cluster-primary.mjs', { env: { PGAPPNAME: app, FORK_API: api, MYSQL_USER: my.user, MYSQL_PASSWORD: '' }, nodeArgs });
        assert.equal(run.code, 0, run.stderr);
        const idle = (list: any[]) => list.map((d) => `${d.driver}:${d.idle}`).sort();
        assert.deepEqual(idle(run.json.before), ['mysql2:3', 'pg:4']);
        assert.deepEqual(idle(run.json.after), ['mysql2:0', 'pg:0']);
        assert.deepEqual(run.json.reply.databases, [], 'the worker runs the agent and has opened nothing');
      }
    } finally {
      await pgKill(app);
      await my.drop();
    }
  });
}
