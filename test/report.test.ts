// The report file: many processes at once, configure() in code, and `forksafe run` with
// the real agent end to end.
import assert from 'node:assert/strict';
import cp, { spawn, spawnSync } from 'node:child_process';
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { FIXTURES, mysqlUser, PG, pgKill, REGISTER, ROOT, runFixture, tempDir, uniqueName } from './helpers';

test('16 processes writing hundreds of violations each to one report at the same moment, through the preload: no line torn, interleaved or lost', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const report = join(dir, 'r.jsonl');
    const go = join(dir, 'go');
    const writers = 16;
    const lines = 200;
    const env = { ...process.env, NODE_OPTIONS: '', FORKSAFE_REPORT: report, GO_FILE: go, LINES: String(lines) };
    // --no-warnings: each writer's one ForkSafetyWarning is not this test's subject.
    const started = Array.from({ length: writers }, () => spawn(process.execPath, ['--no-warnings', '-r', REGISTER, join(FIXTURES, 'report', 'writer.js')], { env, stdio: 'inherit' }));
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(go, '');
    const codes = await Promise.all(started.map((c) => new Promise((r) => c.on('exit', r))));
    assert.deepEqual(codes, Array(writers).fill(0));
    const text = readFileSync(report, 'utf8');
    const all = text.split('\n');
    assert.equal(all.pop(), '', 'ends with a newline');
    assert.equal(all.length, writers * lines);
    const seen = new Map<number, Set<number>>();
    for (const line of all) {
      const r = JSON.parse(line); // a torn or interleaved line would not parse
      assert.equal(r.type, 'violation');
      assert.equal(r.kind, 'stdio-inherit');
      const [probe, writer, seq, pad] = String(r.target).split(' ');
      assert.equal(probe, 'probe');
      assert.equal(Number(writer), r.pid, 'written by the process it names');
      assert.equal(pad!.length, [10, 3000, 5000, 70000][Number(seq) % 4]);
      assert.ok(/^x*$/.test(pad!));
      assert.ok(r.message.includes(r.target));
      const set = seen.get(r.pid) ?? new Set<number>();
      set.add(Number(seq));
      seen.set(r.pid, set);
    }
    assert.equal(seen.size, writers);
    for (const set of seen.values()) assert.equal(set.size, lines);
  } finally {
    cleanup();
  }
});

/** This process's (no agent here) child_process, cluster and pg functions, by their source. */
function ownSources(): Record<string, string> {
  const fns = { spawnSync: cp.spawnSync, execSync: cp.execSync, execFileSync: cp.execFileSync, fork: cp.fork, spawn: cp.ChildProcess.prototype.spawn, clusterFork: cluster.fork, pgConnect: pg.Client.prototype.connect };
  return Object.fromEntries(Object.entries(fns).map(([k, f]) => [k, createHash('sha1').update(Function.prototype.toString.call(f)).digest('hex')]));
}

test('configure(): strict in code, off and on again (pg, pg-pool and mysql2 untracked and unwatched while off, tracked and caught again after), bad options named', async () => {
  const { dir, cleanup } = tempDir();
  const app = uniqueName('configure');
  const my = await mysqlUser();
  try {
    const late = join(dir, 'late.jsonl');
    const run = await runFixture('report/configure.js', { env: { PGAPPNAME: app, MYSQL_USER: my.user, MYSQL_PASSWORD: '', LATE_REPORT: late } });
    assert.equal(run.code, 0, run.stderr);
    const s = run.json;
    assert.equal(s.default, 'ran', 'log mode lets the call go');
    assert.equal(s.strictSettings.mode, 'strict');
    assert.equal(s.strict, 'FORKSAFE_STDIO_INHERIT');
    assert.deepEqual(s.offSources, ownSources(), "off: the app sees Node's and pg's own functions again");
    assert.equal(s.off, 'ran', 'off: a socket tracked before is no longer watched');
    const each = (listed: number, door: string) => ({ pgPool: { listed, door }, pgClient: { listed, door }, mysql2Pool: { listed, door }, mysql2Connection: { listed, door } });
    assert.deepEqual(s.offOpened, each(0, 'ran'), 'off: what is opened now is neither tracked nor watched');
    assert.equal(s.onAgain, 'FORKSAFE_STDIO_INHERIT', 'on again: the socket tracked before is watched again');
    assert.deepEqual(s.onAgainOpened, each(1, 'FORKSAFE_STDIO_INHERIT'), 'on again: the libraries are patched again');
    assert.equal(s['bad {"mode":"loud"}'], 'ConfigError: configure({ mode })="loud" is not valid; accepted values: log, strict, off');
    assert.match(s['bad {"colour":"red"}'], /unknown option "colour"; accepted options: mode, onFork, report/);
    assert.match(s['bad "strict"'], /takes an object/);
    assert.match(s['bad {"report":42}'], /takes a file path or null, got number/);
    assert.deepEqual(s.violations, ['log', 'strict', 'strict', 'strict', 'strict', 'strict', 'strict']);
    const lines = readFileSync(late, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.mode), Array(6).fill('strict'), 'the report chosen in code received what came after');
  } finally {
    cleanup();
    await my.drop();
    await pgKill(app);
  }
});

test('forksafe run: the agent in every Node process of a command, one report, a summary, exit codes', async () => {
  const { dir, cleanup } = tempDir();
  const app = uniqueName('cliRun');
  try {
    const report = join(dir, 'run.jsonl');
    const cli = join(ROOT, 'dist', 'cli', 'main.js');
    const env = { ...process.env, NODE_OPTIONS: '', PGAPPNAME: app, PGHOST: PG.host, PGUSER: PG.user, PGDATABASE: PG.database, DRIVER: 'pg', DOOR: 'spawnSync-fd' };
    const door = join(FIXTURES, 'detect', 'door.js');
    const log = spawnSync(process.execPath, [cli, 'run', '--report', report, '--', process.execPath, door], { env, encoding: 'utf8' });
    assert.equal(log.status, 1, `violations found: exit 1\n${log.stderr}`);
    assert.match(log.stderr, /stdio-inherit/);
    assert.match(log.stderr, /door\.js:\d+:\d+/);
    const kinds = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l).kind).sort();
    assert.deepEqual(kinds, ['inherited-socket', 'stdio-inherit'], 'the command and its child wrote one report');

    const strict = spawnSync(process.execPath, [cli, 'run', '--strict', '--report', report, '--', process.execPath, door], { env, encoding: 'utf8' });
    assert.equal(strict.status, 1);
    assert.equal(JSON.parse(strict.stdout.trim()).threw.code, 'FORKSAFE_STDIO_INHERIT');

    const clean = spawnSync(process.execPath, [cli, 'run', '--report', report, '--', process.execPath, '-e', 'require("node:child_process").fork("-e", ["0"], { execArgv: [] })'], { env, encoding: 'utf8' });
    assert.equal(clean.status, 0, clean.stderr);
    assert.match(clean.stderr, /no violations/);
  } finally {
    cleanup();
    await pgKill(app);
  }
});
