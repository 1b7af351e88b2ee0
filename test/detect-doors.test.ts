// Each door through which a database socket reaches a second process, for pg and mysql2,
// in log and strict mode, in fresh processes against the real servers.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import mysql from 'mysql2/promise';
import { MYSQL, mysqlUser, PG, pgKill, readReport, runFixture, spokeRows, tempDir, uniqueName, waitFor } from './helpers';
import { startTlsProxy, type TlsProxy } from './tls-proxy';

const DOORS = [
  { door: 'send', kind: 'handle-transfer', api: 'ChildProcess.send' },
  { door: 'send-keepopen', kind: 'handle-transfer', api: 'ChildProcess.send' },
  { door: 'worker-send', kind: 'handle-transfer', api: 'Worker.send' },
  { door: 'spawn-stdio-socket', kind: 'stdio-inherit', api: 'child_process.spawn' },
  { door: 'spawn-stdio-fd', kind: 'stdio-inherit', api: 'child_process.spawn' },
  { door: 'fork-stdio-fd', kind: 'stdio-inherit', api: 'child_process.fork' },
  { door: 'spawnSync-fd', kind: 'stdio-inherit', api: 'child_process.spawnSync' },
  { door: 'execSync-fd', kind: 'stdio-inherit', api: 'child_process.execSync' },
  { door: 'execFileSync-fd', kind: 'stdio-inherit', api: 'child_process.execFileSync' },
] as const;

/** The MySQL side of spokeRows: rows a child inserted by speaking in its parent's session. */
async function mysqlSpokeRows(app: string): Promise<number> {
  const admin = await mysql.createConnection(MYSQL);
  try {
    await admin.query('CREATE TABLE IF NOT EXISTS forksafe_spoke (app VARCHAR(64), at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)');
    const [rows] = await admin.query('SELECT count(*) AS n FROM forksafe_spoke WHERE app = ?', [app]);
    return Number((rows as any)[0].n);
  } finally {
    await admin.end();
  }
}

interface Session {
  /** The fixture's environment: driver, the session's name (SPOKE_APP), its credentials. */
  env: NodeJS.ProcessEnv;
  /** What the server itself recorded: rows a child inserted by speaking in this session. */
  spoke: () => Promise<number>;
}

async function withDriver<T>(driver: 'pg' | 'mysql2', fn: (s: Session) => Promise<T>): Promise<T> {
  if (driver === 'pg') {
    const app = uniqueName('door');
    try {
      return await fn({ env: { DRIVER: 'pg', PGAPPNAME: app, SPOKE_APP: app }, spoke: () => spokeRows(app) });
    } finally {
      await pgKill(app);
    }
  }
  const my = await mysqlUser();
  try {
    return await fn({ env: { DRIVER: 'mysql2', MYSQL_USER: my.user, MYSQL_PASSWORD: '', SPOKE_APP: my.user }, spoke: () => mysqlSpokeRows(my.user) });
  } finally {
    await my.drop();
  }
}

// A child that speaks on the socket it is given, and runs without the agent, so that the
// server's own record (a row in forksafe_spoke) shows whether the socket reached it.
const SPEAKING_BARE_CHILD = { CHILD_SPEAKS: '1', CHILD_BARE: '1', FORKSAFE_PROPAGATE: '0', CHILD_WAIT_MS: '300' };

for (const driver of ['pg', 'mysql2'] as const) {
  for (const { door, kind, api } of DOORS) {
    test(`${driver} ${door}, strict: ${api} throws ForkSafetyError before the socket leaves; the connection still works`, async () => {
      await withDriver(driver, async ({ env, spoke }) => {
        assert.equal(await spoke(), 0);
        const run = await runFixture('detect/door.js', { env: { ...env, DOOR: door, FORKSAFE_MODE: 'strict', ...SPEAKING_BARE_CHILD } });
        // First the server's own view: had the socket reached the child, it would have spoken.
        assert.equal(await spoke(), 0, 'the server never saw another process speak in this session');
        assert.equal(run.code, 0, run.stderr);
        const r = run.json;
        assert.equal(r.threw?.name, 'ForkSafetyError', JSON.stringify(r));
        assert.equal(r.threw.isForkSafetyError, true);
        assert.equal(r.threw.code, `FORKSAFE_${kind.toUpperCase().replace('-', '_')}`);
        assert.equal(r.threw.violationKind, kind);
        assert.match(r.threw.message, /door\.js:\d+:\d+/, 'names the call site');
        assert.match(r.threw.message, /opened at .*connect\.js:\d+:\d+/, 'names where the connection was opened');
        assert.deepEqual(r.after, { v: 'parent-after-block' }, 'the connection answers after the blocked call');
        assert.equal(r.result, null, 'no child got started with, or received, the socket');
        assert.equal(r.violations.length, 1);
        assert.equal(r.violations[0].mode, 'strict');
        assert.equal(r.violations[0].api, api);
      });
    });

    test(`${driver} ${door}, log, control: with the door open, the server sees the child speak in its parent's session`, async () => {
      await withDriver(driver, async ({ env, spoke }) => {
        assert.equal(await spoke(), 0);
        const run = await runFixture('detect/door.js', { env: { ...env, DOOR: door, FORKSAFE_MODE: 'log', ...SPEAKING_BARE_CHILD } });
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.json.threw, null);
        assert.equal(run.json.result.reply.spoke, true, JSON.stringify(run.json.result));
        assert.equal(await waitFor(spoke, (n) => n === 1), 1, 'the child ran SQL in its parent\'s session');
      });
    });

    test(`${driver} ${door}, log: recorded, published and warned once; the child's agent sees the socket too; the app goes on`, async () => {
      await withDriver(driver, async ({ env }) => {
        const { dir, cleanup } = tempDir();
        const report = join(dir, 'r.jsonl');
        try {
          const run = await runFixture('detect/door.js', { env: { ...env, DOOR: door, FORKSAFE_REPORT: report, CHILD_WAIT_MS: '300' } });
          assert.equal(run.code, 0, run.stderr);
          const r = run.json;
          assert.equal(r.threw, null);
          assert.deepEqual(r.violations.map((v: any) => `${v.kind} ${v.api} ${v.driver} ${v.mode}`), [`${kind} ${api} ${driver} log`]);
          const v = r.violations[0];
          const server = driver === 'pg' ? { ...PG, user: PG.user } : { ...MYSQL, user: env.MYSQL_USER };
          assert.equal(v.target, `${server.user}@${server.host}:${server.port}/${server.database}`);
          assert.match(v.socket.local, /^127\.0\.0\.1:\d+$/);
          assert.match(v.socket.remote, new RegExp(`:${server.port}$`));
          assert.match(v.site, /door\.js:\d+:\d+$/);
          assert.deepEqual(r.events, [kind], 'onViolation');
          assert.deepEqual(r.published, [kind], 'diagnostics_channel forksafe:violation');
          assert.deepEqual(r.warnings.map((w: any) => `${w.name} ${w.code}`), [`ForkSafetyWarning FORKSAFE_${kind.toUpperCase().replace('-', '_')}`]);
          const child = r.result.reply;
          assert.equal(child.agent, true, 'the agent reached the child by itself');
          if (kind === 'handle-transfer') assert.equal(child.gotHandle, true, 'log mode changes nothing: the socket did go');
          assert.deepEqual(child.violations.map((c: any) => c.kind), ['inherited-socket']);
          const lines = readReport(report).filter((l) => l.type === 'violation');
          assert.deepEqual(lines.map((l) => l.kind).sort(), [kind, 'inherited-socket'].sort(), 'parent and child write one file');
          assert.equal(new Set(lines.map((l) => l.pid)).size, 2);
          for (const l of lines) {
            for (const key of ['v', 'type', 'time', 'pid', 'ppid', 'kind', 'code', 'mode', 'message', 'api', 'driver', 'target', 'socket', 'stack', 'openedAt']) assert.ok(key in l, `report line has ${key}`);
          }
        } finally {
          cleanup();
        }
      });
    });
  }
}

test('warned once per call site, recorded every time', async () => {
  await withDriver('pg', async ({ env }) => {
    const run = await runFixture('detect/door.js', { env: { ...env, DOOR: 'spawnSync-fd', REPEAT: '3' } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json.violations.length, 3);
    assert.equal(run.json.warnings.length, 1);
    assert.equal(run.stderr.match(/ForkSafetyWarning/g)?.length, 1 + 3, 'one in the parent, one in each child');
  });
});

// pg over TLS: the connection's stream is a TLSSocket wrapped around the TCP socket that
// owns the descriptor. The TLS is the test's own (a proxy in this process that answers
// the SSLRequest and forwards in plain to the server), so the server needs no setup. Node
// itself cannot move a TLSSocket: send() of one crashes the process (SIGSEGV, seen on
// Node 20), and one in stdio is rejected with ERR_INVALID_ARG_VALUE. In log mode that still
// happens, as without the agent, but the report already names the call; strict mode
// prevents both. (No spoke-row proof here: a child without the session's TLS keys cannot
// run SQL in it, only break it.)
let proxy: TlsProxy | undefined;
after(() => proxy?.close());

for (const door of ['send', 'spawn-stdio-socket', 'spawnSync-fd'] as const) {
  const { kind } = DOORS.find((d) => d.door === door)!;
  for (const mode of ['strict', 'log'] as const) {
    test(`pg over TLS, ${door}, ${mode}`, async () => {
      proxy ??= await startTlsProxy();
      const tls = proxy;
      await withDriver('pg', async ({ env }) => {
        const { dir, cleanup } = tempDir();
        try {
          const report = join(dir, 'r.jsonl');
          // sslmode=no-verify: pg's ssl: { rejectUnauthorized: false }, for the proxy's self-signed certificate.
          const url = `postgres://${PG.user}@${tls.host}:${tls.port}/${PG.database}?sslmode=no-verify`;
          const run = await runFixture('detect/door.js', { env: { ...env, PG_URL: url, DOOR: door, FORKSAFE_MODE: mode, FORKSAFE_REPORT: report, CHILD_WAIT_MS: '300' } });
          const parentLines = readReport(report).filter((l) => l.type === 'violation' && l.kind === kind);
          assert.equal(parentLines.length, 1, 'the report names the call');
          assert.equal(parentLines[0].socket.remote, `${tls.host}:${tls.port}`);
          if (mode === 'log' && door === 'send') {
            assert.equal(run.signal, 'SIGSEGV', 'Node crashes on sending a TLSSocket, with or without the agent');
            return;
          }
          assert.equal(run.code, 0, run.stderr);
          assert.equal(run.json.encrypted, true, 'the connection is TLS');
          if (mode === 'strict') {
            assert.equal(run.json.threw.name, 'ForkSafetyError');
            assert.deepEqual(run.json.after, { v: 'parent-after-block' });
          } else if (door === 'spawn-stdio-socket') {
            assert.equal(run.json.threw.code, 'ERR_INVALID_ARG_VALUE', "Node's own refusal, as without the agent");
          } else {
            assert.deepEqual(run.json.result.reply.violations.map((v: any) => v.kind), ['inherited-socket']);
          }
        } finally {
          cleanup();
        }
      });
    });
  }
}
