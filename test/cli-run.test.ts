import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { withPreload as withAgent } from '../agent/propagate';

// The compiled CLI and the agent next to it (`npm test` builds both first). The commands
// below are real Node processes, so the agent really is preloaded into them.
const DIST = resolve(__dirname, '..', 'dist');
const MAIN = join(DIST, 'cli', 'main.js');
const REGISTER = join(DIST, 'register.js');
const PRELOAD = `--require "${REGISTER}"`;
const dir = mkdtempSync(join(tmpdir(), 'forksafe-cli-run-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The test runner's own settings must not leak into the command under test. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name === 'NODE_OPTIONS' || name.startsWith('FORKSAFE_')) delete env[name];
  return { ...env, ...extra };
}

function forksafe(args: string[], options: SpawnSyncOptions = {}) {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run npm run build`);
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: cleanEnv(), cwd: dir, ...options });
  return { code: result.status, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** `forksafe run [flags] -- node -e <script>`. */
function runNode(flags: string[], script: string, options: SpawnSyncOptions = {}) {
  return forksafe(['run', ...flags, '--', process.execPath, '-e', script], options);
}

let reports = 0;
const newReport = (): string => join(dir, `run-${++reports}.jsonl`);

const violationLine = JSON.stringify({
  v: 1,
  type: 'violation',
  time: '2026-11-26T13:00:00.000Z',
  pid: 123,
  ppid: 100,
  kind: 'handle-transfer',
  code: 'FORKSAFE_HANDLE_TRANSFER',
  mode: 'log',
  message: 'a pg socket was sent to another process',
  api: 'ChildProcess.send',
  driver: 'pg',
  target: 'postgres@127.0.0.1:5432/test',
  socket: { local: '127.0.0.1:50000', remote: '127.0.0.1:5432' },
  site: '/app/a.js:10:5',
  stack: 'Error\n    at send (/app/a.js:10:5)',
  openedAt: '    at openDb (/app/db.js:3:14)',
  openedSite: '/app/db.js:3:14',
});

// What the command does: check it runs with the agent preloaded, then record a violation
// as the agent would.
const recordViolation = `
  const assert = require('node:assert');
  assert.ok(process.env.NODE_OPTIONS.includes(${JSON.stringify(PRELOAD)}), 'NODE_OPTIONS: ' + process.env.NODE_OPTIONS);
  require('node:fs').appendFileSync(process.env.FORKSAFE_REPORT, ${JSON.stringify(violationLine + '\n')});
`;

test('run preloads the agent, and a recorded violation exits 1 with the summary on stderr', () => {
  const report = newReport();
  const { code, stdout, stderr } = runNode(['--report', report], recordViolation + 'console.log("app output")');
  assert.equal(code, 1, stderr);
  assert.equal(stdout, 'app output\n', 'the command keeps stdout');
  assert.equal(
    stderr,
    [
      '',
      `forksafe report: ${report}`,
      '1 violation in 1 process; no forks',
      'by kind: handle-transfer 1',
      '',
      'handle-transfer (1)',
      '  1  /app/a.js:10:5  ChildProcess.send',
      '     pg postgres@127.0.0.1:5432/test, opened at /app/db.js:3:14',
      '',
    ].join('\n'),
  );
});

test("run exits with the command's own code when it is not 0, violations or not", () => {
  const clean = runNode(['--report', newReport()], 'process.exit(3)');
  assert.equal(clean.code, 3);
  assert.match(clean.stderr, /^no violations; no forks$/m);

  const violating = runNode(['--report', newReport()], recordViolation + 'process.exitCode = 3');
  assert.equal(violating.code, 3);
  assert.match(violating.stderr, /^1 violation in 1 process; no forks$/m);
});

test('run without --report writes to a new file in the temp directory and deletes it afterwards', () => {
  // A temp directory of its own (os.tmpdir() reads TMPDIR), so "nothing left" can be checked.
  const tmp = mkdtempSync(join(dir, 'tmp-'));
  const { code, stderr } = runNode([], `
    const report = process.env.FORKSAFE_REPORT;
    if (!require('node:path').isAbsolute(report) || !require('node:fs').existsSync(report)) process.exit(9);
    require('node:fs').appendFileSync(report, ${JSON.stringify(violationLine + '\n')});
  `, { env: cleanEnv({ TMPDIR: tmp }) });
  assert.equal(code, 1, stderr);
  const reported = /^forksafe report: (.+) \(deleted; --keep-report keeps it\)$/m.exec(stderr)?.[1];
  assert.ok(reported !== undefined, stderr);
  assert.equal(dirname(reported), tmp);
  assert.match(basename(reported), /^forksafe-\d+-\d+\.jsonl$/);
  assert.match(stderr, /^1 violation in 1 process; no forks$/m);
  assert.deepEqual(readdirSync(tmp), [], 'the default report is gone');

  // A command that cannot start leaves nothing either.
  assert.equal(forksafe(['run', '--', 'forksafe-no-such-command'], { env: cleanEnv({ TMPDIR: tmp }) }).code, 127);
  assert.deepEqual(readdirSync(tmp), []);
});

test('run --keep-report keeps the default report; a --report file is always kept', () => {
  const tmp = mkdtempSync(join(dir, 'tmp-'));
  const kept = runNode(['--keep-report'], recordViolation, { env: cleanEnv({ TMPDIR: tmp }) });
  assert.equal(kept.code, 1, kept.stderr);
  const reported = /^forksafe report: (.+)$/m.exec(kept.stderr)?.[1];
  assert.ok(reported !== undefined && !reported.includes('deleted'), kept.stderr);
  assert.deepEqual(readdirSync(tmp), [basename(reported)]);
  assert.equal(readFileSync(reported, 'utf8'), violationLine + '\n');
  assert.equal(statSync(reported).mode & 0o777, 0o600, 'the report holds stacks and targets: owner only');

  const report = newReport();
  assert.equal(runNode(['--report', report], recordViolation).code, 1);
  assert.equal(readFileSync(report, 'utf8'), violationLine + '\n');

  const both = forksafe(['run', '--keep-report', '--report', report, '--', 'node']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /^forksafe run: --keep-report is for the default report/);
});

test('run --format writes that format: to --out, or to stdout once the command has ended', () => {
  const tmp = mkdtempSync(join(dir, 'tmp-'));
  const out = join(dir, 'run-page.html');
  const page = runNode(['--format', 'html', '--out', out], recordViolation + 'console.log("app output")', { env: cleanEnv({ TMPDIR: tmp }) });
  assert.equal(page.code, 1, page.stderr);
  assert.equal(page.stdout, 'app output\n');
  assert.match(page.stderr, /^forksafe run: report: .+ \(deleted\)$/m);
  assert.match(readFileSync(out, 'utf8'), /^<!doctype html>/);
  assert.deepEqual(readdirSync(tmp), [], 'the default report is deleted after the page is written');

  const github = runNode(['--format=github'], recordViolation + 'console.log("app output")', { env: cleanEnv({ TMPDIR: tmp }) });
  assert.equal(github.code, 1, github.stderr);
  const [app, annotation, ...rest] = github.stdout.split('\n');
  assert.equal(app, 'app output', "the command's output comes first");
  assert.match(annotation!, /^::error title=forksafe handle-transfer::a pg socket was sent to another process \[at \/app\/a\.js:10:5\]$/);
  assert.deepEqual(rest, ['']);

  const unwritable = runNode(['--format', 'junit', '--out', join(dir, 'no-such-dir', 'x.xml')], 'process.exit(0)', { env: cleanEnv({ TMPDIR: tmp }) });
  assert.equal(unwritable.code, 2, 'an output that cannot be written is an error, even for a clean run');
  assert.match(unwritable.stderr, /^forksafe run: cannot write .+x\.xml: no such file$/m);

  const bad = forksafe(['run', '--format', 'pdf', '--', 'node']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^forksafe run: unknown format 'pdf' \(accepted: text, json, html, github, junit; /);
});

test('run --strict sets FORKSAFE_MODE=strict; without it the mode is left alone', () => {
  const report = newReport();
  assert.equal(runNode(['--strict', '--report', report], 'process.exit(process.env.FORKSAFE_MODE === "strict" ? 0 : 5)').code, 0);
  assert.equal(runNode(['--report', report], 'process.exit(process.env.FORKSAFE_MODE === undefined ? 0 : 5)').code, 0);
});

test('run makes --report absolute and starts it empty', () => {
  const report = join(dir, 'relative.jsonl');
  writeFileSync(report, violationLine + '\n');
  const { code, stderr } = runNode(['--report', 'relative.jsonl'], `process.exit(process.env.FORKSAFE_REPORT === ${JSON.stringify(report)} ? 0 : 5)`);
  assert.equal(code, 0, 'a violation left by an earlier run does not count: ' + stderr);
  assert.equal(readFileSync(report, 'utf8'), '');
});

test('run keeps the NODE_OPTIONS it was given and adds the agent once', () => {
  const countPreloads = `
    const options = process.env.NODE_OPTIONS;
    if (!options.includes('--max-old-space-size=200')) process.exit(6);
    process.exit(options.split(${JSON.stringify(REGISTER)}).length - 1 === 1 ? 0 : 4);
  `;
  const given = forksafe(['run', '--report', newReport(), '--', process.execPath, '-e', countPreloads], {
    env: cleanEnv({ NODE_OPTIONS: '--max-old-space-size=200' }),
  });
  assert.equal(given.code, 0, 'one --require of register.js');

  const already = forksafe(['run', '--report', newReport(), '--', process.execPath, '-e', countPreloads], {
    env: cleanEnv({ NODE_OPTIONS: `--max-old-space-size=200 ${PRELOAD}` }),
  });
  assert.equal(already.code, 0, 'still one --require of register.js');
});

test('run exits 128 + the signal number when the command dies of a signal', { skip: process.platform === 'win32' }, () => {
  const { code, stderr } = runNode(['--report', newReport()], 'process.kill(process.pid, "SIGTERM")');
  assert.equal(code, 128 + 15);
  assert.match(stderr, /^no violations; no forks$/m);
});

test('run forwards SIGTERM to the command and still prints the summary', { skip: process.platform === 'win32' }, async () => {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run npm run build`);
  const script = 'process.on("SIGTERM", () => process.exit(7)); setInterval(() => {}, 1000); console.log("ready")';
  const cli = spawn(process.execPath, [MAIN, 'run', '--report', newReport(), '--', process.execPath, '-e', script], {
    env: cleanEnv(),
    cwd: dir,
  });
  let stderr = '';
  cli.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [ready] = (await once(cli.stdout, 'data')) as [Buffer];
  assert.equal(ready.toString(), 'ready\n');
  cli.kill('SIGTERM');
  const [code] = (await once(cli, 'exit')) as [number | null];
  assert.equal(code, 7, stderr);
  assert.match(stderr, /^no violations; no forks$/m);
});

test('run of a command that does not exist exits 127 with one line', () => {
  const { code, stdout, stderr } = forksafe(['run', '--report', newReport(), '--', 'forksafe-no-such-command', '--flag']);
  assert.equal(code, 127);
  assert.equal(stdout, '');
  assert.equal(stderr, "forksafe run: cannot start 'forksafe-no-such-command': command not found\n");
});

test('run usage errors exit 2 with one line naming what is accepted', () => {
  const usage = 'usage: forksafe run [--strict] [--report <file> | --keep-report] [--format <format>] [--out <path>] -- <command> [args...]';
  const accepted = '--strict, --report <file>, --keep-report, --format <text|json|html|github|junit>, --out <path>';
  const cases: Array<[string[], string]> = [
    [['run'], `forksafe run: missing '--' and the command to run (${usage})`],
    [['run', 'node', 'app.js'], `forksafe run: missing '--' before the command 'node' (${usage})`],
    [['run', '--strict', '--'], `forksafe run: no command after '--' (${usage})`],
    [['run', '--stirct', '--', 'node'], `forksafe run: unknown option '--stirct' (accepted: ${accepted}; ${usage})`],
    [['run', '--report', '--', 'node'], `forksafe run: --report needs a file path (${usage})`],
  ];
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = forksafe(args);
    assert.equal(code, 2, args.join(' '));
    assert.equal(stdout, '');
    assert.equal(stderr, message + '\n');
  }
});

test('the NODE_OPTIONS preload survives spaces, quotes and backslashes in the path', { skip: process.platform === 'win32' }, () => {
  const odd = join(dir, 'my "odd" dir\\x');
  mkdirSync(odd);
  const preload = join(odd, 'preload.js');
  writeFileSync(preload, 'globalThis.preloaded = true;');
  const options = withAgent('--max-old-space-size=200', preload);
  assert.equal(withAgent(options, preload), options, 'not added twice');
  const result = spawnSync(process.execPath, ['-e', 'process.exit(globalThis.preloaded ? 0 : 5)'], {
    env: cleanEnv({ NODE_OPTIONS: options }),
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `NODE_OPTIONS=${options}: ${result.stderr}`);
});
