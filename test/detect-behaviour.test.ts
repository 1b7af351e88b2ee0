// No false alarms, no secrets, children reached by themselves, configure() in code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { MYSQL, mysqlUser, PG, pgKill, runFixture, tempDir, uniqueName } from './helpers';

test('no false alarm: pools used normally, workers with their own connections, an HTTP connection handed to a worker', async () => {
  const my = await mysqlUser();
  const app = uniqueName('ordinary');
  const { dir, cleanup } = tempDir();
  try {
    const report = join(dir, 'r.jsonl');
    for (const mode of ['log', 'strict']) {
      const run = await runFixture('detect/ordinary.js', { env: { PGAPPNAME: app, MYSQL_USER: my.user, MYSQL_PASSWORD: '', FORKSAFE_MODE: mode, FORKSAFE_REPORT: report } });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.json.body, 'worker', 'the worker answered on the handed-over HTTP connection');
      assert.deepEqual(run.json.violations, []);
      assert.doesNotMatch(run.stderr, /ForkSafety/);
    }
    assert.equal(readFileSync(report, 'utf8').split('\n').filter((l) => l.includes('"violation"')).length, 0);
  } finally {
    cleanup();
    await my.drop();
    await pgKill(app);
  }
});

test('no secret in a report line, a warning, an error message, databases() or a child\'s environment', async () => {
  const pgSecret = 'pg-Secret-7f3a9';
  const mySecret = 'my-Secret-c41d2';
  const my = await mysqlUser();
  const app = uniqueName('secret');
  const { dir, cleanup } = tempDir();
  try {
    // A MySQL account with a password, for this test.
    const admin = await mysql.createConnection(MYSQL);
    await admin.query(`ALTER USER '${my.user}'@'%' IDENTIFIED BY '${mySecret}'`);
    await admin.query(`ALTER USER '${my.user}'@'localhost' IDENTIFIED BY '${mySecret}'`);
    await admin.end();
    const report = join(dir, 'r.jsonl');
    const run = await runFixture('detect/secret.js', {
      env: {
        PGAPPNAME: app,
        // trust auth accepts any password: it is still in the connection string the app gave
        PG_URL: `postgres://${PG.user}:${pgSecret}@${PG.host}:${PG.port}/${PG.database}?application_name=${app}`,
        MYSQL_USER: my.user,
        MYSQL_PASSWORD: mySecret,
        FORKSAFE_REPORT: report,
      },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json.errors.length, 2, 'strict mode threw for both');
    assert.equal(run.json.violations.length, 4);
    assert.deepEqual(run.json.reply.violations.map((v: any) => v.kind), ['inherited-socket', 'inherited-socket']);
    assert.ok(run.json.reply.env.some((l: string) => l.startsWith('FORKSAFE_PARENT_SOCKETS=')), 'the child got a manifest');
    const everything = [run.stdout, run.stderr, readFileSync(report, 'utf8')].join('\n');
    for (const secret of [pgSecret, mySecret]) assert.ok(!everything.includes(secret), `${secret} leaked`);
    assert.ok(!/postgres:\/\//.test(everything), 'no connection string');
  } finally {
    cleanup();
    await my.drop();
    await pgKill(app);
  }
});

test('the agent reaches Node children by itself: fork, custom execArgv, spawn(node), a shell, spawnSync, execSync', async () => {
  const run = await runFixture('detect/propagate.js');
  assert.equal(run.code, 0, run.stderr);
  for (const [how, r] of Object.entries<any>(run.json)) {
    assert.equal(r.agent, true, `${how}: the agent runs in the child`);
    assert.ok(r.env.some((l: string) => l === 'FORKSAFE_MODE=log'), `${how}: settings handed down`);
  }
});

test('FORKSAFE_PROPAGATE=0: the agent adds itself to no child (a plain fork still inherits the parent\'s own -r through execArgv, as Node does)', async () => {
  const run = await runFixture('detect/propagate.js', { env: { FORKSAFE_PROPAGATE: '0' } });
  assert.equal(run.code, 0, run.stderr);
  for (const [how, r] of Object.entries<any>(run.json)) {
    assert.equal(r.agent, how === 'fork', how);
    assert.ok(!r.env.some((l: string) => l.startsWith('NODE_OPTIONS=') && l.includes('register')), `${how}: NODE_OPTIONS untouched`);
  }
});
