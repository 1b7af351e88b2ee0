// Configuration, and the agent being invisible: bad values stop the process before the
// app runs; FORKSAFE_MODE=off installs nothing; wrappers look like the originals; the
// agent's own errors never reach the app; loading it twice patches once.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { mysqlUser, pgKill, readReport, REGISTER, ROOT, runFixture, tempDir, uniqueName } from './helpers';

const BAD: Array<[string, string, string]> = [
  ['FORKSAFE_MODE', 'strcit', 'log, strict, off'],
  ['FORKSAFE_ON_FORK', 'close', 'disconnect, keep'],
  ['FORKSAFE_PROPAGATE', 'yes', '1, 0'],
];

for (const [name, value, accepted] of BAD) {
  test(`${name}=${value} stops the process before the app runs, with one line naming it`, async () => {
    const run = await runFixture('core/app-ran.js', { env: { [name]: value } });
    assert.notEqual(run.code, 0);
    assert.equal(run.stdout, '', 'the app did not run');
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.ok(lines[0]!.includes(name) && lines[0]!.includes(JSON.stringify(value)) && lines[0]!.includes(accepted), lines[0]);
  });
}

test('FORKSAFE_REPORT in a directory that does not exist stops the process the same way', async () => {
  const run = await runFixture('core/app-ran.js', { env: { FORKSAFE_REPORT: '/nonexistent-dir/forksafe.jsonl' } });
  assert.notEqual(run.code, 0);
  assert.equal(run.stdout, '');
  assert.match(run.stderr.trim(), /^forksafe: FORKSAFE_REPORT="\/nonexistent-dir\/forksafe\.jsonl" cannot be opened for appending \(ENOENT\)/);
});

test('FORKSAFE_MODE=off installs nothing', async () => {
  const bare = await runFixture('core/app-ran.js', { nodeArgs: [] });
  const run = await runFixture('core/app-ran.js', { env: { FORKSAFE_MODE: 'off', NODE_DEBUG: 'forksafe' } });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.json.shape, bare.json.shape, "the app sees Node's own functions");
  assert.doesNotMatch(run.stderr, /patched/);
});

test('wrapped functions keep their name and length; errors of the original reach the caller unchanged', async () => {
  const bare = await runFixture('core/app-ran.js', { nodeArgs: [] });
  const agent = await runFixture('core/app-ran.js');
  assert.equal(bare.code, 0, bare.stderr);
  assert.equal(agent.code, 0, agent.stderr);
  for (const [k, f] of Object.entries<any>(agent.json.shape)) assert.notEqual(f.source, bare.json.shape[k].source, `${k} is patched`);
  const strip = (shape: any) => Object.fromEntries(Object.entries(shape).map(([k, v]: [string, any]) => [k, { name: v.name, length: v.length }]));
  assert.deepEqual(strip(agent.json.shape), strip(bare.json.shape));
  assert.deepEqual(agent.json.thrown, bare.json.thrown);
});

test("an internal error of the agent (a driver's private fields changed upstream) never reaches the app", async () => {
  const my = await mysqlUser();
  const app = uniqueName('broken');
  try {
    const run = await runFixture('core/broken-internals.js', { env: { PGAPPNAME: app, MYSQL_USER: my.user, MYSQL_PASSWORD: '', NODE_DEBUG: 'forksafe' } });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.json, { first: { closed: 0 }, second: { closed: 0 }, childExit: 0, mysql: 7, pg: 8, databases: 0 });
    const errors = run.stderr.split('\n').filter((l) => l.includes('internal error in'));
    assert.equal(errors.filter((l) => l.includes('mysql2.disconnectIdle')).length, 1, 'reported once through the debug log');
    assert.equal(errors.filter((l) => l.includes('pg.disconnectIdle')).length, 1);
    assert.doesNotMatch(run.stderr, /APP ERROR/);
  } finally {
    await my.drop();
    await pgKill(app);
  }
});

test('loaded twice (-r twice, and a second installed copy): patched once, one disconnect per fork', async () => {
  const { dir, cleanup } = tempDir();
  const app = uniqueName('twice');
  try {
    // A second copy of the package, as a second node_modules/forksafe would be.
    const copy = join(dir, 'node_modules', 'forksafe');
    mkdirSync(copy, { recursive: true });
    cpSync(join(ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    const report = join(dir, 'r.jsonl');
    const run = await runFixture('core/app-ran.js', {
      nodeArgs: ['-r', REGISTER, '-r', REGISTER, '-r', join(copy, 'dist', 'register.js')],
      env: { NODE_DEBUG: 'forksafe', FORK_WITH_POOL: '1', PGAPPNAME: app, FORKSAFE_REPORT: report },
    });
    assert.equal(run.code, 0, run.stderr);
    // The app's own debug lines (its child runs the agent too, and logs its own start).
    const own = run.stderr.split('\n').filter((l) => l.startsWith(`FORKSAFE ${run.json.pid}: `));
    assert.equal(own.filter((l) => / patched child_process$/.test(l)).length, 1);
    assert.ok(own.some((l) => /already running \(forksafe [^)]+ from .*\): this copy from .* stays idle/.test(l)), run.stderr);
    // The app forked once with a pool of two idle connections: one pre-fork step ran, and it
    // closed both (a second copy's step would have found nothing left and said so too).
    assert.equal(run.json.forked.before, 2);
    const forks = readReport(report).filter((l) => l.type === 'fork');
    assert.deepEqual(forks.map(({ api, pools, closed, pid }) => ({ api, pools, closed, pid })), [{ api: 'child_process.fork', pools: 1, closed: 2, pid: run.json.pid }]);
    // (The fixture's earlier cp.fork(42) runs an empty pre-fork step before Node rejects it.)
    assert.deepEqual(own.filter((l) => / before child_process\.fork: [1-9]/.test(l)).map((l) => l.replace(/, [\d.]+ ms$/, '')), [`FORKSAFE ${run.json.pid}: before child_process.fork: 1 pools, 2 closed, 0 kept`], 'one disconnect, in the debug log too');
  } finally {
    cleanup();
    await pgKill(app);
  }
});

// tsx 4.23 registers its hooks in the application's thread with module.registerHooks from
// Node 22.22.3, 24.11.1 and 25.1 (its own table, dist/temporary-directory-*.mjs), and with
// module.register, in a hooks thread, before: a hooks thread runs the -r preloads too.
function tsxHooksInThread(): boolean {
  const [major, minor, patch] = process.versions.node.split('.').map(Number) as [number, number, number];
  const from = ({ 22: [22, 3], 24: [11, 1], 25: [1, 0] } as Record<number, [number, number]>)[major];
  if (!from) return major > 25;
  return minor > from[0] || (minor === from[0] && patch >= from[1]);
}

test('--import with another loader (tsx): the app is patched once; a loader thread, where tsx starts one, stays idle', async () => {
  const run = await runFixture('core/app-ran.js', { nodeArgs: ['--import', 'tsx', '-r', REGISTER], env: { NODE_DEBUG: 'forksafe', APP_RAN_LINGER_MS: '500' } });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr.split('\n').filter((l) => / patched child_process$/.test(l)).length, 1);
  if (tsxHooksInThread()) assert.doesNotMatch(run.stderr, /module loader thread/, 'tsx hooks in this thread: there is no loader thread');
  else assert.match(run.stderr, /module loader thread: idle/);
});

test('--import of a module.register() hook: the hooks thread (on every Node) stays idle, the app is patched once', async () => {
  const hook = join(ROOT, 'test', 'fixtures', 'core', 'async-hook.mjs');
  const run = await runFixture('core/app-ran.js', { nodeArgs: ['--import', hook, '-r', REGISTER], env: { NODE_DEBUG: 'forksafe', APP_RAN_LINGER_MS: '500' } });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.json?.ran, true, run.stdout);
  assert.equal(run.stderr.split('\n').filter((l) => / patched child_process$/.test(l)).length, 1, run.stderr);
  assert.match(run.stderr, /module loader thread: idle/);
});
