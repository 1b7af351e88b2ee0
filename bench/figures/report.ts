// `forksafe report` on a big report: a million lines (violations from 1,000 processes at
// 5,000 call sites, and fork records), rendered as text and as the HTML page. Time and peak
// memory of the CLI process; the memory must stay bounded whatever the report's size.
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { WORKLOADS } from '../measure';
import type { Figure, Row } from './types';

const ROOT = resolve(__dirname, '..', '..');

async function writeReport(file: string, lines: number): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < lines; i++) {
    const pid = 10000 + (i % 1000);
    const line =
      i % 10 === 0
        ? { v: 1, type: 'fork', time: '2026-12-02T00:00:00.000Z', pid: 9999, ppid: 1, api: 'child_process.fork', childPid: pid, command: '/app/worker.js', pools: 2, closed: 4, kept: 1, ms: 0.2 }
        : { v: 1, type: 'violation', time: '2026-12-02T00:00:00.000Z', pid, ppid: 9999, kind: i % 3 ? 'handle-transfer' : 'stdio-inherit', code: 'FORKSAFE_HANDLE_TRANSFER', mode: 'log', message: 'A connection\'s socket was handed to another process', api: 'ChildProcess.send', driver: i % 2 ? 'pg' : 'mysql2', target: 'app@db:5432/app', socket: { local: '10.0.0.1:50000', remote: '10.0.0.2:5432' }, site: `/app/jobs/job${i % 5000}.js:41:9`, stack: `    at run (/app/jobs/job${i % 5000}.js:41:9)`, openedAt: '    at open (/app/db.js:3:14)', openedSite: '/app/db.js:3:14' };
    if (!out.write(JSON.stringify(line) + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Runs the CLI to its end: its wall time in ms. Exit 1 is "violations found", which this report has. */
function timed(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 || code === 1) resolvePromise(Number(process.hrtime.bigint() - t0) / 1e6);
      else reject(new Error(`forksafe report exited with ${code}\n${stderr}`));
    });
  });
}

export const reportRender: Figure = {
  id: 'report-render',
  title: 'forksafe report, big report',
  async run(ctx) {
    const lines = ctx.quick ? 100_000 : 1_000_000;
    const dir = mkdtempSync(join(tmpdir(), 'forksafe-bench-report-'));
    try {
      const report = join(dir, 'report.jsonl');
      ctx.progress(`${this.title}: writing ${lines} lines`);
      await writeReport(report, lines);
      const cli = ctx.agent.how === 'dist' ? join(ROOT, 'dist', 'cli', 'main.js') : join(ctx.agent.cwd, 'node_modules', 'forksafe', 'dist', 'cli', 'main.js');
      const rows: Row[] = [];
      const settings: Record<string, unknown> = { lines, bytes: statSync(report).size, processes: 1001, sites: 5000 };
      for (const format of ['text', 'html'] as const) {
        ctx.progress(`${this.title}: --format ${format}`);
        const rss = join(dir, `${format}.rss`);
        const out = join(dir, `out.${format}`);
        const wall = await timed([process.execPath, '-r', join(WORKLOADS, 'max-rss.js'), cli, 'report', report, '--format', format, '--out', out], dir, { ...process.env, MAX_RSS_FILE: rss });
        const mb = Number(readFileSync(rss, 'utf8')) / 2 ** 20;
        settings[format] = { ms: wall, peakRssMB: mb, outputBytes: statSync(out).size };
        rows.push({ label: `${this.title}: ${lines.toLocaleString('en')} lines, --format ${format}: peak RSS`, unit: 'MB', measured: mb, target: '< 300 MB', verdict: mb < 300 ? 'PASS' : 'MISS', note: `${Math.round(wall)} ms` });
      }
      return { id: this.id, title: this.title, settings, variants: {}, ratios: {}, rows };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
