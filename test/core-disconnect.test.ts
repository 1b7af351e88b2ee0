// disconnectAll() is Sequel's DB.disconnect for every tracked pool, proven from the
// server's side: pg_stat_activity and information_schema.processlist.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mysqlUser, pgKill, pgSessions, stepFixture, uniqueName, waitFor } from './helpers';

test('pg: idle pooled connections close, checked-out and standalone ones keep working, the pool reconnects lazily', async () => {
  const app = uniqueName('pgdisc');
  const run = stepFixture('core/pg-disconnect.js', { env: { PGAPPNAME: app } });
  try {
    const warm = await run.next();
    assert.equal(warm.step, 'warm');
    const pool = warm.databases.find((d: any) => d.kind === 'pool');
    const client = warm.databases.find((d: any) => d.kind === 'connection');
    assert.deepEqual(
      { driver: pool.driver, total: pool.total, idle: pool.idle, active: pool.active },
      { driver: 'pg', total: warm.counts.total, idle: warm.counts.idle, active: warm.counts.total - warm.counts.idle },
      "the registry's counts are the pool's own",
    );
    assert.equal(pool.total, 10);
    assert.equal(pool.idle, 8);
    assert.equal(client.driver, 'pg');
    assert.equal(client.total, 1);
    assert.match(pool.target, /^postgres@127\.0\.0\.1:5432\/test$/);
    assert.equal(warm.databases.length, 2, 'pooled clients are not listed as standalone connections');
    assert.equal(await pgSessions(app), 11, 'the server sees 10 pooled + 1 standalone');
    run.go();

    const disc = await run.next();
    assert.deepEqual(disc.result, { pools: 1, closed: 8, kept: 3 });
    assert.deepEqual(disc.counts, { total: 2, idle: 0 });
    assert.equal(await pgSessions(app), 3, 'once settled, the server sees only the 2 checked out + 1 standalone');
    run.go();

    const used = await run.next();
    assert.deepEqual(used.held, [1, 1]);
    assert.equal(used.standalone, 2);
    assert.equal(used.pool, 3);
    assert.equal(await pgSessions(app), 4, 'the pool opened one new backend, lazily, for its next query');
    run.go();

    const end = await run.done;
    assert.equal(end.code, 0, end.stderr);
    assert.deepEqual(end.json.databases, [], 'ended pools and clients leave the registry');
    assert.equal(await waitFor(() => pgSessions(app), (n) => n === 0), 0);
  } finally {
    await pgKill(app);
  }
});

test('mysql2: pool, promise pool, pool cluster and connection, counted in the processlist', async () => {
  const my = await mysqlUser();
  try {
    const run = stepFixture('core/mysql-disconnect.js', { env: { MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
    const warm = await run.next();
    const kinds = warm.databases.map((d: any) => `${d.driver}:${d.kind}:${d.total}/${d.idle}/${d.active}`).sort();
    assert.deepEqual(kinds, ['mysql2:cluster:4/4/0', 'mysql2:connection:1/1/0', 'mysql2:pool:4/3/1', 'mysql2:pool:4/4/0']);
    for (const d of warm.databases) assert.ok(d.target.startsWith(`${my.user}@127.0.0.1:3306/test`), d.target);
    assert.equal(await my.sessions(), 13, '4 + 4 + 4 pooled, 1 standalone');
    run.go();

    const disc = await run.next();
    assert.deepEqual(disc.result, { pools: 3, closed: 11, kept: 2 });
    assert.equal(await waitFor(() => my.sessions(), (n) => n === 2), 2, 'the held connection and the standalone one remain');
    run.go();

    const used = await run.next();
    assert.deepEqual(used.values, [1, 2, 3, 4, 5]);
    run.go();
    const end = await run.done;
    assert.equal(end.code, 0, end.stderr);
    assert.deepEqual(end.json.databases, []);
    assert.equal(await waitFor(() => my.sessions(), (n) => n === 0), 0);
  } finally {
    await my.drop();
  }
});
