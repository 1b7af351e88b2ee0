// Every layout of pg, pg-pool and mysql2 the patches declare, run for real: one fixture app
// per layout boundary (test/apps/pg-*, test/apps/mysql2-*) and the latest, each in a fresh
// process against the real servers. A version outside the ranges is left alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { satisfies } from '../agent/versions';
import { SUPPORTED } from '../patches/shared/supported';
import { mysqlUser, pgKill, pgSessions, runFixture, stepFixture, uniqueName, waitFor } from './helpers';
import { versionApps, type VersionApp } from './version-apps';

const summary = (dbs: any[]): string[] => dbs.map((d) => `${d.driver}:${d.kind}:${d.total}/${d.idle}/${d.active}`).sort();

const inRange = (app: VersionApp): boolean => Object.entries(app.versions).every(([p, v]) => satisfies(v, SUPPORTED[p as keyof typeof SUPPORTED]));

const label = (app: VersionApp): string => `${Object.entries(app.versions).map(([p, v]) => `${p} ${v}`).join(', ')} (${app.name})`;

/** What the fixture's end step says of the door and the connection after it. */
function assertDoorAndEnd(end: any): void {
  assert.equal(end.code, 0, end.stderr);
  const last = end.json;
  assert.deepEqual(last.threw, { name: 'ForkSafetyError', code: 'FORKSAFE_HANDLE_TRANSFER', isForkSafetyError: true }, 'strict mode: subprocess.send(msg, socket) throws before the socket leaves');
  assert.equal(last.after, 2, 'the connection still works after the blocked call');
  assert.equal(last.again, 1, 'the pool reconnects lazily');
  assert.deepEqual(last.databases, [], 'ended pools and connections leave the registry');
}

for (const app of versionApps().filter((a) => a.driver === 'pg' && inRange(a))) {
  test(`pg ${label(app)}: tracked, a client mid-query is active, disconnectAll settles with the closed backends gone, strict send throws`, async () => {
    const name = uniqueName('pgv');
    const run = stepFixture('versions/pg.js', { env: { PGAPPNAME: name, APP_DIR: app.dir, FORKSAFE_MODE: 'strict' } });
    try {
      const warm = await run.next();
      assert.deepEqual(warm.versions, app.versions, 'the fixture loaded the app\'s own copies');
      assert.deepEqual(summary(warm.busy), ['pg:connection:1/0/1', 'pg:pool:3/3/0'], 'the client mid-query counts as active');
      assert.deepEqual(summary(warm.idle), ['pg:connection:1/1/0', 'pg:pool:3/3/0']);
      assert.equal(await pgSessions(name), 4);
      run.go();

      const disc = await run.next();
      assert.deepEqual(disc.result, { pools: 1, closed: 3, kept: 1 });
      assert.deepEqual(summary(disc.databases), ['pg:connection:1/1/0', 'pg:pool:0/0/0']);
      assert.equal(await pgSessions(name), 1, 'once settled, the server sees only the standalone client');
      run.go();

      assertDoorAndEnd(await run.done);
      assert.equal(await waitFor(() => pgSessions(name), (n) => n === 0), 0);
    } finally {
      await pgKill(name);
    }
  });
}

for (const app of versionApps().filter((a) => a.driver === 'mysql2' && inRange(a))) {
  test(`mysql2 ${label(app)}: tracked (callback and promise API), a connection mid-query is active, disconnectAll settles with the closed ones gone, strict send throws`, async () => {
    const my = await mysqlUser();
    try {
      const run = stepFixture('versions/mysql2.js', { env: { MYSQL_USER: my.user, MYSQL_PASSWORD: '', APP_DIR: app.dir, FORKSAFE_MODE: 'strict' } });
      const warm = await run.next();
      assert.deepEqual(warm.versions, app.versions, 'the fixture loaded the app\'s own copy');
      assert.deepEqual(summary(warm.busy), ['mysql2:connection:1/0/1', 'mysql2:pool:2/2/0', 'mysql2:pool:2/2/0'], 'the connection mid-query counts as active');
      assert.deepEqual(summary(warm.idle), ['mysql2:connection:1/1/0', 'mysql2:pool:2/2/0', 'mysql2:pool:2/2/0']);
      assert.equal(await my.sessions(), 5);
      run.go();

      const disc = await run.next();
      assert.deepEqual(disc.result, { pools: 2, closed: 4, kept: 1 });
      assert.deepEqual(summary(disc.databases), ['mysql2:connection:1/1/0', 'mysql2:pool:0/0/0', 'mysql2:pool:0/0/0']);
      assert.equal(await waitFor(() => my.sessions(), (n) => n === 1), 1, 'the server sees only the standalone connection');
      run.go();

      assertDoorAndEnd(await run.done);
      assert.equal(await waitFor(() => my.sessions(), (n) => n === 0), 0);
    } finally {
      await my.drop();
    }
  });
}

for (const app of versionApps().filter((a) => !inRange(a))) {
  test(`${label(app)}, outside the supported ranges: not tracked, and says so in one debug line per package`, async () => {
    const my = app.driver === 'mysql2' ? await mysqlUser() : undefined;
    const name = uniqueName('pgo');
    try {
      const env = { APP_DIR: app.dir, DRIVER: app.driver, NODE_DEBUG: 'forksafe', PGAPPNAME: name, ...(my ? { MYSQL_USER: my.user, MYSQL_PASSWORD: '' } : {}) };
      const run = await runFixture('versions/outside.js', { env });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.json, app.driver === 'pg' ? { databases: [], made: ['function', 'function'] } : { databases: [], value: 1 });
      for (const [pkg, version] of Object.entries(app.versions)) {
        const range = SUPPORTED[pkg as keyof typeof SUPPORTED];
        if (satisfies(version, range)) continue;
        const lines = run.stderr.split('\n').filter((l) => l.includes(`${pkg} ${version} `) && l.includes('outside the supported versions'));
        assert.equal(lines.length, 1, `one debug line for ${pkg} ${version} (supported: ${range}):\n${run.stderr}`);
      }
      assert.doesNotMatch(run.stderr, / patched (pg|pg-pool|mysql2)\//, 'nothing of it is patched');
    } finally {
      await my?.drop();
      await pgKill(name);
    }
  });
}
