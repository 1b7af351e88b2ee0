// postgres.js (npm `postgres`) at both ends of its supported range, each in its own fixture
// app (test/apps/postgres-3.3: 3.3.0, test/apps/postgres-latest: the latest 3.x), in fresh
// processes against the real server, counted in pg_stat_activity by application_name.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PG, pgSessions, readReport, ROOT, runFixture, spokeRows, stepFixture, tempDir, waitFor, withPgApp } from './helpers';
import pg from 'pg';
import { startTlsProxy, type TlsProxy } from './tls-proxy';

const APPS = ['postgres-3.3', 'postgres-latest'] as const;
const PLAIN_TARGET = `${PG.user}@${PG.host}:${PG.port}/${PG.database}`;
const TARGET = PLAIN_TARGET;
// In the log-mode door runs' URL: test data the server ignores (trust), never to be shown.
const SECRET = 'pw-must-not-show-7f3a';

function installed(app: string): string {
  return JSON.parse(readFileSync(join(ROOT, 'test', 'apps', app, 'node_modules', 'postgres', 'package.json'), 'utf8')).version;
}

/** A fresh application_name for one test, and every session left by it killed afterwards. */
const withApp = <T>(fn: (name: string) => Promise<T>): Promise<T> => withPgApp('pgjs', fn);

/** The server's sessions of this application_name by state ('active', 'idle', 'idle in transaction'). */
async function pgStates(appName: string): Promise<Record<string, number>> {
  const client = new pg.Client({ ...PG, application_name: 'forksafe_test_observer' });
  await client.connect();
  try {
    const r = await client.query('SELECT state, count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 GROUP BY state', [appName]);
    return Object.fromEntries(r.rows.map((row) => [row.state, row.n]));
  } finally {
    await client.end();
  }
}

/** Holds an advisory lock keyed by `key` in a session of the test's own, until released. */
async function holdLock(key: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ ...PG, application_name: 'forksafe_test_observer' });
  await client.connect();
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
  return () => client.end();
}

test('the fixture apps hold the lower bound and the latest 3.x', () => {
  assert.equal(installed('postgres-3.3'), '3.3.0');
  assert.match(installed('postgres-latest'), /^3\.(?!3\.)\d+\.\d+$/);
});

for (const app of APPS) {
  describe(`postgres.js ${app}`, () => {
    test('an instance is a pool; 100 concurrent queries: the counts are the server\'s, every query answered', async () => {
      await withApp(async (name) => {
        const release = await holdLock(name);
        let released = false;
        try {
          const run = stepFixture('postgres/counts.js', { env: { PGJS_APP: app, PGAPPNAME: name } });
          const opened = await run.next();
          assert.deepEqual(opened.created.map((d: any) => `${d.driver} ${d.kind} ${d.target} ${d.total}/${d.idle}/${d.active}`), [`postgres pool ${TARGET} 0/0/0`], 'tracked at postgres(), before any connection opens');
          assert.deepEqual(await waitFor(() => pgStates(name), (s) => s.active === 10), { active: 10 }, 'the server runs a query on each of the 10');
          run.go();
          const [db] = (await run.next()).databases;
          assert.deepEqual({ total: db.total, idle: db.idle, active: db.active }, { total: 10, idle: 0, active: 10 });
          await release();
          released = true;
          run.go();
          const done = await run.next();
          assert.deepEqual(done.errors, []);
          assert.equal(done.answered, 100);
          const [after] = done.databases;
          assert.deepEqual({ total: after.total, idle: after.idle, active: after.active }, { total: 10, idle: 10, active: 0 });
          assert.deepEqual(await pgStates(name), { idle: 10 });
          run.go();
          const end = await run.done;
          assert.equal(end.code, 0, end.stderr);
          assert.deepEqual(end.json.databases, [], 'sql.end() takes the instance out of the registry');
          assert.equal(await waitFor(() => pgSessions(name), (n) => n === 0), 0);
        } finally {
          if (!released) await release();
        }
      });
    });

    test('disconnectAll closes the idle connections only (server-side once settled); reserved, in-transaction and busy ones keep working; reconnects lazily', async () => {
      await withApp(async (name) => {
        const run = stepFixture('postgres/disconnect.js', { env: { PGJS_APP: app, PGAPPNAME: name } });
        const held = await run.next();
        // sql.reserve() arrived in 3.4: at 3.3 the transaction and the busy query are held.
        const kept = held.reserve ? 3 : 2;
        assert.equal(held.reserve, app !== 'postgres-3.3');
        assert.deepEqual(held.databases.map((d: any) => `${d.total}/${d.idle}/${d.active}`), [`6/${6 - kept}/${kept}`]);
        assert.equal(await pgSessions(name), 6);
        run.go();

        const disc = await run.next();
        assert.deepEqual(disc.result, { pools: 1, closed: 6 - kept, kept });
        assert.deepEqual(disc.after.map((d: any) => `${d.total}/${d.idle}/${d.active}`), [`${kept}/0/${kept}`], 'counted out at once');
        assert.equal(await pgSessions(name), kept, 'settled: the closed sessions are gone server-side, and none came back by itself');
        run.go();

        const work = await run.next();
        assert.deepEqual(work.work, { busy: 'busy', reserved: held.reserve ? 'reserved' : null, tx: 'tx' });
        assert.equal(await pgSessions(name), kept);
        run.go();

        const again = await run.next();
        assert.deepEqual(again.answered, [0, 1, 2, 3, 4, 5]);
        assert.deepEqual(again.databases.map((d: any) => d.total), [6]);
        assert.equal(await pgSessions(name), 6, 'the next queries opened new connections');
        run.go();
        const end = await run.done;
        assert.equal(end.code, 0, end.stderr);
      });
    });

    test('listen(): its connection is the instance\'s (a door sees it), not counted, and disconnectAll leaves it listening', async () => {
      await withApp(async (name) => {
        const run = stepFixture('postgres/listen.js', { env: { PGJS_APP: app, PGAPPNAME: name, FORKSAFE_MODE: 'strict' } });
        const listening = await run.next();
        assert.equal(listening.sockets, 2, 'the listener and one pooled connection');
        assert.deepEqual(listening.databases.map((d: any) => `${d.kind} ${d.total}/${d.idle}/${d.active}`), ['pool 1/1/0'], "the driver's own pool, without its listener");
        assert.equal(await pgSessions(name), 2);
        run.go();
        const disc = await run.next();
        assert.equal(disc.closed, 1);
        assert.equal(await pgSessions(name), 1, 'only the listener is left');
        run.go();
        const end = await run.done;
        assert.equal(end.code, 0, end.stderr);
        assert.equal(end.json.threw, 'ForkSafetyError', "the listener's socket cannot reach a child");
        assert.deepEqual(end.json.heard, ['after'], 'still listening after disconnectAll');
      });
    });

    test('fork(): the pre-fork step closes the idle connections, the transaction goes on', async () => {
      await withApp(async (name) => {
        const { dir, cleanup } = tempDir();
        try {
          const report = join(dir, 'r.jsonl');
          const run = stepFixture('postgres/fork.js', { env: { PGJS_APP: app, PGAPPNAME: name, FORKSAFE_REPORT: report } });
          const held = await run.next();
          assert.deepEqual(held.databases.map((d: any) => `${d.total}/${d.idle}/${d.active}`), ['4/3/1']);
          run.go();
          const forked = await run.next();
          assert.equal(forked.child, 0);
          assert.deepEqual(forked.before.map((d: any) => `${d.total}/${d.idle}/${d.active}`), ['1/0/1']);
          assert.deepEqual(await pgStates(name), { 'idle in transaction': 1 });
          run.go();
          const end = await run.done;
          assert.equal(end.code, 0, end.stderr);
          assert.deepEqual({ tx: end.json.tx, after: end.json.after }, { tx: 'tx', after: 'after' });
          const forks = readReport(report).filter((l) => l.type === 'fork');
          assert.deepEqual(forks.map((l) => `${l.api} ${l.pools} ${l.closed}`), ['child_process.fork 1 3']);
        } finally {
          cleanup();
        }
      });
    });
  });
}

const DOORS = [
  { door: 'send', kind: 'handle-transfer', api: 'ChildProcess.send' },
  { door: 'spawn-stdio-socket', kind: 'stdio-inherit', api: 'child_process.spawn' },
  { door: 'spawn-stdio-fd', kind: 'stdio-inherit', api: 'child_process.spawn' },
  { door: 'fork-stdio-fd', kind: 'stdio-inherit', api: 'child_process.fork' },
  { door: 'spawnSync-fd', kind: 'stdio-inherit', api: 'child_process.spawnSync' },
] as const;
const TLS_DOORS: readonly string[] = ['send', 'spawn-stdio-socket', 'spawnSync-fd'];

// Each door is its own process pair with its own application_name: run side by side. The
// TLS is the test's own: a proxy in this process (test/tls-proxy.ts) that answers the
// SSLRequest and forwards to the server in plain TCP; the fixture tells TLS from its socket.
let proxy: TlsProxy | undefined;
after(() => proxy?.close());

for (const app of APPS) {
  for (const tls of [false, true]) {
    const SSL: NodeJS.ProcessEnv = {};
    let TARGET = PLAIN_TARGET;
    let REMOTE = `${PG.host}:${PG.port}`;
    describe(`postgres.js ${app}${tls ? ' over TLS' : ''}: the doors`, { concurrency: 5 }, () => {
      if (tls) {
        before(async () => {
          proxy ??= await startTlsProxy();
          Object.assign(SSL, { PGJS_SSL: 'require', PGHOST: proxy.host, PGPORT: String(proxy.port) });
          TARGET = `${PG.user}@${proxy.host}:${proxy.port}/${PG.database}`;
          REMOTE = `${proxy.host}:${proxy.port}`;
        });
      }
      // Over TLS, one door per way out is enough: what differs is how the socket is found.
      for (const { door, kind, api } of tls ? DOORS.filter((d) => TLS_DOORS.includes(d.door)) : DOORS) {
        test(`${door}, strict: ${api} throws ForkSafetyError, the child never speaks, the connection still works`, async () => {
          await withApp(async (name) => {
            const run = await runFixture('postgres/door.js', { env: { ...SSL, PGJS_APP: app, PGAPPNAME: name, DRIVER: 'pg', DOOR: door, FORKSAFE_MODE: 'strict', CHILD_SPEAKS: '1', CHILD_WAIT_MS: '300' } });
            assert.equal(run.code, 0, run.stderr);
            const r = run.json;
            assert.equal(tls ? proxy!.wasTls(r.violations[0].socket.local) : r.encrypted, tls, tls ? 'the connection is TLS' : 'the connection is plain');
            assert.equal(await spokeRows(name), 0, 'the server never saw another process speak in this session');
            assert.deepEqual(r.threw, { name: 'ForkSafetyError', code: `FORKSAFE_${kind.toUpperCase().replace('-', '_')}`, isForkSafetyError: true, violationKind: kind });
            assert.deepEqual(r.after, { v: 'parent-after-block' });
            assert.equal(r.result, null);
            assert.deepEqual(r.violations.map((v: any) => `${v.kind} ${v.api} ${v.driver} ${v.mode} ${v.target}`), [`${kind} ${api} postgres strict ${TARGET}`]);
          });
        });

        test(`${door}, log: recorded in the report; the child's agent sees the inherited socket`, async () => {
          await withApp(async (name) => {
            const { dir, cleanup } = tempDir();
            try {
              const report = join(dir, 'r.jsonl');
              const run = await runFixture('postgres/door.js', { env: { ...SSL, PGJS_APP: app, PGAPPNAME: name, DOOR: door, FORKSAFE_REPORT: report, CHILD_WAIT_MS: '300', PGJS_PASSWORD: SECRET } });
              assert.equal(run.code, 0, run.stderr);
              const r = run.json;
              const parentLine = readReport(report).find((l) => l.type === 'violation' && l.kind === kind);
              assert.equal(tls ? proxy!.wasTls(parentLine.socket.local) : r.encrypted, tls);
              assert.equal(r.threw, null);
              assert.ok(!readFileSync(report, 'utf8').includes(SECRET) && !run.stdout.includes(SECRET) && !run.stderr.includes(SECRET), 'the password in the URL is nowhere');
            const lines = readReport(report).filter((l) => l.type === 'violation');
              assert.deepEqual(lines.map((l) => `${l.kind} ${l.driver} ${l.target}`).sort(), [`${kind} postgres ${TARGET}`, `inherited-socket postgres ${TARGET}`].sort());
              const parent = lines.find((l) => l.kind === kind);
              assert.equal(parent.api, api);
              assert.equal(parent.socket.remote, REMOTE);
              assert.deepEqual(r.result.reply.violations.map((v: any) => v.kind), ['inherited-socket']);
            } finally {
              cleanup();
            }
          });
        });
      }
    });
  }
}

test('Drizzle on postgres.js: nothing added, the instance it runs on is tracked and disconnected', async () => {
  await withApp(async (name) => {
    const run = await runFixture('postgres/drizzle.js', { env: { PGJS_APP: 'postgres-latest', PGAPPNAME: name } });
    assert.equal(run.code, 0, run.stderr);
    const r = run.json;
    assert.deepEqual({ v: r.v, again: r.again, closed: r.closed }, { v: 'drizzle', again: 'again', closed: 1 });
    assert.deepEqual(r.tracked.map((d: any) => `${d.driver} ${d.kind} ${d.target} ${d.total}/${d.idle}`), [`postgres pool ${TARGET} 1/1`]);
    assert.deepEqual(r.left, []);
  });
});

// Node 22.15 and later hook the ESM build too (test/esm-builds.test.ts runs it on 22 and 24).
const hooksEsm = typeof (require('node:module') as { registerHooks?: unknown }).registerHooks === 'function';

test(`ESM on Node ${process.versions.node}: ${hooksEsm ? 'an instance of the `import` build is listed, as' : 'an instance of the `import` build is not listed, but its socket is stopped at the doors (the net patch); not so'} the CommonJS build through createRequire (docs/drivers-postgres.md)`, async () => {
  await withApp(async (name) => {
    const run = await runFixture('postgres/esm.mjs', { cwd: join(ROOT, 'test', 'apps', 'postgres-latest'), env: { PGJS_APP: 'postgres-latest', PGAPPNAME: name, FORKSAFE_MODE: 'strict' } });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.json, { viaImport: hooksEsm ? 1 : 0, viaRequire: 1, door: { name: 'ForkSafetyError', driver: 'postgres', target: hooksEsm ? TARGET : `${PG.host}:${PG.port}` }, after: 'after' });
  });
});

test('another layout (the queues renamed in a copy of postgres.js): the app and its forks go on, the instance is not listed, the debug log names what was expected', async () => {
  await withApp(async (name) => {
    const { dir, cleanup } = tempDir();
    try {
      const copy = join(dir, 'node_modules', 'postgres');
      cpSync(join(ROOT, 'test', 'apps', 'postgres-latest', 'node_modules', 'postgres'), copy, { recursive: true });
      const index = join(copy, 'cjs', 'src', 'index.js');
      const source = readFileSync(index, 'utf8');
      const renamed = source.replace('queues = { connecting, reserved, closed, ended, open, busy, full }', 'queues = { connecting, reserved, closed, ended, idle: open, busy, full }');
      assert.notEqual(renamed, source, 'the copy was edited');
      writeFileSync(index, renamed);
      const run = await runFixture('postgres/other-layout.js', { env: { PGJS_APP_DIR: dir, PGAPPNAME: name, NODE_DEBUG: 'forksafe' } });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.json, { rows: [1, 2], after: 3, childExit: 0, closed: 0, databases: [] });
      const lines = run.stderr.split('\n').filter((l) => l.includes('internal error'));
      assert.equal(lines.length, 2, run.stderr);
      assert.match(lines[0], /postgres connection.*TypeError: postgres Connection: expected queues connecting, reserved, closed, ended, open, busy, full/);
      assert.match(lines[1], /postgres\(\).*TypeError: postgres\(\): expected sql\.options/);
    } finally {
      cleanup();
    }
  });
});
