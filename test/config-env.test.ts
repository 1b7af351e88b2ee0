// Settings from the environment: FORKSAFE_DISABLE turns one integration off and leaves the
// agent on; FORKSAFE_MODE=off costs an empty preload until the API is used.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mysqlUser, pgKill, runFixture, uniqueName } from './helpers';

async function pools(disable: string | undefined) {
  const my = await mysqlUser();
  const appName = uniqueName('disable');
  try {
    return await runFixture('config/pools.js', { env: { FORKSAFE_DISABLE: disable, FORKSAFE_MODE: 'strict', NODE_DEBUG: 'forksafe', PGAPPNAME: appName, MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
  } finally {
    await my.drop();
    await pgKill(appName);
  }
}

test('FORKSAFE_DISABLE=mysql2 leaves mysql2 alone; pg is still tracked and its doors still catch', async () => {
  const run = await pools('mysql2');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.json, { databases: ['pg:pool'], door: 'ForkSafetyError' });
  assert.match(run.stderr, /integrations: .*\(FORKSAFE_DISABLE: mysql2 left unpatched\)/);
  assert.doesNotMatch(run.stderr, /patched mysql2/);
});

test('without FORKSAFE_DISABLE both are tracked', async () => {
  const run = await pools(undefined);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.json, { databases: ['mysql2:pool', 'pg:pool'], door: 'ForkSafetyError' });
});

test('FORKSAFE_DISABLE=pg,child_process: no pg tracking and no spawn door', async () => {
  const run = await pools('pg, child_process');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.json, { databases: ['mysql2:pool'], door: 'not caught' });
});

test('a name forksafe does not patch stops the first process with one line naming the accepted ones', async () => {
  const run = await runFixture('core/app-ran.js', { env: { FORKSAFE_DISABLE: 'pg,mongo' } });
  assert.equal(run.code, 9);
  assert.equal(run.stdout, '');
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0]!, /^forksafe: FORKSAFE_DISABLE="pg,mongo" names "mongo", which forksafe does not patch; accepted: a comma-separated list of .*\bchild_process\b.*\bmysql2\b.*\bpg\b/);
});

test('FORKSAFE_MODE=off loads nothing of the agent until the API is used; configure() then switches it on', async () => {
  const appName = uniqueName('offon');
  try {
    const run = await runFixture('config/off-then-on.js', { env: { FORKSAFE_MODE: 'off', PGAPPNAME: appName } });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.json, { before: false, offDatabases: 0, loadedByApi: true, mode: 'log', databases: ['pg:pool'] });
  } finally {
    await pgKill(appName);
  }
});

test('FORKSAFE_MODE=off still stops the first process on a bad setting', async () => {
  const run = await runFixture('core/app-ran.js', { env: { FORKSAFE_MODE: 'off', FORKSAFE_ON_FORK: 'close' } });
  assert.equal(run.code, 9);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /^forksafe: FORKSAFE_ON_FORK="close" is not valid/);
});
