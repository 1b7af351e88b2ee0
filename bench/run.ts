// `npm run bench [-- --quick] [--instructions] [--out <file>] [--agent packed|dist] [--only <id,...>]`:
// what the agent costs, as ratios against bare Node measured in the same run.
// Progress goes to stderr; the table to stdout; every sample to the results JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { prepareAgent } from './agent';
import { figures, selectFigures, type FigureResult } from './figures';
import { machine, sessions, sessionsSettled } from './machine';
import type { Context } from './measure';
import { renderTable } from './table';

const ROOT = resolve(__dirname, '..');

interface Options {
  quick: boolean;
  instructions: boolean;
  out: string;
  agent: 'packed' | 'dist';
  only: string[] | undefined;
}

function localDate(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: npm run bench -- [--quick] [--instructions] [--out <file>] [--agent packed|dist] [--only <figure-id>,...]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, instructions: false, out: '', agent: 'packed', only: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--quick') o.quick = true;
    else if (a === '--instructions') o.instructions = true;
    else if (a === '--out') o.out = resolve(value());
    else if (a === '--agent') {
      const v = value();
      if (v !== 'packed' && v !== 'dist') usage(`--agent ${v}: accepted values: packed, dist`);
      o.agent = v;
    } else if (a === '--only') o.only = value().split(',');
    else usage(`unknown argument ${a}`);
  }
  if (o.only) {
    const unknown = o.only.filter((id) => !figures.some((f) => f.id === id));
    if (unknown.length) usage(`--only: unknown figure ${unknown.join(', ')}; figures: ${figures.map((f) => f.id).join(', ')}`);
  }
  // A partial run never lands on the day's full results: it gets a file named for its figures.
  o.out ||= join(ROOT, 'bench', 'results', `${localDate(new Date())}${o.only ? `-${o.only.join('+')}` : ''}.json`);
  return o;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  const log = (line: string) => process.stderr.write(`bench ${elapsed().padStart(5)}  ${line}\n`);

  const host = await machine();
  const before = await sessions();
  log(`preparing the agent (${options.agent})`);
  const agent = prepareAgent(ROOT, options.agent);
  const selected = selectFigures(options);
  const results: FigureResult[] = [];
  const failures: string[] = [];
  try {
    for (const [i, figure] of selected.entries()) {
      const ctx: Context = { agent, quick: options.quick, progress: (m) => log(`[${i + 1}/${selected.length}] ${m}`) };
      ctx.progress(figure.title);
      const t0 = Date.now();
      try {
        const result = await figure.run(ctx);
        results.push({ ...result, seconds: Math.round((Date.now() - t0) / 100) / 10 });
      } catch (err) {
        // One figure's failure (a shared server out of connections, say) costs that figure,
        // not the minutes of the others: it is a row that says so, and the exit code is 1.
        const message = err instanceof Error ? err.message : String(err);
        failures.push(`${figure.id}: ${message}`);
        log(`${figure.id} FAILED: ${message.split('\n').slice(0, 3).join(' | ')}`);
        const reason = message.split('\n').find((l) => /error/i.test(l)) ?? message.split('\n')[0]!;
        results.push({ id: figure.id, title: figure.title, settings: { error: message }, variants: {}, ratios: {}, rows: [{ label: figure.title, unit: '', measured: NaN, note: `FAILED: ${reason.slice(0, 100)}`, target: '', verdict: 'MISS' }], seconds: Math.round((Date.now() - t0) / 100) / 10 });
      }
    }
  } finally {
    agent.cleanup();
  }
  const after = await sessionsSettled(before);

  const date = new Date();
  const output = {
    version: 1,
    date: date.toISOString(),
    quick: options.quick,
    instructions: options.instructions,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    agent: { how: agent.how, register: agent.register, describe: agent.describe },
    machine: host,
    loadAverageAtEnd: loadavg()[0],
    sessions: { before, after },
    method: 'Each variant runs in its own fresh node process; variants take turns (A B A B …) process by process or, for throughput, block by block; ratios are per interleaved pair (variant / bare), reported as median [min–max].',
    variants: {
      bare: 'node <workload>',
      bare2: 'node <workload>, a second process: the noise floor',
      agent: `node -r ${agent.register} <workload>`,
      keep: `FORKSAFE_ON_FORK=keep node -r ${agent.register} <workload>`,
      parentOnly: `FORKSAFE_PROPAGATE=0 node -r ${agent.register} <workload> --child bare (children start without the agent)`,
      otel: 'node -r bench/otel/<driver>.js <workload> (OpenTelemetry tracing, spans dropped)',
    },
    figures: results,
  };
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, JSON.stringify(output, null, 2) + '\n');

  const rows = results.flatMap((r) => r.rows);
  const pass = rows.filter((r) => r.verdict === 'PASS').length;
  const miss = rows.filter((r) => r.verdict === 'MISS').length;
  const leaked = after.pg > before.pg || after.mysql > before.mysql;
  process.stdout.write(
    [
      `forksafe benchmark${options.quick ? ' (quick: fewer and shorter samples, indicative only)' : ''}, ${localDate(date)}`,
      `machine: ${host.cpus} × ${host.cpuModel}, ${(host.memoryMB / 1024).toFixed(1)} GB, ${host.platform}; Node ${host.node}; PostgreSQL ${host.postgres}; MariaDB ${host.mysql}`,
      `load average (1 min): ${host.loadAverage.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end (the servers run on the same machine)`,
      `agent: ${agent.describe}`,
      ...(selected.some((f) => f.group === 'instructions') ? ['instruction counts: valgrind --tool=callgrind, NODE_EXTRA_CA_CERTS unset for bare and agent alike; children not counted'] : []),
      '',
      renderTable(rows),
      '',
      `${pass} PASS, ${miss} MISS. Ratios are variant / bare per interleaved pair: median [min–max].`,
      `sessions before → after: pg ${before.pg} → ${after.pg}, mariadb ${before.mysql} → ${after.mysql}${leaked ? '  (MORE AFTER: a workload left connections open, or another client is using the servers)' : ''}`,
      `results: ${relative(process.cwd(), options.out) || options.out}  (${elapsed()})`,
      '',
    ].join('\n'),
  );
  if (failures.length) {
    process.stderr.write(`bench: ${failures.length} figure(s) failed:\n${failures.join('\n')}\n`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
