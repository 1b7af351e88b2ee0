// Each door through which a database socket reaches a second process, for pg and mysql2,
// in log and strict mode, in fresh processes against the real servers.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { mysqlUser, pgKill, readReport, runFixture, spokeRows, tempDir, uniqueName, waitFor } from './helpers';

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

async function withDriver<T>(driver: 'pg' | 'mysql2', fn: (env: NodeJS.ProcessEnv, app: string) => Promise<T>): Promise<T> {
  const app = uniqueName('door');
  if (driver === 'pg') {
    try {
      return await fn({ DRIVER: 'pg', PGAPPNAME: app }, app);
    } finally {
      await pgKill(app);
    }
  }
  const my = await mysqlUser();
  try {
    return await fn({ DRIVER: 'mysql2', MYSQL_USER: my.user, MYSQL_PASSWORD: '' }, app);
  } finally {
    await my.drop();
  }
}

for (const driver of ['pg', 'mysql2'] as const) {
  for (const { door, kind, api } of DOORS) {
    test(`${driver} ${door}, strict: ${api} throws ForkSafetyError before the socket leaves; the connection still works`, async () => {
      await withDriver(driver, async (env, app) => {
        const run = await runFixture('detect/door.js', { env: { ...env, DOOR: door, FORKSAFE_MODE: 'strict', CHILD_SPEAKS: '1', CHILD_WAIT_MS: '300' } });
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
        if (driver === 'pg') assert.equal(await spokeRows(app), 0, 'the server never saw another process speak in this session');
      });
    });

    test(`${driver} ${door}, log: recorded, published and warned once; the child's agent sees the socket too; the app goes on`, async () => {
      await withDriver(driver, async (env) => {
        const { dir, cleanup } = tempDir();
        const report = join(dir, 'r.jsonl');
        try {
          const run = await runFixture('detect/door.js', { env: { ...env, DOOR: door, FORKSAFE_REPORT: report, CHILD_WAIT_MS: '300' } });
          assert.equal(run.code, 0, run.stderr);
          const r = run.json;
          assert.equal(r.threw, null);
          assert.deepEqual(r.violations.map((v: any) => `${v.kind} ${v.api} ${v.driver} ${v.mode}`), [`${kind} ${api} ${driver} log`]);
          const v = r.violations[0];
          assert.match(v.target, driver === 'pg' ? /^postgres@127\.0\.0\.1:5432\/test$/ : /^fsu_\w+@127\.0\.0\.1:3306\/test$/);
          assert.match(v.socket.local, /^127\.0\.0\.1:\d+$/);
          assert.equal(v.socket.remote, driver === 'pg' ? '127.0.0.1:5432' : '127.0.0.1:3306');
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

test('pg send, log, control: the test can see a child speak in its parent\'s session', async () => {
  await withDriver('pg', async (env, app) => {
    const run = await runFixture('detect/door.js', { env: { ...env, DOOR: 'send', CHILD_SPEAKS: '1' } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json.result.reply.gotHandle, true);
    assert.equal(await waitFor(() => spokeRows(app), (n) => n === 1), 1, 'without strict mode, the child ran SQL in the parent\'s session');
  });
});

test('warned once per call site, recorded every time', async () => {
  await withDriver('pg', async (env) => {
    const run = await runFixture('detect/door.js', { env: { ...env, DOOR: 'spawnSync-fd', REPEAT: '3' } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json.violations.length, 3);
    assert.equal(run.json.warnings.length, 1);
    assert.equal(run.stderr.match(/ForkSafetyWarning/g)?.length, 1 + 3, 'one in the parent, one in each child');
  });
});
