// pg.native: the same registry and disconnect, through libpq (pg-native is a devDependency,
// built against the machine's libpq-dev).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { pgKill, pgSessions, stepFixture, uniqueName, waitFor } from './helpers';

/**
 * libpq is a native addon (nan, not N-API): it loads only in the Node whose ABI it was built
 * for, the one that ran `npm ci`. Run under another major (DEVELOPERS.md), this test needs
 * node_modules installed by that Node; it says so rather than failing on a missing V8 symbol.
 */
function libpqLoads(): void {
  try {
    createRequire(__filename)('libpq');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_DLOPEN_FAILED') throw err;
    throw new Error(`libpq's native addon was built for another Node than this one (${process.version}, ABI ${process.versions.modules}): install node_modules with this Node (npm ci, or npm rebuild libpq) to run the pg.native test under it`, { cause: err });
  }
}

test('pg.native: the pool\'s idle connections close, the standalone client is kept, both work after', async () => {
  libpqLoads();
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
