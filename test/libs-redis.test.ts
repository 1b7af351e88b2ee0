// Redis clients: ioredis (which BullMQ uses) and node-redis (`redis`). Listed as
// connections, left open by disconnectAll() and by a fork (they are not pools), and their
// sockets watched: a Redis socket handed to a child is the same bug as a database socket.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readReport, runFixture, tempDir, uniqueName } from './helpers';

const TARGET = `@${process.env.REDIS_HOST ?? '127.0.0.1'}:${process.env.REDIS_PORT ?? 6379}/0`;

async function run(client: 'ioredis' | 'redis') {
  const { dir, cleanup } = tempDir();
  const report = join(dir, 'report.jsonl');
  try {
    const r = await runFixture('libs/redis.js', { env: { CLIENT: client, REDIS_NAME: uniqueName(client), FORKSAFE_REPORT: report } });
    assert.equal(r.code, 0, r.stderr);
    return { ...r.json, stderr: r.stderr, records: readReport(report) };
  } finally {
    cleanup();
  }
}

test('ioredis: listed as a connection, kept open by disconnectAll() and a fork; its socket sent to a child is a handle-transfer', async () => {
  const r = await run('ioredis');
  assert.deepEqual(r.listed.map((d: any) => [d.driver, d.kind, d.target, d.total]), [['ioredis', 'connection', TARGET, 1]]);
  assert.deepEqual(r.disconnect, { pools: 0, closed: 0, kept: 1 }, 'not a pool: left open, counted as kept');
  assert.equal(r.afterDisconnect, 'PONG');
  assert.equal(r.afterFork, 'PONG');
  assert.equal(r.serverSees, 1, "the server still lists the client's one connection after the fork");

  // Strict: refused before the handle left; the client keeps its socket and works.
  assert.deepEqual(r.refused, { name: 'ForkSafetyError', code: 'FORKSAFE_HANDLE_TRANSFER', kind: 'handle-transfer', driver: 'ioredis', target: TARGET });
  assert.equal(r.sameSocket, true);
  assert.equal(r.afterRefusal, 'PONG');

  // Log: the socket went; the child running the agent saw its parent's connection arrive.
  assert.equal(r.childSaw.gotHandle, true);
  assert.deepEqual(r.childSaw.violations, [{ kind: 'inherited-socket', driver: 'ioredis', target: TARGET }]);
  assert.deepEqual(r.errors, ['Socket is closed'], "what the parent's client saw: its socket was gone");
  assert.equal(r.afterTransfer, 'PONG', 'ioredis reconnected by itself');
  assert.deepEqual(r.atEnd, [], 'quit() ends the entry');

  const fork = r.records.filter((l: any) => l.type === 'fork');
  assert.deepEqual(fork.map((f: any) => [f.closed, f.kept]), [[0, 1]]);
  const violations = r.records.filter((l: any) => l.type === 'violation');
  assert.deepEqual(
    violations.map((v: any) => [v.kind, v.mode, v.driver, v.pid === r.childSaw.pid ? 'child' : 'parent']),
    [
      ['handle-transfer', 'strict', 'ioredis', 'parent'],
      ['handle-transfer', 'log', 'ioredis', 'parent'],
      ['inherited-socket', 'log', 'ioredis', 'child'],
    ],
  );
  assert.match(violations[1].openedAt, /fixtures\/libs\/redis\.js/, 'names where the app created the client');
  assert.match(r.stderr, /\[FORKSAFE_HANDLE_TRANSFER\] ForkSafetyWarning: .*ioredis connection/);
});

test('redis (node-redis): listed as a connection, kept open; its socket, and the one it reconnects on, watched by the stdio door', async () => {
  const r = await run('redis');
  // The fixture's own admin client and the client under test.
  assert.deepEqual(r.listed.map((d: any) => [d.driver, d.kind, d.target, d.total]), [
    ['redis', 'connection', TARGET, 1],
    ['redis', 'connection', TARGET, 1],
  ]);
  assert.deepEqual(r.disconnect, { pools: 0, closed: 0, kept: 2 });
  assert.equal(r.afterDisconnect, 'PONG');
  assert.equal(r.afterFork, 'PONG');
  assert.equal(r.serverSees, 1);
  assert.deepEqual(r.refused, { name: 'ForkSafetyError', code: 'FORKSAFE_STDIO_INHERIT', kind: 'stdio-inherit', driver: 'redis', target: TARGET });
  // The server dropped the connection; node-redis reconnected on a new socket, watched too.
  assert.equal(r.afterReconnect, 'PONG');
  assert.equal(r.newSocket, true);
  assert.deepEqual(r.refusedAfterReconnect, r.refused);
  assert.deepEqual(r.errors, ['Socket closed unexpectedly']);
  assert.deepEqual(r.atEnd, [], 'quit() ends the entries');
  const violations = r.records.filter((l: any) => l.type === 'violation');
  assert.deepEqual(violations.map((v: any) => [v.kind, v.mode, v.driver]), [
    ['stdio-inherit', 'strict', 'redis'],
    ['stdio-inherit', 'strict', 'redis'],
  ]);
});
