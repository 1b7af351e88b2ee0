// The drivers' ES-module builds, which `import` loads in an ESM app: postgres.js's src/
// (3.3 and latest) and mariadb 3.5's promise.js / callback.js. On Node 22.15 and later the
// agent stands in for them through module.registerHooks (agent/esm-hook.ts), so they are
// tracked, closed before a fork and named at the doors like their CommonJS builds. On
// Node 20 the same stand-ins come from the module.register() hooks thread when another tool
// starts one (esm-cjs-hook.ts); without one they are door-only.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { installedNear, runsEsModules } from '../agent/esm-app';
import { mysqlUser, PG, pgSessions, REGISTER, ROOT, runFixture, stepFixture, tempDir, waitFor, withPgApp } from './helpers';
import { abortedFor, sessionIds } from './mysql-server';
import { nodeBinary, OTHER_NODE_MAJORS } from './node-versions';

const TARGET = `${PG.user}@${PG.host}:${PG.port}/${PG.database}`;
const APPS = join(__dirname, 'apps');
const MARIADB_LATEST = join(APPS, 'mariadb-latest');

// An ESM app on Drizzle and postgres.js, as its authors would write it; steps for the test.
const DRIZZLE_APP = `
import { fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { sql } from 'drizzle-orm';
const { default: forksafe } = await import(process.env.FORKSAFE_INDEX);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const step = async (value) => { console.log(JSON.stringify(value)); await lines.next(); };
const ours = () => forksafe.databases().map((d) => d.driver + ' ' + d.kind + ' ' + d.target + ' ' + d.total + '/' + d.idle);

const client = postgres({ connection: { application_name: process.env.PGAPPNAME }, max: 2 });
const db = drizzle(client);
await Promise.all([db.execute(sql\`select pg_sleep(0.05)\`), db.execute(sql\`select 1\`)]);
await step({ databases: ours() });
const child = fork(process.env.CHILD, [], { env: { ...process.env, CHILD_WAIT_MS: '1' } });
const forked = ours();
const childCode = await new Promise((resolve) => child.on('exit', resolve));
await step({ databases: forked, childCode });
const [row] = await db.execute(sql\`select 'again' as v\`);
await client.end();
console.log(JSON.stringify({ again: row.v, databases: ours() }));
process.exit(0);
`;

const withApp = <T>(fn: (name: string) => Promise<T>): Promise<T> => withPgApp('pgjs_esm', fn);

for (const major of OTHER_NODE_MAJORS) {
  const node = nodeBinary(major);

  for (const app of ['postgres-3.3', 'postgres-latest']) {
    test(`Node ${major}, ${app}: an instance of the ESM build is listed and its socket is named by it at the doors, as the CommonJS build's is`, async () => {
      await withApp(async (name) => {
        // Run from the app's folder, whose node_modules holds the driver, as an app is.
        const run = await runFixture('postgres/esm.mjs', { node, cwd: join(APPS, app), env: { PGJS_APP: app, PGAPPNAME: name, FORKSAFE_MODE: 'strict' } });
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(run.json, { viaImport: 1, viaRequire: 1, door: { name: 'ForkSafetyError', driver: 'postgres', target: TARGET }, after: 'after' });
      });
    });
  }

  test(`Node ${major}, postgres-latest ESM build: disconnectAll closes the idle connections only (server-side once settled), the transaction goes on, the instance reconnects lazily`, async () => {
    await withApp(async (name) => {
      const run = stepFixture('postgres/esm-disconnect.mjs', { node, cwd: join(APPS, 'postgres-latest'), env: { PGJS_APP: 'postgres-latest', PGAPPNAME: name } });
      const held = await run.next();
      assert.deepEqual(held.databases, [`pool ${TARGET} 3/2/1`]);
      assert.equal(held.statics, 'function', 'the statics of the default export are there');
      assert.equal(await pgSessions(name), 3);
      run.go();
      const disc = await run.next();
      assert.deepEqual(disc.result, { pools: 1, closed: 2, kept: 1 });
      assert.deepEqual(disc.databases, [`pool ${TARGET} 1/0/1`]);
      assert.equal(await pgSessions(name), 1, 'settled: the two idle sessions are gone server-side');
      run.go();
      const again = await run.next();
      assert.equal(again.tx, 'tx');
      assert.deepEqual(again.answered, [1, 2, 3]);
      assert.equal(await pgSessions(name), 3, 'the next queries opened new connections');
      run.go();
      const end = await run.done;
      assert.equal(end.code, 0, end.stderr);
      assert.deepEqual(end.json.databases, [], 'sql.end() takes the instance out of the registry');
      assert.equal(await waitFor(() => pgSessions(name), (n) => n === 0), 0);
    });
  });

  test(`Node ${major}: Drizzle on postgres.js in an ESM app written as users write it (bare imports): tracked with nothing added, its idle connections closed before child_process.fork (seen in pg_stat_activity), and it reconnects`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      // The app: its own folder, the fixture app's node_modules (drizzle-orm and postgres).
      symlinkSync(join(APPS, 'postgres-latest', 'node_modules'), join(dir, 'node_modules'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'esm-drizzle-app', private: true, type: 'module' }));
      writeFileSync(join(dir, 'server.js'), DRIZZLE_APP);
      await withApp(async (name) => {
        const run = stepFixture(join(dir, 'server.js'), { node, cwd: dir, env: { PGAPPNAME: name, FORKSAFE_INDEX: join(ROOT, 'dist', 'index.js'), CHILD: join(__dirname, 'fixtures', 'detect', 'child.js') } });
        const warm = await run.next();
        assert.deepEqual(warm.databases, [`postgres pool ${TARGET} 2/2`]);
        assert.equal(await pgSessions(name), 2);
        run.go();
        const forked = await run.next();
        assert.deepEqual(forked.databases, [`postgres pool ${TARGET} 0/0`], 'right after fork() returned');
        assert.equal(forked.childCode, 0);
        assert.equal(await waitFor(() => pgSessions(name), (n) => n === 0), 0, 'the two idle sessions are gone server-side');
        run.go();
        const end = await run.done;
        assert.equal(end.code, 0, end.stderr);
        assert.deepEqual(end.json, { again: 'again', databases: [] });
      });
    } finally {
      cleanup();
    }
  });

  test(`Node ${major}, mariadb-latest ESM build: pools and connections from the default object, the named exports and mariadb/callback are tracked and closed idle-only; the modules look as they do bare`, async () => {
    const my = await mysqlUser();
    try {
      const env = { APP: MARIADB_LATEST, MYSQL_USER: my.user, MYSQL_PASSWORD: '' };
      const run = await runFixture('mariadb/esm.mjs', { node, cwd: MARIADB_LATEST, env });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual([...run.json.databases].sort(), ['mariadb:connection:1/1', 'mariadb:pool:1/1', 'mariadb:pool:1/1', 'mariadb:pool:2/2'].sort());
      assert.deepEqual(run.json.closed, { pools: 3, closed: 4, kept: 1 }, 'the idle connections of the three pools; the one of createConnection is kept');
      assert.equal(run.json.again, 2);
      assert.equal(run.json.left, 0);
      const bare = await runFixture('mariadb/esm.mjs', { node, cwd: MARIADB_LATEST, nodeArgs: [], env });
      assert.equal(bare.code, 0, bare.stderr);
      assert.deepEqual(run.json.shape, bare.json.shape, 'same exports, same types, under the agent as bare');
      assert.equal(await waitFor(() => my.sessions(), (n) => n === 0), 0);
      assert.equal(await abortedFor(my.user), 0, 'every connection closed said goodbye');
    } finally {
      await my.drop();
    }
  });

  test(`Node ${major}, mariadb-latest ESM build: the pre-fork step of child_process.fork closes the idle pooled connections, seen in the processlist`, async () => {
    const my = await mysqlUser();
    try {
      const run = stepFixture(join(__dirname, 'fixtures', 'mariadb', 'prefork.mjs'), { node, cwd: MARIADB_LATEST, env: { APP: MARIADB_LATEST, MARIADB_BUILD: 'esm', MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
      const warm = await run.next();
      assert.deepEqual(warm.databases.map((d: any) => `${d.driver}:${d.kind}:${d.total}/${d.idle}/${d.active}`), ['mariadb:pool:3/2/1']);
      const idleIds = (await sessionIds(my.user)).filter((id) => !warm.kept.includes(id));
      assert.equal(idleIds.length, 2);
      run.go();
      const forked = await run.next();
      assert.deepEqual(forked.databases.map((d: any) => `${d.total}/${d.idle}/${d.active}`), ['1/0/1']);
      const after = await waitFor(() => sessionIds(my.user), (ids) => !ids.some((id) => idleIds.includes(id)));
      assert.ok(after.includes(warm.kept[0]), 'the checked-out connection remains');
      run.go();
      const end = await run.done;
      assert.equal(end.code, 0, end.stderr);
      assert.deepEqual(end.json.values, [1, 2]);
      assert.equal(await abortedFor(my.user), 0);
    } finally {
      await my.drop();
    }
  });

  test(`Node ${major}: a CommonJS app, or an ESM app with neither postgres nor mariadb installed near it, registers no module hook (it would cost every module loaded); the debug log says which`, async () => {
    const cjs = await runFixture('postgres/app.js', { node, cwd: join(APPS, 'postgres-latest'), env: { NODE_DEBUG: 'forksafe' } });
    assert.equal(cjs.code, 0, cjs.stderr);
    assert.match(cjs.stderr, /ES-module builds of the drivers are not hooked: the app is CommonJS/);
    await withApp(async (name) => {
      // From the repository's root: its node_modules has neither (the fixture imports postgres by path).
      const esm = await runFixture('postgres/esm.mjs', { node, env: { PGJS_APP: 'postgres-latest', PGAPPNAME: name, NODE_DEBUG: 'forksafe' } });
      assert.equal(esm.code, 0, esm.stderr);
      assert.match(esm.stderr, /ES-module builds of the drivers are not hooked: none of mariadb, postgres is installed near the app/);
      assert.equal(esm.json.viaImport, 0);
    });
  });
}

const hasRegisterHooks = typeof (require('node:module') as { registerHooks?: unknown }).registerHooks === 'function';

// Node 20 has no in-thread hook: the ESM builds are stood in for by the module.register()
// hooks thread when another tool starts one (tsx, a plain register() hook), and not otherwise.
const node20 = { skip: hasRegisterHooks && `Node ${process.versions.node} has registerHooks: the tests above cover it` };
const ASYNC_HOOK = join(__dirname, 'fixtures', 'core', 'async-hook.mjs');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');

test(`Node ${process.versions.node}: with no hooks thread the ESM build of postgres.js is not listed (its socket is caught at the doors by host:port), and the debug log says why`, node20, async () => {
  await withApp(async (name) => {
    const run = await runFixture('postgres/esm.mjs', { cwd: join(APPS, 'postgres-latest'), env: { NODE_DEBUG: 'forksafe', PGAPPNAME: name, FORKSAFE_MODE: 'strict' } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /ES-module builds of the drivers are hooked only in a module\.register\(\) hooks thread that another tool starts/);
    assert.deepEqual({ viaImport: run.json.viaImport, target: run.json.door.target }, { viaImport: 0, target: `${PG.host}:${PG.port}` });
  });
});

for (const [tool, flag] of [['a plain module.register() hook', ASYNC_HOOK], ['tsx', TSX]] as const) {
  for (const app of ['postgres-3.3', 'postgres-latest']) {
    test(`Node ${process.versions.node}, ${app}, --import ${tool}: its hooks thread stands in for the ESM build, which is listed and named at the doors by its instance`, node20, async () => {
      await withApp(async (name) => {
        const run = await runFixture('postgres/esm.mjs', { nodeArgs: ['-r', REGISTER, '--import', flag], cwd: join(APPS, app), env: { PGJS_APP: app, PGAPPNAME: name, FORKSAFE_MODE: 'strict' } });
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(run.json, { viaImport: 1, viaRequire: 1, door: { name: 'ForkSafetyError', driver: 'postgres', target: TARGET }, after: 'after' });
      });
    });
  }
}

test(`Node ${process.versions.node}, mariadb-latest ESM build, --import a plain module.register() hook: tracked and closed idle-only; the modules look as they do bare`, node20, async () => {
  const my = await mysqlUser();
  try {
    const env = { APP: MARIADB_LATEST, MYSQL_USER: my.user, MYSQL_PASSWORD: '' };
    const run = await runFixture('mariadb/esm.mjs', { nodeArgs: ['-r', REGISTER, '--import', ASYNC_HOOK], cwd: MARIADB_LATEST, env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual([...run.json.databases].sort(), ['mariadb:connection:1/1', 'mariadb:pool:1/1', 'mariadb:pool:1/1', 'mariadb:pool:2/2'].sort());
    assert.deepEqual(run.json.closed, { pools: 3, closed: 4, kept: 1 });
    const bare = await runFixture('mariadb/esm.mjs', { nodeArgs: ['--import', ASYNC_HOOK], cwd: MARIADB_LATEST, env });
    assert.equal(bare.code, 0, bare.stderr);
    assert.deepEqual(run.json.shape, bare.json.shape);
    assert.equal(await abortedFor(my.user), 0);
  } finally {
    await my.drop();
  }
});

test('which processes get the module hook: ES-module entries and flags (runsEsModules), drivers installed above the entry or the working directory, npm or pnpm (installedNear)', () => {
  const { dir, cleanup } = tempDir();
  try {
    const write = (file: string, text = '') => {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    };
    write('esm-pkg/package.json', '{"type":"module"}');
    write('esm-pkg/src/main.js');
    write('cjs-pkg/package.json', '{"name":"x"}');
    write('cjs-pkg/main.js');
    assert.equal(runsEsModules(join(dir, 'esm-pkg/src/main.js'), [], ''), true, '"type": "module" above the entry');
    assert.equal(runsEsModules(join(dir, 'cjs-pkg/main.js'), [], ''), false);
    assert.equal(runsEsModules(join(dir, 'esm-pkg/src/main.cjs'), [], ''), false, '.cjs is CommonJS anywhere');
    assert.equal(runsEsModules(join(dir, 'cjs-pkg/main.mjs'), [], ''), true, '.mjs is an ES module anywhere');
    assert.equal(runsEsModules(join(dir, 'cjs-pkg/main.js'), ['--import', 'tsx'], ''), true, 'an --import');
    assert.equal(runsEsModules(undefined, [], '--import=forksafe/register'), true, 'an --import in NODE_OPTIONS');
    assert.equal(runsEsModules(undefined, ['--input-type=module'], ''), true);
    assert.equal(runsEsModules(undefined, ['-r', 'forksafe/register'], '--max-old-space-size=100'), false, 'node -e with -r');

    write('npm-app/node_modules/postgres/package.json', '{"name":"postgres"}');
    write('npm-app/src/server.mjs');
    write('pnpm-repo/node_modules/.pnpm/mariadb@3.5.4/node_modules/mariadb/package.json', '{"name":"mariadb"}');
    write('pnpm-repo/apps/api/main.mjs');
    write('bare/main.mjs');
    assert.equal(installedNear(['postgres', 'mariadb'], join(dir, 'npm-app/src/server.mjs'), dir), true, 'above the entry');
    assert.equal(installedNear(['postgres', 'mariadb'], undefined, join(dir, 'npm-app/src')), true, 'above the working directory');
    assert.equal(installedNear(['postgres', 'mariadb'], join(dir, 'pnpm-repo/apps/api/main.mjs'), dir), true, "in pnpm's store");
    assert.equal(installedNear(['postgres', 'mariadb'], join(dir, 'bare/main.mjs'), join(dir, 'bare')), false);
  } finally {
    cleanup();
  }
});
