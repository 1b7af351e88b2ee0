// Pools that are not the drivers' own: Knex (tarn) and Sequelize (sequelize-pool) hold pg
// clients and mysql2 connections directly; Kysely builds on pg.Pool. Each is closed by
// disconnectAll() and before a fork like any pool, counted by the server, reconnects for
// the app's next query without an error, is listed once, and its sockets are watched.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { mysqlUser, pgKill, pgSessions, readReport, stepFixture, tempDir, uniqueName, waitFor } from './helpers';

interface Case {
  orm: string;
  /** What databases() calls the pool. */
  driver: string;
  sql: 'pg' | 'mysql';
}

const cases: Case[] = [
  { orm: 'knex-pg', driver: 'knex', sql: 'pg' },
  { orm: 'knex-mysql', driver: 'knex', sql: 'mysql' },
  { orm: 'sequelize-pg', driver: 'sequelize', sql: 'pg' },
  { orm: 'sequelize-mysql', driver: 'sequelize', sql: 'mysql' },
  // Kysely (like Drizzle and TypeORM) builds on pg.Pool: covered with nothing added.
  { orm: 'kysely-pg', driver: 'pg', sql: 'pg' },
];

for (const c of cases) {
  test(`${c.orm}: idle connections closed by disconnectAll() and before a fork, the next query succeeds, sockets watched`, async () => {
    const app = uniqueName('orm');
    const my = c.sql === 'mysql' ? await mysqlUser() : undefined;
    const sessions = () => (my ? my.sessions() : pgSessions(app));
    const { dir, cleanup } = tempDir();
    const report = join(dir, 'report.jsonl');
    try {
      const run = stepFixture('libs/orm.js', { env: { ORM: c.orm, PGAPPNAME: app, FORKSAFE_REPORT: report, ...(my && { MYSQL_USER: my.user }) } });
      const expectedTarget = c.sql === 'pg' ? 'postgres@127.0.0.1:5432/test' : `${my!.user}@127.0.0.1:3306/test`;

      const warm = await run.next();
      // One pool, and none of its connections listed a second time as a standalone one.
      assert.deepEqual(
        warm.databases.map((d: any) => ({ driver: d.driver, kind: d.kind, target: d.target, total: d.total, idle: d.idle })),
        [{ driver: c.driver, kind: 'pool', target: expectedTarget, total: 3, idle: 3 }],
      );
      assert.equal(await waitFor(sessions, (n) => n === 3), 3, 'the server sees the 3 warm connections');
      run.go();

      const disconnected = await run.next();
      assert.deepEqual(disconnected.result, { pools: 1, closed: 3, kept: 0 });
      assert.deepEqual(disconnected.databases.map((d: any) => [d.total, d.idle]), [[0, 0]], 'the pool counts no connection the moment disconnectAll() returns');
      assert.equal(await waitFor(sessions, (n) => n === 0), 0, 'the server saw every idle connection close');
      run.go();

      const queried = await run.next();
      assert.equal(queried.one, 1, 'the next query through the ORM succeeds');
      assert.deepEqual(queried.databases.map((d: any) => [d.total, d.idle]), [[1, 1]], 'the pool reconnected lazily');
      assert.equal(await waitFor(sessions, (n) => n === 1), 1);
      run.go();

      const forked = await run.next();
      assert.deepEqual(forked.databases.map((d: any) => [d.total, d.idle]), [[0, 0]], 'the fork closed the idle connection');
      assert.equal(await waitFor(sessions, (n) => n === 0), 0, 'the parent holds no idle connection after the fork');
      run.go();

      const end = await run.done;
      assert.equal(end.code, 0, end.stderr);
      const r = end.json;
      assert.equal(r.again, 1);
      assert.deepEqual(r.underChurn.errors, [], 'no query failed while disconnectAll() ran on every turn of the event loop');
      assert.equal(r.underChurn.ok, 100);
      assert.ok(r.underChurn.closed > 0, 'the churn did close idle connections between queries');
      assert.deepEqual(r.refused, { name: 'ForkSafetyError', code: 'FORKSAFE_HANDLE_TRANSFER', kind: 'handle-transfer', driver: c.driver, target: expectedTarget });
      assert.equal(r.afterRefusal, 1, 'in strict mode the socket never left: the connection still works');
      assert.deepEqual(r.problems, [], 'no warning, no error, no unhandled rejection reached the app');
      assert.deepEqual(r.databases, [], 'closing the ORM ends its entry');

      const records = readReport(report);
      const forks = records.filter((l) => l.type === 'fork');
      assert.deepEqual(forks.map((f) => [f.api, f.closed, f.kept]), [['child_process.fork', 1, 0]]);
      const violations = records.filter((l) => l.type === 'violation');
      assert.deepEqual(violations.map((v) => [v.kind, v.mode, v.driver, v.target]), [['handle-transfer', 'strict', c.driver, expectedTarget]]);
      assert.match(violations[0].openedAt, /fixtures\/libs\/orm\.js/, 'the violation names where the app opened the pool');
      assert.equal(await waitFor(sessions, (n) => n === 0), 0, 'nothing left open on the server');
    } finally {
      cleanup();
      if (my) await my.drop();
      else await pgKill(app);
    }
  });
}

test('pool.min: Knex (tarn never refills) closes all its idle connections; Sequelize (refills at once) only those above min', async () => {
  const app = uniqueName('ormmin');
  try {
    const run = stepFixture('libs/orm-min.js', { env: { PGAPPNAME: app } });
    const r = await run.next();
    assert.deepEqual(r.warm, { knex: { total: 3, idle: 3 }, sequelize: { total: 3, idle: 3 } });
    assert.deepEqual(r.result, { pools: 2, closed: 4, kept: 2 });
    assert.deepEqual(r.after, { knex: { total: 0, idle: 0 }, sequelize: { total: 2, idle: 2 }, sequelizePoolSize: 2 }, 'nothing reopened');
    assert.equal(await waitFor(() => pgSessions(`${app}_knex`), (n) => n === 0), 0);
    assert.equal(await waitFor(() => pgSessions(`${app}_sequelize`), (n) => n === 2), 2);
    run.go();
    const end = await run.done;
    assert.equal(end.code, 0, end.stderr);
    assert.deepEqual(end.json.stillServe, [1, 1]);
  } finally {
    await pgKill(`${app}_knex`);
    await pgKill(`${app}_sequelize`);
  }
});
