import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import type { Summary } from '../cli/summary';

// The compiled CLI, run as a user runs it (`npm test` builds it first).
const MAIN = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'forksafe-cli-report-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], options: SpawnSyncOptions = {}) {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run npm run build`);
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', ...options });
  return { code: result.status, stdout: String(result.stdout), stderr: String(result.stderr) };
}

let files = 0;
function reportFile(lines: Array<object | string>): string {
  const file = join(dir, `report-${++files}.jsonl`);
  writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l)) + '\n').join(''));
  return file;
}

let seconds = 0;
function base(type: string, pid: number) {
  return { v: 1, type, time: new Date(Date.UTC(2026, 10, 26, 13, 0, seconds++)).toISOString(), pid, ppid: 1 };
}

function violation(pid: number, fields: Record<string, unknown>) {
  const kind = String(fields.kind ?? 'handle-transfer');
  return {
    ...base('violation', pid),
    kind,
    code: 'FORKSAFE_' + kind.toUpperCase().replace(/-/g, '_'),
    mode: 'log',
    message: 'a database socket reached another process',
    api: 'ChildProcess.send',
    driver: 'pg',
    target: 'postgres@127.0.0.1:5432/test',
    socket: { local: '127.0.0.1:50000', remote: '127.0.0.1:5432' },
    stack: 'Error\n    at send (/app/a.js:1:1)',
    openedAt: '    at BoundPool.connect (/app/node_modules/pg-pool/index.js:45:11)\n    at openDb (/app/db.js:3:14)',
    openedSite: '/app/db.js:3:14',
    ...fields,
  };
}

function fork(pid: number, fields: Record<string, unknown>) {
  return { ...base('fork', pid), api: 'cluster.fork', childPid: pid + 1, pools: 1, closed: 0, kept: 0, ms: 0.5, ...fields };
}

const mysqlOpened = '    at Object.createPool (/app/node_modules/mysql2/promise.js:9:1)\n    at /app/db.js:9:20';

// Two processes, three call sites of handle-transfer (one without `site`, shown as
// <unknown>: the CLI does not guess from the stack), one stdio-inherit site, two forks, one
// record of a later type.
function sampleLines(): Array<object | string> {
  return [
    fork(100, { closed: 10, kept: 1, ms: 0.42, pools: 2 }),
    violation(100, { site: '/app/server.js:12:9' }),
    violation(100, { site: '/app/server.js:12:9' }),
    violation(100, { site: '/app/server.js:12:9', driver: 'mysql2', target: 'app@127.0.0.1:3306/shop', openedAt: mysqlOpened, openedSite: '/app/db.js:9:20' }),
    violation(101, {
      api: 'process.send',
      stack: [
        'Error',
        '    at target._send (node:internal/child_process:752:17)',
        '    at process.send (/usr/lib/node_modules/forksafe/dist/patches/child-process.js:40:12)',
        '    at reply (/app/worker.js:30:7)',
      ].join('\n'),
    }),
    violation(100, { kind: 'stdio-inherit', api: 'child_process.spawn', site: '/app/jobs.js:44:3', target: 'postgres@/var/run/postgresql/test', openedSite: undefined }),
    fork(100, { api: 'child_process.fork', closed: 3, kept: 0, ms: 1.5 }),
    { ...base('heartbeat', 100) },
  ];
}

test('report groups violations by kind and call site, most frequent first', () => {
  const file = reportFile(sampleLines());
  const { code, stdout, stderr } = cli(['report', file]);
  assert.equal(stderr, '');
  assert.equal(code, 1, 'violations found: exit 1');
  assert.equal(
    stdout,
    [
      `forksafe report: ${file}`,
      '5 violations in 2 processes; 2 forks (closed 13, kept 1, median 0.96 ms); 1 other record (heartbeat 1)',
      'by kind: handle-transfer 4, stdio-inherit 1',
      '',
      'handle-transfer (4)',
      '  3  /app/server.js:12:9  ChildProcess.send',
      '     2x pg postgres@127.0.0.1:5432/test, opened at /app/db.js:3:14',
      '     1x mysql2 app@127.0.0.1:3306/shop, opened at /app/db.js:9:20',
      '  1  <unknown>  process.send',
      '     pg postgres@127.0.0.1:5432/test, opened at /app/db.js:3:14',
      '',
      'stdio-inherit (1)',
      '  1  /app/jobs.js:44:3  child_process.spawn',
      '     pg postgres@/var/run/postgresql/test, opened at <unknown>',
      '',
    ].join('\n'),
  );
});

test('report --json prints the same summary as one JSON object', () => {
  const file = reportFile(sampleLines());
  const { code, stdout } = cli(['report', file, '--json']);
  assert.equal(code, 1);
  const summary = JSON.parse(stdout) as Summary;
  // Each site also carries its first violation in full (message, both stacks).
  const first = summary.violations.kinds[0]!.sites[0]!.first;
  assert.deepEqual(first, {
    pid: 100,
    mode: 'log',
    message: 'a database socket reached another process',
    stack: 'Error\n    at send (/app/a.js:1:1)',
    openedAt: '    at BoundPool.connect (/app/node_modules/pg-pool/index.js:45:11)\n    at openDb (/app/db.js:3:14)',
    test: null,
  });
  for (const kind of summary.violations.kinds) for (const site of kind.sites) delete (site as Partial<typeof site>).first;
  const expected: Omit<Summary, 'violations'> & { violations: unknown } = {
    schema: 1,
    file,
    lines: 8,
    records: { violation: 5, fork: 2, other: { heartbeat: 1 } },
    processes: 2,
    violations: {
      count: 5,
      processes: 2,
      byKind: { 'handle-transfer': 4, 'stdio-inherit': 1 },
      kinds: [
        {
          kind: 'handle-transfer',
          count: 4,
          sites: [
            {
              site: '/app/server.js:12:9',
              count: 3,
              apis: ['ChildProcess.send'],
              connections: [
                { driver: 'pg', target: 'postgres@127.0.0.1:5432/test', openedAt: '/app/db.js:3:14', count: 2 },
                { driver: 'mysql2', target: 'app@127.0.0.1:3306/shop', openedAt: '/app/db.js:9:20', count: 1 },
              ],
            },
            {
              site: '<unknown>',
              count: 1,
              apis: ['process.send'],
              connections: [{ driver: 'pg', target: 'postgres@127.0.0.1:5432/test', openedAt: '/app/db.js:3:14', count: 1 }],
            },
          ],
          unlisted: 0,
        },
        {
          kind: 'stdio-inherit',
          count: 1,
          sites: [
            {
              site: '/app/jobs.js:44:3',
              count: 1,
              apis: ['child_process.spawn'],
              connections: [{ driver: 'pg', target: 'postgres@/var/run/postgresql/test', openedAt: '<unknown>', count: 1 }],
            },
          ],
          unlisted: 0,
        },
      ],
      unlisted: 0,
      tests: [],
      testsUnlisted: 0,
    },
    forks: { count: 2, byApi: { 'child_process.fork': 1, 'cluster.fork': 1 }, closed: 13, kept: 1, medianMs: 0.96, maxMs: 1.5 },
    malformed: { count: 0, lines: [] },
  };
  assert.deepEqual(summary, expected);
});

test('malformed lines are named by line number and skipped; the rest is summarised', () => {
  const file = reportFile([
    fork(100, {}),
    'this is not json',
    violation(100, { site: '/app/a.js:1:1' }),
    '[1, 2]',
    '{"v":2,"type":"violation"}',
    '{"v":1,"pid":3}',
    '',
    '{"type":"fork"}',
    '{"v":1,"type":"fork","pid":100,"ms":0.5,"closed":1,"kept":0,"api":"cluster.fork"',
    'null',
    violation(100, { site: '/app/a.js:1:1' }),
  ]);
  const human = cli(['report', file]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, /^2 violations in 1 process; 1 fork \(closed 0, kept 0, median 0\.5 ms\)$/m);
  assert.match(human.stdout, /^ {2}2 {2}\/app\/a\.js:1:1 {2}ChildProcess\.send$/m);
  assert.ok(
    human.stdout.endsWith(
      [
        '7 malformed lines skipped',
        '  line 2: not JSON',
        '  line 4: not an object',
        '  line 5: unknown v: 2',
        '  line 6: missing type',
        '  line 8: missing v',
        '  line 9: not JSON',
        '  line 10: not an object',
        '',
      ].join('\n'),
    ),
    human.stdout,
  );

  const json = JSON.parse(cli(['report', file, '--json']).stdout) as Summary;
  assert.equal(json.lines, 11, 'the blank line 7 counts as a line, not as malformed');
  assert.deepEqual(json.malformed.lines.map((m) => m.line), [2, 4, 5, 6, 8, 9, 10]);
  assert.equal(json.malformed.count, 7);
  assert.equal(json.records.violation, 2);
});

test('a report with forks only exits 0 and totals the forks', () => {
  const file = reportFile([
    fork(100, { closed: 4, kept: 1, ms: 0.3 }),
    fork(100, { closed: 0, kept: 1, ms: 0.1, api: 'child_process.fork' }),
    fork(200, { closed: 2, kept: 0, ms: 2 }),
  ]);
  const { code, stdout } = cli(['report', file]);
  assert.equal(code, 0);
  assert.equal(stdout, `forksafe report: ${file}\nno violations; 3 forks (closed 6, kept 2, median 0.3 ms)\n`);
  const json = JSON.parse(cli(['report', file, '--json']).stdout) as Summary;
  assert.deepEqual(json.forks, { count: 3, byApi: { 'cluster.fork': 2, 'child_process.fork': 1 }, closed: 6, kept: 2, medianMs: 0.3, maxMs: 2 });
  assert.equal(json.processes, 2);
  assert.deepEqual(json.violations, { count: 0, processes: 0, byKind: {}, kinds: [], unlisted: 0, tests: [], testsUnlisted: 0 });
});

test('an empty report exits 0 and says it is empty', () => {
  const file = reportFile([]);
  const { code, stdout } = cli(['report', file]);
  assert.equal(code, 0);
  assert.equal(stdout, `forksafe report: ${file} (empty)\nno violations; no forks\n`);
  const json = JSON.parse(cli(['report', file, '--json']).stdout) as Summary;
  assert.equal(json.lines, 0);
  assert.equal(json.forks.medianMs, null);
});

test('records of a type this version does not know are counted, not called malformed', () => {
  const file = reportFile([{ ...base('heartbeat', 1) }, { ...base('heartbeat', 1) }, { ...base('config', 1), mode: 'log' }]);
  const { code, stdout } = cli(['report', file, '--json']);
  assert.equal(code, 0);
  const json = JSON.parse(stdout) as Summary;
  assert.deepEqual(json.records.other, { heartbeat: 2, config: 1 });
  assert.equal(json.malformed.count, 0);
});

test('a missing or unreadable report exits 2 with one line naming the file and the reason', () => {
  const missing = join(dir, 'no-such-report.jsonl');
  const gone = cli(['report', missing]);
  assert.equal(gone.code, 2);
  assert.equal(gone.stdout, '');
  assert.equal(gone.stderr, `forksafe report: cannot read ${missing}: no such file\n`);

  const directory = cli(['report', dir]);
  assert.equal(directory.code, 2);
  assert.equal(directory.stderr, `forksafe report: cannot read ${dir}: is a directory\n`);
});

test('"-" reads the report from stdin; CRLF line ends and a byte order mark are accepted', () => {
  const text = '\uFEFF' + [fork(1, {}), violation(1, { site: '/app/a.js:1:1' })].map((l) => JSON.stringify(l)).join('\r\n') + '\r\n';
  const { code, stdout } = cli(['report', '-', '--json'], { input: text });
  assert.equal(code, 1);
  const json = JSON.parse(stdout) as Summary;
  assert.equal(json.file, '-');
  assert.equal(json.malformed.count, 0);
  assert.equal(json.records.fork, 1);
  assert.equal(json.violations.kinds[0]?.sites[0]?.site, '/app/a.js:1:1');
  assert.equal(json.violations.kinds[0]?.sites[0]?.connections[0]?.openedAt, '/app/db.js:3:14');
});

test('a big report is streamed line by line, not loaded whole', async () => {
  const file = join(dir, 'big.jsonl');
  const out = createWriteStream(file);
  const lines = [JSON.stringify(violation(100, { site: '/app/server.js:12:9' })), JSON.stringify(fork(100, { closed: 1, kept: 0, ms: 0.25 }))];
  let chunk = '';
  for (let i = 0; i < 200_000; i++) {
    chunk += lines[i % 2] + '\n';
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'close');

  // ~70 MB of report under a 32 MB heap: reading it as one string would run out of memory.
  const result = spawnSync(process.execPath, ['--max-old-space-size=32', MAIN, 'report', file], { encoding: 'utf8' });
  assert.equal(result.stderr, '');
  assert.equal(result.status, 1);
  assert.match(result.stdout, /^100000 violations in 1 process; 100000 forks \(closed 100000, kept 0, median 0\.25 ms\)$/m);
  assert.match(result.stdout, /^ {2}100000 {2}\/app\/server\.js:12:9 {2}ChildProcess\.send$/m);
});

test('report usage errors exit 2 with one line naming what is accepted', () => {
  const unknownOption = cli(['report', 'a.jsonl', '--jsn']);
  assert.equal(unknownOption.code, 2);
  assert.equal(
    unknownOption.stderr,
    "forksafe report: unknown option '--jsn' (accepted: --format <text|json|html|github|junit>, --json, --out <path>; usage: forksafe report <file> [--format <format>] [--out <path>])\n",
  );

  const badFormat = cli(['report', 'a.jsonl', '--format', 'xml']);
  assert.equal(badFormat.code, 2);
  assert.match(badFormat.stderr, /^forksafe report: unknown format 'xml' \(accepted: text, json, html, github, junit; usage: /);
  const noFormat = cli(['report', 'a.jsonl', '--format']);
  assert.equal(noFormat.code, 2);
  assert.match(noFormat.stderr, /^forksafe report: --format needs a format/);

  const noFile = cli(['report']);
  assert.equal(noFile.code, 2);
  assert.match(noFile.stderr, /^forksafe report: missing the report file \(usage: forksafe report <file> \[--format <format>\] \[--out <path>\]\)\n$/);

  const twoFiles = cli(['report', 'a.jsonl', 'b.jsonl']);
  assert.equal(twoFiles.code, 2);
  assert.match(twoFiles.stderr, /one file at a time/);

  const unknownCommand = cli(['reprot', 'a.jsonl']);
  assert.equal(unknownCommand.code, 2);
  assert.equal(unknownCommand.stderr, "forksafe: unknown command 'reprot' (accepted: report, run; see forksafe --help)\n");

  const nothing = cli([]);
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /^Usage:\n/);

  const help = cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /forksafe report <file> \[--format <format>\] \[--out <path>\]/);
  assert.match(help.stdout, /--keep-report/);
});

const MAX_RSS = resolve(__dirname, 'fixtures', 'cli', 'max-rss.js');
/** Peak memory the CLI may take on the big inputs below: far below what holding them takes. */
const RSS_BOUND = 300 * 1024 * 1024;

/** The CLI with a preload that records its peak resident set size. */
function measuredCli(args: string[]) {
  const rssFile = join(dir, `rss-${++files}`);
  const result = spawnSync(process.execPath, ['-r', MAX_RSS, MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, MAX_RSS_FILE: rssFile },
    maxBuffer: 64 << 20,
  });
  assert.ok(existsSync(rssFile), `the CLI did not exit normally (status ${result.status}, signal ${result.signal}): ${String(result.stderr).slice(0, 500)}`);
  const maxRss = Number(readFileSync(rssFile, 'utf8'));
  return { code: result.status, stdout: String(result.stdout), stderr: String(result.stderr), maxRss };
}

/** Writes a file from chunks, waiting for the disk, so the test itself stays small too. */
async function streamFile(file: string, chunks: Iterable<string | Buffer>): Promise<void> {
  const out = createWriteStream(file);
  for (const chunk of chunks) if (!out.write(chunk)) await once(out, 'drain');
  out.end();
  await once(out, 'close');
}

test('a line of more than 600 MB is listed as too long, never held in memory, and the rest is read', async () => {
  const file = join(dir, 'long-line.jsonl');
  const mb = Buffer.alloc(1 << 20, 'x');
  const longBytes = 620 * (1 << 20);
  await streamFile(
    file,
    (function* () {
      yield JSON.stringify(violation(100, { site: '/app/a.js:1:1' })) + '\n';
      for (let i = 0; i < 620; i++) yield mb;
      yield '\n' + JSON.stringify(violation(100, { site: '/app/a.js:1:1' })) + '\n';
    })(),
  );
  try {
    const json = measuredCli(['report', file, '--json']);
    assert.equal(json.stderr, '');
    assert.equal(json.code, 1, 'two violations: exit 1, not a crash');
    const summary = JSON.parse(json.stdout) as Summary;
    assert.deepEqual(summary.malformed, { count: 1, lines: [{ line: 2, reason: `line too long (${longBytes} bytes)` }] });
    assert.equal(summary.lines, 3);
    assert.equal(summary.violations.count, 2);
    assert.ok(json.maxRss < RSS_BOUND, `peak RSS ${json.maxRss} bytes`);

    const human = measuredCli(['report', file]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, new RegExp(`^  line 2: line too long \\(${longBytes} bytes\\)$`, 'm'));
  } finally {
    rmSync(file, { force: true });
  }
});

test('1,000,000 distinct call sites: bounded memory, the most frequent listed, the rest counted', async () => {
  const file = join(dir, 'many-sites.jsonl');
  const hot = JSON.stringify(violation(100, { site: '/app/hot.js:7:7' })) + '\n';
  await streamFile(
    file,
    (function* () {
      let chunk = '';
      for (let i = 0; i < 1_000_000; i++) {
        chunk += JSON.stringify(violation(100 + (i % 50), { site: `/app/s${i}.js:${i}:1`, openedSite: `/app/db${i}.js:1:1`, target: `u${i}@db:5432/x` })) + '\n';
        if (i % 200 === 0) chunk += hot;
        if (chunk.length > 1 << 20) {
          yield chunk;
          chunk = '';
        }
      }
      yield chunk;
    })(),
  );
  try {
    const { code, stdout, stderr, maxRss } = measuredCli(['report', file, '--json']);
    assert.equal(stderr, '');
    assert.equal(code, 1);
    const summary = JSON.parse(stdout) as Summary;
    assert.equal(summary.violations.count, 1_005_000);
    const [kind] = summary.violations.kinds;
    assert.equal(kind!.sites[0]!.site, '/app/hot.js:7:7');
    assert.equal(kind!.sites[0]!.count, 5000, 'the most frequent site keeps its exact count');
    assert.equal(kind!.sites.length, 1000, 'only the most frequent sites are listed');
    const listed = kind!.sites.reduce((sum, s) => sum + s.count, 0);
    assert.equal(kind!.unlisted, 1_005_000 - listed, 'every violation is either listed or counted as unlisted');
    assert.equal(summary.violations.unlisted, kind!.unlisted);
    assert.ok(maxRss < RSS_BOUND, `peak RSS ${maxRss} bytes`);

    const human = cli(['report', file], { maxBuffer: 64 << 20 });
    assert.match(human.stdout, new RegExp(`^  \\.\\.\\. and ${kind!.unlisted} more violations at call sites not listed \\(only the most frequent call sites are kept\\)$`, 'm'));
  } finally {
    rmSync(file, { force: true });
  }
});

test('input that cannot be read, or an output that cannot be written, exits 2 with one line', () => {
  // open(2) succeeds, read(2) fails with EIO: an error in the middle of the stream.
  const io = cli(['report', '/proc/self/mem']);
  assert.equal(io.code, 2);
  assert.equal(io.stdout, '');
  assert.match(io.stderr, /^forksafe report: cannot read \/proc\/self\/mem: [^\n]+\n$/);

  const file = reportFile([violation(1, { site: '/app/a.js:1:1' })]);
  const out = join(dir, 'no-such-dir', 'out.html');
  const unwritable = cli(['report', file, '--format', 'json', '--out', out]);
  assert.equal(unwritable.code, 2);
  assert.equal(unwritable.stderr, `forksafe report: cannot write ${out}: no such file\n`);
});

test('the test a violation happened in (the optional `test` field) is named in the github and junit outputs', () => {
  const file = reportFile([
    violation(1, { site: '/app/a.js:1:1', message: 'a socket reached another process', test: { file: '/app/a.test.js', name: 'sends a job' } }),
    violation(1, { site: '/app/b.js:2:2', message: 'no test here' }),
  ]);
  const github = cli(['report', file, '--format', 'github'], { cwd: dir });
  assert.equal(github.code, 1);
  const lines = github.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.ok(lines.some((l) => l.endsWith('::a socket reached another process [during the test sends a job] [at /app/a.js:1:1]')), github.stdout);
  assert.ok(lines.some((l) => l.endsWith('::no test here [at /app/b.js:2:2]')), github.stdout);
  const junit = cli(['report', file, '--format', 'junit']);
  assert.ok(junit.stdout.includes('During the test: sends a job (/app/a.test.js)'), junit.stdout);
  assert.equal(junit.stdout.split('During the test').length, 2, 'only the violation with a test names one');
});
