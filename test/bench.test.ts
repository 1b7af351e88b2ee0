// `npm run bench -- --quick` end to end: it exits 0, prints a row for every figure, and
// writes a valid results file where it is told to; and one instruction count under callgrind
// (the --instructions figures take minutes, so the quick run leaves them out). Times, counts
// and ratios are never asserted: they belong to the machine, not to the code.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { countInstructions } from '../bench/callgrind';
import { selectFigures } from '../bench/figures';
import { workloadEnv } from '../bench/machine';

const ROOT = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'forksafe-bench-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function npmRunBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawn('npm', ['run', '--silent', 'bench', '--', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

const isFiniteNumber = (x: unknown) => typeof x === 'number' && Number.isFinite(x);

function assertSeries(s: any, where: string): void {
  assert.ok(Array.isArray(s.samples) && s.samples.length > 0, `${where}: samples`);
  for (const key of ['median', 'min', 'max']) assert.ok(isFiniteNumber(s[key]), `${where}: ${key} is ${s[key]}`);
  assert.ok(s.samples.every(isFiniteNumber), `${where}: every sample is a number`);
  assert.equal(s.n, s.samples.length, `${where}: n`);
}

const figures = selectFigures({ quick: true, instructions: false });

test('npm run bench -- --quick prints every figure and writes its results where --out says', { timeout: 180_000 }, async () => {
  const out = join(dir, 'quick.json');
  const run = await npmRunBench(['--quick', '--out', out]);
  assert.equal(run.code, 0, `exit code ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);

  // Progress on stderr: which figure, i/n.
  assert.match(run.stderr, new RegExp(`\\[1/${figures.length}\\]`));
  assert.match(run.stderr, new RegExp(`\\[${figures.length}/${figures.length}\\]`));

  // The table: one row for each figure the issue asks for, with a verdict beside each target.
  for (const words of [
    'start-up: node -e 0',
    'start-up: require pg + mysql2',
    "pg pool.query('SELECT 1')",
    "mysql2 pool.query('SELECT 1')",
    'OpenTelemetry',
    'child_process.fork → child online, 0 idle conns',
    'child_process.fork → child online, 20 idle conns',
    'cluster.fork → child online, 0 idle conns',
    'cluster.fork → child online, 20 idle conns',
    'disconnectAll(), 90 conns in 9 pools',
    'growth by connections',
    'growth by pools',
    'fork every 100 ms',
    'ON_FORK=keep',
    "spawn('true')",
    'IPC send() of objects',
    'IPC send() of net.Socket handles',
    'IPC send() of net.Server handles',
    'RSS after gc',
    'send door with a handle: agent − bare per send(), 10 tracked sockets',
    'send door with a handle: agent − bare per send(), 1,000 tracked sockets',
    'tracked sockets ×',
    'disconnectAll() at scale, 1,000 idle conns in 100 pools',
    'disconnectAll() at scale growth',
    'pg connect + end, one after another',
  ]) {
    assert.ok(run.stdout.includes(words), `no row for "${words}" in:\n${run.stdout}`);
  }
  assert.match(run.stdout, /machine: \d+ × .+ Node v\d+/);
  assert.match(run.stdout, /agent: /);

  // The results file: machine, date, and every figure with its samples.
  assert.ok(existsSync(out), `${out} was not written`);
  const results = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(results.version, 1);
  assert.equal(results.quick, true);
  assert.ok(!Number.isNaN(Date.parse(results.date)), 'date');
  assert.equal(results.machine.node, process.version);
  assert.ok(results.machine.cpus > 0 && results.machine.memoryMB > 0, 'machine');
  assert.deepEqual(results.figures.map((f: any) => f.id), figures.map((f) => f.id));
  for (const figure of results.figures) {
    assert.ok(figure.rows.length > 0, `${figure.id}: rows`);
    for (const [name, s] of Object.entries(figure.variants)) assertSeries(s, `${figure.id} ${name}`);
    for (const [name, s] of Object.entries(figure.ratios)) assertSeries(s, `${figure.id} ratio ${name}`);
    for (const row of figure.rows) {
      assert.ok(run.stdout.includes(row.label), `${figure.id}: row "${row.label}" is not in the table`);
      assert.ok(['PASS', 'MISS', ''].includes(row.verdict), `${figure.id}: verdict ${row.verdict}`);
      if (row.target !== '' && !row.target.startsWith('(')) {
        assert.ok(row.verdict !== '', `${figure.id}: "${row.label}" has a target and no verdict`);
      }
    }
  }
  const curve = results.figures.find((f: any) => f.id === 'disconnect-curve');
  for (const axis of ['connections', 'pools']) {
    for (const p of curve.extra[axis].points) assertSeries(p.wallMs, `disconnect-curve ${axis} ${p.n}`);
  }
  // Every workload ended its pools.
  assert.ok(results.sessions.after.pg <= results.sessions.before.pg, `pg sessions ${results.sessions.before.pg} → ${results.sessions.after.pg}`);
});

test('an instruction count is callgrind\'s total for the process, with NODE_EXTRA_CA_CERTS unset', { timeout: 120_000 }, async () => {
  // A certificate bundle that does not exist: Node warns on stderr and the count still comes;
  // the point is that the variable never reaches the counted process (its stdout says so).
  const env = workloadEnv({ NODE_EXTRA_CA_CERTS: join(dir, 'no-such-bundle.pem') });
  const n = await countInstructions({ node: [], args: ['-e', 'if (process.env.NODE_EXTRA_CA_CERTS) process.exit(3)'], cwd: ROOT, env });
  assert.ok(Number.isInteger(n) && n > 1e6, `instructions: ${n}`);
  // A failing process is an error, not a count.
  await assert.rejects(countInstructions({ node: [], args: ['-e', 'process.exit(3)'], cwd: ROOT, env }), /exited with 3/);
});
