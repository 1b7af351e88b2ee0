// mariadb 3 at its lower bound and latest (test/apps/mariadb-*), promise API and
// mariadb/callback, in fresh processes against the real MariaDB: what the registry lists,
// what disconnectAll() closes (counted in the server's processlist, by a user of the test's
// own), that the server saw a proper goodbye, and every door in strict and log mode.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { mysqlUser, readReport, runFixture, stepFixture, tempDir, waitFor } from './helpers';
import { satisfies } from '../agent/versions';
import { mariadbPatches } from '../patches/mariadb';
import { SUPPORTED } from '../patches/supported';
import { abortedFor, sessionIds } from './mysql-server';

const APPS = ['mariadb-3.0', 'mariadb-latest'].map((name) => ({ name, dir: join(__dirname, 'apps', name) }));

const summary = (d: any) => `${d.driver}:${d.kind}:${d.total}/${d.idle}/${d.active}`;

for (const app of APPS) {
  for (const api of ['promise', 'callback'] as const) {
    test(`${app.name} ${api}: pool, cluster and connection tracked with the driver's counts; idle pooled connections closed with COM_QUIT, the rest keep working`, async () => {
      const my = await mysqlUser();
      try {
        const run = stepFixture(join(__dirname, 'fixtures', 'mariadb', 'disconnect.js'), { env: { APP: app.dir, API: api, MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
        const warm = await run.next();
        assert.deepEqual(warm.errors, [], 'the app sees no error under 100 concurrent queries');
        assert.equal(warm.answers, 100);
        assert.ok(warm.samples > 1, 'counts were compared while the queries ran');
        assert.equal(warm.mismatches, 0, "the registry's counts were the pool's own at every turn of the event loop");
        assert.deepEqual(warm.databases.map(summary).sort(), ['mariadb:cluster:4/4/0', 'mariadb:connection:1/1/0', 'mariadb:pool:4/3/1']);
        const pool = warm.databases.find((d: any) => d.kind === 'pool');
        assert.deepEqual({ total: pool.total, idle: pool.idle, active: pool.active }, warm.own);
        for (const d of warm.databases) assert.equal(d.target, `${my.user}@127.0.0.1:3306/test`);
        const before = await sessionIds(my.user);
        assert.equal(before.length, 9, '4 pooled + 4 in the cluster + 1 standalone');
        assert.ok(warm.kept.every((id: number) => before.includes(id)));
        const idleIds = before.filter((id) => !warm.kept.includes(id));
        run.go();

        const disc = await run.next();
        assert.deepEqual(disc.result, { pools: 2, closed: 7, kept: 2 }, 'the pool and the cluster: 3 idle in the pool and 4 in the cluster closed; the checked-out and the standalone kept');
        assert.deepEqual(disc.own, { total: 1, idle: 0, active: 1 });
        assert.deepEqual(disc.databases.map(summary).sort(), ['mariadb:cluster:0/0/0', 'mariadb:connection:1/1/0', 'mariadb:pool:1/0/1']);
        // mariadb pools refill themselves up to minimumIdle (3.0 every 500 ms, whatever
        // idleTimeout): the server is asked about the closed connections, not a total.
        const after = await waitFor(() => sessionIds(my.user), (ids) => !ids.some((id) => idleIds.includes(id)));
        assert.deepEqual(after.filter((id) => idleIds.includes(id)), [], 'the 7 idle connections are gone from the processlist');
        assert.deepEqual(after.filter((id) => warm.kept.includes(id)), warm.kept.slice().sort((a: number, b: number) => a - b), 'the checked-out and the standalone connection remain');
        run.go();

        const used = await run.next();
        assert.deepEqual(used.values, [1, 2, 3, 4], 'checked-out, pool, standalone and cluster all answer');
        assert.ok((await my.sessions()) >= 4, 'the pool and the cluster opened connections again on use');
        run.go();

        const end = await run.done;
        assert.equal(end.code, 0, end.stderr);
        assert.deepEqual(end.json.databases, [], 'ended pools, clusters and connections leave the registry');
        assert.equal(await waitFor(() => my.sessions(), (n) => n === 0), 0);
        assert.equal(await abortedFor(my.user), 0, 'every connection closed said goodbye: the server logged no aborted connection of this user');
      } finally {
        await my.drop();
      }
    });
  }
}

const DOORS = [
  { door: 'send', kind: 'handle-transfer', api: 'ChildProcess.send' },
  { door: 'spawn-stdio-socket', kind: 'stdio-inherit', api: 'child_process.spawn' },
  { door: 'fork-stdio-fd', kind: 'stdio-inherit', api: 'child_process.fork' },
  { door: 'spawnSync-fd', kind: 'stdio-inherit', api: 'child_process.spawnSync' },
] as const;

const CASES = APPS.flatMap((app) => [
  ...DOORS.map((d) => ({ app, conn: 'standalone', ...d })),
  // A pooled connection's socket: the one door is enough, the sockets come from the same place.
  { app, conn: 'pooled', ...DOORS[0] },
]);

for (const { app, conn, door, kind, api } of CASES) {
  test(`${app.name} ${conn} ${door}, strict: ${api} throws ForkSafetyError; the connection still works`, async () => {
    const my = await mysqlUser();
    try {
      const run = await runFixture(join(__dirname, 'fixtures', 'mariadb', 'door.js'), { env: { APP: app.dir, CONN: conn, DOOR: door, FORKSAFE_MODE: 'strict', MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
      assert.equal(run.code, 0, run.stderr);
      const r = run.json;
      assert.equal(r.threw?.name, 'ForkSafetyError', JSON.stringify(r));
      assert.equal(r.threw.isForkSafetyError, true);
      assert.equal(r.after, 'parent-after-block', 'the connection answers after the blocked call');
      assert.equal(r.result, null, 'no child got started with, or received, the socket');
      assert.deepEqual(r.violations, [{ kind, mode: 'strict', api, driver: 'mariadb', target: `${my.user}@127.0.0.1:3306/test` }]);
    } finally {
      await my.drop();
    }
  });

  test(`${app.name} ${conn} ${door}, log: recorded in parent and child (inherited-socket); the app goes on`, async () => {
    const my = await mysqlUser();
    const { dir, cleanup } = tempDir();
    try {
      const report = join(dir, 'r.jsonl');
      const run = await runFixture(join(__dirname, 'fixtures', 'mariadb', 'door.js'), { env: { APP: app.dir, CONN: conn, DOOR: door, FORKSAFE_REPORT: report, CHILD_WAIT_MS: '300', MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
      assert.equal(run.code, 0, run.stderr);
      const r = run.json;
      assert.equal(r.threw, null);
      assert.deepEqual(r.violations, [{ kind, mode: 'log', api, driver: 'mariadb', target: `${my.user}@127.0.0.1:3306/test` }]);
      const child = r.result.reply;
      assert.equal(child.agent, true, 'the agent reached the child by itself');
      if (kind === 'handle-transfer') assert.equal(child.gotHandle, true, 'log mode changes nothing: the socket did go');
      assert.deepEqual(child.violations.map((v: any) => v.kind), ['inherited-socket']);
      assert.equal(child.violations[0].target, `${my.user}@127.0.0.1:3306/test`);
      const lines = readReport(report).filter((l) => l.type === 'violation');
      assert.deepEqual(lines.map((l) => `${l.kind} ${l.driver}`).sort(), [`${kind} mariadb`, 'inherited-socket mariadb'].sort());
    } finally {
      cleanup();
      await my.drop();
    }
  });
}

test('mariadb-3.0 from an ES module app: the pre-fork step of child_process.fork closes the idle pooled connections only', async () => {
  const my = await mysqlUser();
  try {
    const run = stepFixture(join(__dirname, 'fixtures', 'mariadb', 'prefork.mjs'), { env: { APP: APPS[0]!.dir, MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
    const warm = await run.next();
    assert.deepEqual(warm.databases.map(summary), ['mariadb:pool:3/2/1'], 'an ESM import of the CommonJS package is tracked');
    const before = await sessionIds(my.user);
    assert.equal(before.length, 3);
    const idleIds = before.filter((id) => !warm.kept.includes(id));
    run.go();
    const forked = await run.next();
    assert.deepEqual(forked.databases.map(summary), ['mariadb:pool:1/0/1'], 'right after fork() returned');
    const after = await waitFor(() => sessionIds(my.user), (ids) => !ids.some((id) => idleIds.includes(id)));
    assert.deepEqual(after.filter((id) => idleIds.includes(id)), [], 'the 2 idle connections are gone from the processlist');
    assert.ok(after.includes(warm.kept[0]), 'the checked-out connection remains');
    run.go();
    const end = await run.done;
    assert.equal(end.code, 0, end.stderr);
    assert.deepEqual(end.json.values, [1, 2]);
    assert.deepEqual(end.json.databases, []);
    assert.equal(await waitFor(() => my.sessions(), (n) => n === 0), 0);
    assert.equal(await abortedFor(my.user), 0);
  } finally {
    await my.drop();
  }
});

test('Kysely (MysqlDialect) over a mariadb/callback pool: covered with nothing added', async () => {
  const my = await mysqlUser();
  try {
    const run = stepFixture(join(__dirname, 'fixtures', 'mariadb', 'kysely.js'), { env: { APP: APPS[1]!.dir, MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
    const warm = await run.next();
    assert.deepEqual(warm.values, [1, 2, 3]);
    assert.deepEqual(warm.databases.map(summary), ['mariadb:pool:3/3/0']);
    assert.equal(await my.sessions(), 3);
    run.go();
    const forked = await run.next();
    assert.deepEqual(forked.databases.map(summary), ['mariadb:pool:0/0/0'], 'the pre-fork step of child_process.fork closed the idle connections');
    assert.equal(await waitFor(() => my.sessions(), (n) => n === 0), 0);
    run.go();
    const end = await run.done;
    assert.equal(end.code, 0, end.stderr);
    assert.equal(end.json.value, 4, 'Kysely goes on: the pool opened a connection again');
    assert.deepEqual(end.json.databases, []);
    assert.equal(await waitFor(() => my.sessions(), (n) => n === 0), 0);
    assert.equal(await abortedFor(my.user), 0);
  } finally {
    await my.drop();
  }
});

for (const [app, version, files] of [
  [APPS[0]!, '3.0.0', ['promise.js', 'callback.js']],
  [APPS[1]!, '3.5.4', ['dist/promise.cjs', 'dist/callback.cjs']],
] as const) {
  test(`${app.name}: mariadb ${version} is inside the declared range, and the patch for its layout applies once per entry file`, async () => {
    assert.equal(JSON.parse(readFileSync(join(app.dir, 'node_modules', 'mariadb', 'package.json'), 'utf8')).version, version);
    assert.ok(satisfies(version, SUPPORTED.mariadb));
    const run = await runFixture(join(__dirname, 'fixtures', 'mariadb', 'load.js'), { env: { APP: app.dir, NODE_DEBUG: 'forksafe' } });
    assert.equal(run.code, 0, run.stderr);
    for (const file of files) assert.equal(run.stderr.split('\n').filter((l) => l.endsWith(` patched mariadb/${file} ${version}`)).length, 1, `one "patched mariadb/${file}" line`);
    assert.doesNotMatch(run.stderr, /internal error/);
    assert.deepEqual(run.json.databases.map((d: any) => d.kind), ['pool', 'cluster']);
  });
}

test('a mariadb entry file without the expected factories is refused with a TypeError naming them', () => {
  for (const p of mariadbPatches) {
    assert.throws(() => p.patch({ createPool() {}, createPoolCluster() {} }), { name: 'TypeError', message: `mariadb/${p.file}: expected a function createConnection` });
  }
});
