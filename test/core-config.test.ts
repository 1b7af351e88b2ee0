// Configuration, and the agent being invisible: bad values stop the process before the
// app runs; FORKSAFE_MODE=off installs nothing; wrappers look like the originals; the
// agent's own errors never reach the app; loading it twice patches once.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { mysqlUser, pgKill, REGISTER, ROOT, runFixture, tempDir, uniqueName } from './helpers';

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
  assert.deepEqual(run.json.shape, bare.json.shape, 'the very functions Node has');
  assert.doesNotMatch(run.stderr, /patched/);
});

test('wrapped functions keep their name and length; errors of the original reach the caller unchanged', async () => {
  const bare = await runFixture('core/app-ran.js', { nodeArgs: [] });
  const agent = await runFixture('core/app-ran.js');
  assert.equal(bare.code, 0, bare.stderr);
  assert.equal(agent.code, 0, agent.stderr);
  assert.ok(Object.entries(agent.json.shape).every(([k, f]: [string, any]) => f.source !== bare.json.shape[k].source), 'everything is patched');
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
  try {
    // A second copy of the package, as a second node_modules/forksafe would be.
    const copy = join(dir, 'node_modules', 'forksafe');
    mkdirSync(copy, { recursive: true });
    cpSync(join(ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    const run = await runFixture('core/app-ran.js', {
      nodeArgs: ['-r', REGISTER, '-r', REGISTER, '-r', join(copy, 'dist', 'register.js')],
      env: { NODE_DEBUG: 'forksafe' },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr.split('\n').filter((l) => / patched child_process$/.test(l)).length, 1);
    assert.match(run.stderr, /already running \(forksafe [^)]+ from .*\): this copy from .* stays idle/);
  } finally {
    cleanup();
  }
});

test('--import with another loader (tsx): the loader thread stays idle, the app is patched once', async () => {
  const run = await runFixture('core/app-ran.js', { nodeArgs: ['--import', 'tsx', '-r', REGISTER], env: { NODE_DEBUG: 'forksafe' } });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr.split('\n').filter((l) => / patched child_process$/.test(l)).length, 1);
  assert.match(run.stderr, /module loader thread: idle/);
});
