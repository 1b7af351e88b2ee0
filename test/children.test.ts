// Children keep running because of the agent, never die of it: they find it from any cwd,
// go on (strict mode included) without a report they cannot open, and keep the settings
// their caller gave them.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PG, pgKill, readReport, REGISTER, ROOT, runFixture, tempDir, uniqueName } from './helpers';

const parent = join('children', 'parent.js');

for (const [how, nodeArgs, env] of [
  ['-r forksafe/register', ['-r', 'forksafe/register'], {}],
  ['--import forksafe/register', ['--import', 'forksafe/register'], {}],
  ['NODE_OPTIONS="-r forksafe/register"', [], { NODE_OPTIONS: '-r forksafe/register' }],
] as const) {
  test(`a child started in another cwd finds the agent (${how})`, async () => {
    // Run from the repository, where `forksafe/register` resolves (the package refers to itself).
    const run = await runFixture(parent, { cwd: ROOT, nodeArgs: [...nodeArgs], env: { SCENARIO: 'cwd', ...env } });
    assert.equal(run.code, 0, run.stderr);
    for (const name of ['fork', 'spawn'] as const) {
      const c = run.json[name];
      assert.equal(c.code, 0, `${name}: ${c.stderr}`);
      assert.equal(c.reply.cwd, '/');
      assert.equal(c.reply.agent, true, `${name}: the agent runs in the child`);
    }
  });
}

test('a child that cannot open the report (a uid drop, in fork and cluster.setupPrimary) runs on, strict mode still enforced, and says so once', async () => {
  const { dir, cleanup } = tempDir();
  const appName = uniqueName('uid');
  try {
    // The nobody user must reach the fixture's folder; the report itself stays 0600, root's.
    chmodSync(dir, 0o755);
    const report = join(dir, 'report.jsonl');
    const run = await runFixture(parent, { env: { SCENARIO: 'uid', FORKSAFE_MODE: 'strict', FORKSAFE_REPORT: report, PGAPPNAME: appName, PGHOST: PG.host } });
    assert.equal(run.code, 0, run.stderr);
    for (const name of ['fork', 'cluster'] as const) {
      const c = run.json[name];
      assert.equal(c.code, 0, `${name} exits normally: ${c.stderr}`);
      assert.equal(c.reply.uid, 65534);
      assert.equal(c.reply.agent, true);
      assert.equal(c.reply.settings.mode, 'strict');
      assert.equal(c.reply.door, 'ForkSafetyError', `${name}: strict mode holds without a report`);
      const said = c.stderr.split('\n').filter((l: string) => l.startsWith('forksafe: '));
      assert.equal(said.length, 1, `${name} says it once: ${c.stderr}`);
      assert.match(said[0], /FORKSAFE_REPORT=.*cannot be opened for appending \(EACCES\);.*; this process goes on without writing it$/);
    }
    // The parent's report still got the parent's own fork records.
    assert.ok(readReport(report).some((r) => r.type === 'fork'));
  } finally {
    cleanup();
    await pgKill(appName);
  }
});

test("a child started after the report's folder was removed runs on", async () => {
  const { dir, cleanup } = tempDir();
  const appName = uniqueName('gone');
  try {
    const sub = join(dir, 'reports');
    mkdirSync(sub);
    const run = await runFixture(parent, { env: { SCENARIO: 'report-gone', FORKSAFE_MODE: 'strict', FORKSAFE_REPORT: join(sub, 'r.jsonl'), PGAPPNAME: appName } });
    assert.equal(run.code, 0, run.stderr);
    const c = run.json.fork;
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.reply.door, 'ForkSafetyError');
    assert.match(c.stderr, /cannot be opened for appending \(ENOENT\)/);
  } finally {
    cleanup();
    await pgKill(appName);
  }
});

test("a child's own explicit settings win over the parent's; a bad one is said once and does not stop it", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const report = join(dir, 'parent.jsonl');
    const other = join(dir, 'child.jsonl');
    // The parent has NODE_OPTIONS of its own, so a child's empty one is the caller's choice.
    const run = await runFixture(parent, { env: { SCENARIO: 'explicit', FORKSAFE_MODE: 'strict', FORKSAFE_REPORT: report, OTHER_REPORT: other, NODE_OPTIONS: '--no-deprecation' } });
    assert.equal(run.code, 0, run.stderr);
    const { off, report: ownReport, propagate, nodeOptions, inherited, badMode } = run.json;
    for (const [name, c] of Object.entries<any>(run.json)) assert.equal(c.code, 0, `${name}: ${c.stderr}`);
    assert.equal(off.reply.settings.mode, 'off');
    assert.equal(ownReport.reply.settings.report, other);
    assert.equal(ownReport.reply.settings.mode, 'strict', 'what the child did not set comes from the parent');
    assert.equal(propagate.reply.settings.propagate, false);
    assert.equal(nodeOptions.reply.agent, false, "NODE_OPTIONS='' keeps the child free of preloads");
    assert.deepEqual(inherited.reply.settings, { mode: 'strict', onFork: 'disconnect', report, propagate: true, disable: [], allow: [] });
    assert.equal(badMode.reply.settings.mode, 'log', 'a bad value of its own falls back to the default');
    assert.match(badMode.stderr, /^forksafe: FORKSAFE_MODE="strcit" is not valid; accepted values: log, strict, off; this child process uses the default instead$/m);
  } finally {
    cleanup();
  }
});

test('a bad setting in the first process still stops it before the app runs', async () => {
  const run = await runFixture(join('core', 'app-ran.js'), { nodeArgs: ['-r', REGISTER], env: { FORKSAFE_MODE: 'strcit' } });
  assert.equal(run.code, 9);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /^forksafe: FORKSAFE_MODE="strcit" is not valid/);
});
