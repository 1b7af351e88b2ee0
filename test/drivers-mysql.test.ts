// mysql (mysqljs) 2.18.1, the lower bound's patch release and the latest (test/apps/mysql-2.18),
// in fresh processes against the real MariaDB: what the registry lists, what disconnectAll()
// closes (counted in the server's processlist, by a user of the test's own), that the server
// saw a proper goodbye, and every door in strict and log mode.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { mysqlUser, readReport, runFixture, stepFixture, tempDir, waitFor } from './helpers';
import { satisfies } from '../agent/versions';
import { mysqlPatch } from '../patches/mysql';
import { SUPPORTED } from '../patches/supported';
import { abortedFor, sessionIds } from './mysql-server';

const APP = join(__dirname, 'apps', 'mysql-2.18');
const summary = (d: any) => `${d.driver}:${d.kind}:${d.total}/${d.idle}/${d.active}`;

test("mysql: pool, cluster and connection tracked with the driver's counts; idle pooled connections closed with COM_QUIT, the rest keep working; the pool reopens lazily", async () => {
  const my = await mysqlUser();
  try {
    const run = stepFixture(join(__dirname, 'fixtures', 'mysql', 'disconnect.js'), { env: { APP, MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
    const warm = await run.next();
    assert.deepEqual(warm.errors, [], 'the app sees no error under 100 concurrent queries');
    assert.equal(warm.answers, 100);
    assert.ok(warm.samples > 1, 'counts were compared while the queries ran');
    assert.equal(warm.mismatches, 0, "the registry's counts were the pool's own at every turn of the event loop");
    assert.deepEqual(warm.databases.map(summary).sort(), ['mysql:cluster:4/4/0', 'mysql:connection:1/1/0', 'mysql:pool:4/3/1']);
    for (const d of warm.databases) assert.equal(d.target, `${my.user}@127.0.0.1:3306/test`);
    const before = await sessionIds(my.user);
    assert.equal(before.length, 9, '4 pooled + 4 in the cluster + 1 standalone');
    run.go();

    const disc = await run.next();
    assert.deepEqual(disc.result, { pools: 2, closed: 7, kept: 2 }, 'the pool and the cluster: 3 idle in the pool and 4 in the cluster closed; the checked-out and the standalone kept');
    assert.deepEqual(disc.own, { total: 1, idle: 0, active: 1 });
    assert.deepEqual(disc.databases.map(summary).sort(), ['mysql:cluster:0/0/0', 'mysql:connection:1/1/0', 'mysql:pool:1/0/1']);
    const after = await waitFor(() => sessionIds(my.user), (ids) => ids.length === 2);
    assert.deepEqual(after, warm.kept.slice().sort((a: number, b: number) => a - b), 'once settled, the server sees only the checked-out and the standalone connection');
    run.go();

    const used = await run.next();
    assert.deepEqual(used.values, [1, 2, 3, 4], 'checked-out, pool, standalone and cluster all answer');
    assert.deepEqual(used.databases.map(summary).sort(), ['mysql:cluster:1/1/0', 'mysql:connection:1/1/0', 'mysql:pool:2/1/1'], 'one new connection each, opened by the query that needed it');
    assert.equal(await my.sessions(), 4);
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

const DOORS = [
  { door: 'send', kind: 'handle-transfer', api: 'ChildProcess.send' },
  { door: 'spawn-stdio-socket', kind: 'stdio-inherit', api: 'child_process.spawn' },
  { door: 'fork-stdio-fd', kind: 'stdio-inherit', api: 'child_process.fork' },
  { door: 'spawnSync-fd', kind: 'stdio-inherit', api: 'child_process.spawnSync' },
] as const;

const CASES = [...DOORS.map((d) => ({ conn: 'standalone', ...d })), { conn: 'pooled', ...DOORS[0] }];
const DOOR_FIXTURE = join(__dirname, 'fixtures', 'mariadb', 'door.js');

for (const { conn, door, kind, api } of CASES) {
  test(`mysql ${conn} ${door}, strict: ${api} throws ForkSafetyError; the connection still works`, async () => {
    const my = await mysqlUser();
    try {
      const run = await runFixture(DOOR_FIXTURE, { env: { DRIVER: 'mysql', APP, CONN: conn, DOOR: door, FORKSAFE_MODE: 'strict', MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
      assert.equal(run.code, 0, run.stderr);
      const r = run.json;
      assert.equal(r.threw?.name, 'ForkSafetyError', JSON.stringify(r));
      assert.equal(r.threw.isForkSafetyError, true);
      assert.equal(r.after, 'parent-after-block', 'the connection answers after the blocked call');
      assert.equal(r.result, null, 'no child got started with, or received, the socket');
      assert.deepEqual(r.violations, [{ kind, mode: 'strict', api, driver: 'mysql', target: `${my.user}@127.0.0.1:3306/test` }]);
    } finally {
      await my.drop();
    }
  });

  test(`mysql ${conn} ${door}, log: recorded in parent and child (inherited-socket); the app goes on`, async () => {
    const my = await mysqlUser();
    const { dir, cleanup } = tempDir();
    try {
      const report = join(dir, 'r.jsonl');
      const run = await runFixture(DOOR_FIXTURE, { env: { DRIVER: 'mysql', APP, CONN: conn, DOOR: door, FORKSAFE_REPORT: report, CHILD_WAIT_MS: '300', MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
      assert.equal(run.code, 0, run.stderr);
      const r = run.json;
      assert.equal(r.threw, null);
      assert.deepEqual(r.violations, [{ kind, mode: 'log', api, driver: 'mysql', target: `${my.user}@127.0.0.1:3306/test` }]);
      const child = r.result.reply;
      assert.equal(child.agent, true, 'the agent reached the child by itself');
      if (kind === 'handle-transfer') assert.equal(child.gotHandle, true, 'log mode changes nothing: the socket did go');
      assert.deepEqual(child.violations.map((v: any) => v.kind), ['inherited-socket']);
      assert.equal(child.violations[0].target, `${my.user}@127.0.0.1:3306/test`);
      const lines = readReport(report).filter((l) => l.type === 'violation');
      assert.deepEqual(lines.map((l) => `${l.kind} ${l.driver}`).sort(), [`${kind} mysql`, 'inherited-socket mysql'].sort());
    } finally {
      cleanup();
      await my.drop();
    }
  });
}

test('mysql 2.18.1 is inside the declared range, and its patch applies once', async () => {
  assert.equal(JSON.parse(readFileSync(join(APP, 'node_modules', 'mysql', 'package.json'), 'utf8')).version, '2.18.1');
  assert.ok(satisfies('2.18.1', SUPPORTED.mysql));
  const run = await runFixture(join(__dirname, 'fixtures', 'mariadb', 'load.js'), { env: { DRIVER: 'mysql', APP, NODE_DEBUG: 'forksafe' } });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr.split('\n').filter((l) => l.endsWith(' patched mysql/index.js 2.18.1')).length, 1);
  assert.doesNotMatch(run.stderr, /internal error/);
  assert.deepEqual(run.json.databases.map((d: any) => d.kind), ['pool', 'cluster']);
});

test('a mysql index.js without the expected factories is refused with a TypeError naming them', () => {
  assert.throws(() => mysqlPatch.patch({ createPool() {}, createConnection() {} }), { name: 'TypeError', message: 'mysql/index.js: expected a function createPoolCluster' });
});
