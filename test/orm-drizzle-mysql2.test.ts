// Drizzle on mysql2 is covered with nothing added: the pool it makes is the driver's own.
// (Drizzle on postgres.js: test/drivers-postgres.test.ts.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mysqlUser, runFixture, waitFor } from './helpers';

test("Drizzle on mysql2: its pool is tracked with the driver's counts, disconnectAll() closes its idle connections, and its socket is caught at a door", async () => {
  const my = await mysqlUser();
  try {
    const run = await runFixture('drizzle/mysql2.js', { env: { FORKSAFE_MODE: 'strict', MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.json, { tracked: ['mysql2 pool 3/3'], closed: 3, afterClose: ['mysql2 pool 0/0'], door: 'ForkSafetyError mysql2' });
    assert.equal(await waitFor(my.sessions, (n) => n === 0), 0, 'the server saw every connection go');
  } finally {
    await my.drop();
  }
});
