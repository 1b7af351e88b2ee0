import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { parseReport, userFrame, type Summary } from '../cli/summary';

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
    ...fields,
  };
}

function fork(pid: number, fields: Record<string, unknown>) {
  return { ...base('fork', pid), api: 'cluster.fork', childPid: pid + 1, pools: 1, closed: 0, kept: 0, ms: 0.5, ...fields };
}

const mysqlOpened = '    at Object.createPool (/app/node_modules/mysql2/promise.js:9:1)\n    at /app/db.js:9:20';

// Two processes, three call sites of handle-transfer (one without `site`, which the CLI
// derives from `stack`), one stdio-inherit site, two forks, one record of a later type.
function sampleLines(): Array<object | string> {
  return [
    fork(100, { closed: 10, kept: 1, ms: 0.42, pools: 2 }),
    violation(100, { site: '/app/server.js:12:9' }),
    violation(100, { site: '/app/server.js:12:9' }),
    violation(100, { site: '/app/server.js:12:9', driver: 'mysql2', target: 'app@127.0.0.1:3306/shop', openedAt: mysqlOpened }),
    violation(101, {
      api: 'process.send',
      stack: [
        'Error',
        '    at target._send (node:internal/child_process:752:17)',
        '    at process.send (/usr/lib/node_modules/forksafe/dist/patches/child-process.js:40:12)',
        '    at reply (/app/worker.js:30:7)',
      ].join('\n'),
    }),
    violation(100, { kind: 'stdio-inherit', api: 'child_process.spawn', site: '/app/jobs.js:44:3', target: 'postgres@/var/run/postgresql/test' }),
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
      '  1  /app/worker.js:30:7  process.send',
      '     pg postgres@127.0.0.1:5432/test, opened at /app/db.js:3:14',
      '',
      'stdio-inherit (1)',
      '  1  /app/jobs.js:44:3  child_process.spawn',
      '     pg postgres@/var/run/postgresql/test, opened at /app/db.js:3:14',
      '',
    ].join('\n'),
  );
});

test('report --json prints the same summary as one JSON object', () => {
  const file = reportFile(sampleLines());
  const { code, stdout } = cli(['report', file, '--json']);
  assert.equal(code, 1);
  const summary = JSON.parse(stdout) as Summary;
  const expected: Summary = {
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
              site: '/app/worker.js:30:7',
              count: 1,
              apis: ['process.send'],
              connections: [{ driver: 'pg', target: 'postgres@127.0.0.1:5432/test', openedAt: '/app/db.js:3:14', count: 1 }],
            },
          ],
        },
        {
          kind: 'stdio-inherit',
          count: 1,
          sites: [
            {
              site: '/app/jobs.js:44:3',
              count: 1,
              apis: ['child_process.spawn'],
              connections: [{ driver: 'pg', target: 'postgres@/var/run/postgresql/test', openedAt: '/app/db.js:3:14', count: 1 }],
            },
          ],
        },
      ],
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
  assert.deepEqual(json.violations, { count: 0, processes: 0, byKind: {}, kinds: [] });
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
  assert.equal(unknownOption.stderr, "forksafe report: unknown option '--jsn' (accepted: --json; usage: forksafe report <file> [--json])\n");

  const noFile = cli(['report']);
  assert.equal(noFile.code, 2);
  assert.match(noFile.stderr, /^forksafe report: missing the report file \(usage: forksafe report <file> \[--json\]\)\n$/);

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
  assert.match(help.stdout, /forksafe report <file> \[--json\]/);
  assert.match(help.stdout, /forksafe run \[--strict\] \[--report <file>\] -- <command> \[args\.\.\.\]/);
});

test('userFrame finds the user code in a stack: not Node, not the agent, node_modules last', () => {
  const stack = [
    'Error: boom',
    '    at Socket.connect (node:net:1200:3)',
    '    at Object.track (/srv/app/node_modules/forksafe/dist/agent/registry.js:10:2)',
    '    at Client.connect (/srv/app/node_modules/pg/lib/client.js:50:3)',
    '    at new Promise (<anonymous>)',
    '    at async openDb (/srv/My App (v2)/db.js:3:14)',
    '    at main (/srv/app/index.js:1:1)',
  ].join('\n');
  assert.equal(userFrame(stack), '/srv/My App (v2)/db.js:3:14');
  assert.equal(userFrame('    at Client.connect (/a/node_modules/pg/lib/client.js:50:3)\n    at node:internal/main:1:1'), '/a/node_modules/pg/lib/client.js:50:3');
  assert.equal(userFrame('    at /app/x.mjs:1:2'), '/app/x.mjs:1:2');
  assert.equal(userFrame('    at send (/checkout/dist/agent/x.js:1:1)\n    at /app/y.js:2:3', { agentDirs: ['/checkout/dist/'] }), '/app/y.js:2:3');
  assert.equal(userFrame('Error\n    at node:internal/x:1:1'), null);
  assert.equal(userFrame(''), null);
});

test('parseReport returns the records and the malformed lines', () => {
  const { records, malformed } = parseReport('{"v":1,"type":"fork"}\nnope\n\n{"v":1,"type":"violation"}\n');
  assert.deepEqual(records.map((r) => r.type), ['fork', 'violation']);
  assert.deepEqual(malformed, [{ line: 2, reason: 'not JSON' }]);
});
