// pg.native: the same registry and disconnect, through libpq (pg-native is a devDependency,
// built against the machine's libpq-dev).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pgKill, pgSessions, stepFixture, uniqueName, waitFor } from './helpers';

test('pg.native: the pool\'s idle connections close, the standalone client is kept, both work after', async () => {
  const app = uniqueName('native');
  try {
    const run = stepFixture('core/pg-native.js', { env: { PGAPPNAME: app } });
    const warm = await run.next();
    assert.deepEqual(warm.databases.map((d: any) => `${d.driver}:${d.kind}:${d.total}/${d.idle}`).sort(), ['pg:connection:1/1', 'pg:pool:3/3']);
    assert.equal(await pgSessions(app), 4);
    run.go();
    const disc = await run.next();
    assert.deepEqual(disc.result, { pools: 1, closed: 3, kept: 1 });
    assert.equal(await waitFor(() => pgSessions(app), (n) => n === 1), 1);
    run.go();
    const end = await run.done;
    assert.equal(end.code, 0, end.stderr);
    assert.deepEqual(end.json.values, [1, 2]);
    assert.deepEqual(end.json.databases, []);
  } finally {
    await pgKill(app);
  }
});
