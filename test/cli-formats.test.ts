import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import { appendFileSync, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { once } from 'node:events';
import { ROOT, tempDir } from './helpers';
import { runTreeApp, type TreeRun } from './fixtures/cli/tree-report';
import type { Summary } from '../cli/summary';

const MAIN = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
const MAX_RSS = resolve(__dirname, 'fixtures', 'cli', 'max-rss.js');
const TREE_APP = resolve(__dirname, 'fixtures', 'cli', 'tree-app.js');
const { dir, cleanup } = tempDir();
after(cleanup);

function cli(args: string[], options: SpawnSyncOptions = {}) {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run npm run build`);
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 256 << 20, ...options });
  return { code: result.status, stdout: String(result.stdout), stderr: String(result.stderr) };
}

let run: TreeRun;
before(async () => {
  run = await runTreeApp(dir);
});

/** The line of the fixture that holds `code` (1-based): where the agent must point. */
function fixtureLine(code: string): number {
  const lines = readFileSync(TREE_APP, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(code));
  assert.ok(i >= 0, code);
  return i + 1;
}

interface Annotation {
  level: string;
  properties: Record<string, string>;
  message: string;
}

// The runner's own reading of a workflow command: `::name k=v,k=v::data`, with %-escapes.
function parseWorkflowCommands(output: string): Annotation[] {
  const unescape = (s: string) => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%');
  return output
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const m = /^::(error|warning|notice) ?([^:]*)::(.*)$/.exec(line);
      assert.ok(m, `not a workflow command: ${line}`);
      const properties: Record<string, string> = {};
      for (const pair of m[2]!.split(',').filter((p) => p !== '')) {
        const eq = pair.indexOf('=');
        properties[pair.slice(0, eq)] = unescape(pair.slice(eq + 1));
      }
      return { level: m[1]!, properties, message: unescape(m[3]!) };
    });
}

test('the real run recorded the tree the tests expect (parent, 2 cluster workers, a helper, a job, a spawned child)', () => {
  const forks = run.records.filter((r) => r.type === 'fork');
  assert.deepEqual(forks.map((f) => [f.pid, f.api, f.childPid]).sort(), [
    [run.tree.primary, 'cluster.fork', run.tree.workers[0]],
    [run.tree.primary, 'cluster.fork', run.tree.workers[1]],
    [run.tree.primary, 'child_process.fork', run.tree.job],
    [run.tree.workers[0], 'child_process.fork', run.tree.helpers[0]],
  ].sort());
  assert.ok(forks.filter((f) => f.closed > 0).length >= 3, 'several forks closed connections');
  const violations = run.records.filter((r) => r.type === 'violation');
  const of = (pid: number) => violations.filter((v) => v.pid === pid).map((v) => v.kind).sort();
  assert.deepEqual(of(run.tree.primary), ['handle-transfer', 'stdio-inherit'], 'the primary gave two connections away');
  assert.deepEqual(of(run.tree.spawned), ['inherited-socket'], 'the spawned child inherited one');
  // The job received the other over IPC; what the agent records on its side is its own business.
  assert.ok(violations.every((v) => [run.tree.primary, run.tree.spawned, run.tree.job].includes(v.pid)));
  // The agent's own fields the formats show as recorded (openedSite, command: issue 12).
  for (const v of violations) assert.match(v.openedSite, new RegExp(`^${TREE_APP.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+$`), v.kind);
  assert.equal(forks.find((f) => f.childPid === run.tree.job).command, TREE_APP);
});

test('--format github: one ::error per violation call site, on the right file and line, relative to the current directory', () => {
  const { code, stdout, stderr } = cli(['report', run.report, '--format', 'github']);
  assert.equal(stderr, '');
  assert.equal(code, 1);
  const annotations = parseWorkflowCommands(stdout);
  const violations = run.records.filter((r) => r.type === 'violation');
  // Each call site once: a site in the checkout is the annotation's place, another one is named in its text.
  const sites = new Set(violations.map((v) => `${v.kind} ${v.site}`));
  assert.equal(annotations.length, sites.size, stdout);
  const annotationOf = (kind: string, site: string) => {
    const matching = annotations.filter(
      (a) =>
        a.properties.title === `forksafe ${kind}` &&
        (a.message.includes(`[at ${site}`) || (a.properties.file !== undefined && join(ROOT, a.properties.file) + `:${a.properties.line}:${a.properties.col}` === site)),
    );
    assert.equal(matching.length, 1, `${kind} at ${site} appears exactly once`);
    assert.equal(matching[0]!.level, 'error');
    return matching[0]!.properties;
  };
  for (const v of violations) annotationOf(v.kind, v.site);
  const at = (kind: string) => annotationOf(kind, violations.find((v) => v.kind === kind && v.pid !== run.tree.job).site);
  const fixture = relative(ROOT, TREE_APP);
  assert.equal(at('handle-transfer').file, fixture);
  assert.equal(Number(at('handle-transfer').line), fixtureLine('job.send({ take: true }'));
  assert.equal(at('stdio-inherit').file, fixture);
  assert.equal(Number(at('stdio-inherit').line), fixtureLine('const spawned = cp.spawn('));
  // The inherited socket's call is the child's start-up: shown where the connection was opened.
  assert.equal(at('inherited-socket').file, fixture);
  assert.equal(Number(at('inherited-socket').line), fixtureLine('const inherited = await pool.connect()'));
  for (const a of annotations) {
    if (a.properties.file === undefined) continue;
    assert.ok(!a.properties.file.startsWith('/') && !a.properties.file.startsWith('..'), a.properties.file);
    assert.ok(!a.properties.file.startsWith('node:') && !a.properties.file.startsWith('dist/'), a.properties.file);
    assert.ok(Number(a.properties.col) > 0);
  }
  // From another directory the same sites are outside the checkout: no file, the site in the text.
  const elsewhere = parseWorkflowCommands(cli(['report', run.report, '--format', 'github'], { cwd: dir }).stdout);
  assert.equal(elsewhere.length, sites.size);
  for (const a of elsewhere) assert.equal(a.properties.file, undefined, 'a file outside the current directory is not named');
  assert.ok(elsewhere.some((a) => a.message.includes(TREE_APP)));
});

test('malformed lines are listed, not fatal, in every format', () => {
  const file = join(dir, 'damaged.jsonl');
  appendFileSync(file, readFileSync(run.report));
  const first = run.records.length + 1;
  appendFileSync(file, 'not json at all\n' + 'x'.repeat((1 << 20) + 10) + '\n{"v":7,"type":"fork"}\n');
  const expected = [
    { line: first, reason: 'not JSON' },
    { line: first + 1, reason: `line too long (${(1 << 20) + 10} bytes)` },
    { line: first + 2, reason: 'unknown v: 7' },
  ];

  const text = cli(['report', file]);
  assert.equal(text.code, 1);
  for (const m of expected) assert.ok(text.stdout.includes(`  line ${m.line}: ${m.reason}\n`), text.stdout);

  const json = JSON.parse(cli(['report', file, '--format', 'json']).stdout) as Summary;
  assert.deepEqual(json.malformed, { count: 3, lines: expected });

  const github = cli(['report', file, '--format', 'github']);
  assert.equal(github.code, 1);
  const warnings = parseWorkflowCommands(github.stdout).filter((a) => a.level === 'warning');
  assert.deepEqual(warnings.map((w) => w.message), expected.map((m) => `${file} line ${m.line}: ${m.reason} (skipped)`));

  const junit = cli(['report', file, '--format', 'junit']);
  assert.equal(junit.code, 1);
  const err = /<testcase classname="forksafe.report" name="malformed lines">\s*<system-err>([^<]*)<\/system-err>/.exec(junit.stdout)?.[1];
  assert.ok(err !== undefined, junit.stdout);
  for (const m of expected) assert.ok(err.includes(`line ${m.line}: ${m.reason}`), err);

  const html = cli(['report', file, '--format', 'html']);
  assert.equal(html.code, 1);
  const data = pageData(html.stdout);
  assert.deepEqual(data.malformed, { count: 3, lines: expected });
});

/** The JSON the page embeds, read back as the page's script reads it. */
function pageData(html: string): any {
  const m = /<script type="application\/json" id="forksafe-data">([^<]*)<\/script>/.exec(html);
  assert.ok(m, 'the page embeds its data');
  return JSON.parse(m[1]!);
}

/** A synthetic report of `processes` processes in a tree, each forked with a pre-fork step. */
async function treeReport(file: string, lines: number, processes: number): Promise<void> {
  const out = createWriteStream(file);
  let chunk = '';
  let written = 0;
  const put = (record: object) => {
    chunk += JSON.stringify(record) + '\n';
    written++;
  };
  const time = '2026-12-02T06:00:00.000Z';
  for (let i = 1; i < processes; i++) {
    const parent = 1000 + Math.floor((i - 1) / 4);
    put({ v: 1, type: 'fork', time, pid: parent, ppid: 1, api: i % 2 ? 'cluster.fork' : 'child_process.fork', childPid: 1000 + i, pools: 1, closed: 2, kept: 0, ms: 0.3, onFork: 'disconnect', command: `/app/job-${i}.js` });
  }
  for (let i = 0; written < lines; i++) {
    put({
      v: 1, type: 'violation', time, pid: 1000 + (i % processes), ppid: 1,
      kind: i % 3 ? 'handle-transfer' : 'stdio-inherit', code: 'FORKSAFE_X', mode: 'log',
      message: `a socket reached another process (${i})`, api: 'ChildProcess.send', driver: i % 2 ? 'pg' : 'mysql2',
      target: 'app@127.0.0.1:5432/db', socket: { local: `127.0.0.1:${10000 + (i % 50000)}`, remote: '127.0.0.1:5432' },
      site: `/app/src/handler-${i}.js:${i}:5`, stack: `    at handle (/app/src/handler-${i}.js:${i}:5)`,
      openedAt: '    at open (/app/db.js:3:14)', openedSite: '/app/db.js:3:14',
    });
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'close');
}

test('--format html of a 10,000-line report of 500 processes is one page under 2 MB', async () => {
  const file = join(dir, 'ten-thousand.jsonl');
  await treeReport(file, 10_000, 500);
  const out = join(dir, 'ten-thousand.html');
  const { code, stdout, stderr } = cli(['report', file, '--format', 'html', '--out', out]);
  assert.equal(stderr, '');
  assert.equal(stdout, '', '--out: nothing on stdout');
  assert.equal(code, 1);
  const size = statSync(out).size;
  assert.ok(size < 2 * 1024 * 1024, `${size} bytes`);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const data = pageData(readFileSync(out, 'utf8'));
  assert.equal(data.processes.length, 500);
  assert.equal(data.summary.violations, 10_000 - 499);
});

test('--format html of a 1,000,000-line report: bounded memory, the page caps what it shows and says so', async () => {
  const file = join(dir, 'million.jsonl');
  await treeReport(file, 1_000_000, 8000);
  const out = join(dir, 'million.html');
  const rssFile = join(dir, 'million.rss');
  const result = spawnSync(process.execPath, ['-r', MAX_RSS, MAIN, 'report', file, '--format', 'html', '--out', out], {
    encoding: 'utf8',
    env: { ...process.env, MAX_RSS_FILE: rssFile },
  });
  assert.equal(result.stderr, '');
  assert.equal(result.status, 1);
  const maxRss = Number(readFileSync(rssFile, 'utf8'));
  assert.ok(maxRss < 300 * 1024 * 1024, `peak RSS ${maxRss} bytes`);
  const size = statSync(out).size;
  assert.ok(size < 8 * 1024 * 1024, `${size} bytes`);
  const data = pageData(readFileSync(out, 'utf8'));
  assert.equal(data.processes.length, 5000, 'the page keeps 5000 processes');
  assert.equal(data.unlistedProcesses, 3000, 'and counts the others');
  assert.equal(data.summary.violations, 1_000_000 - 7999);
});
