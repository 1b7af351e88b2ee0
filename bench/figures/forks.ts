// Forking: time to a child's first message, the pre-fork step alone, and a server that
// forks while it serves queries.
import type { Once } from '../processes';
import { bare, blockRounds, processRounds, sumMs, withAgent, workload, type Context, type Variant } from '../measure';
import { growthExponent, histogramPercentile, mergeHistograms, series, type Histogram } from '../stats';
import { atLeast, atMost, compare, pick, ratiosOf, seriesOf } from './compare';
import type { Figure, Row } from './types';

/**
 * A diagnostic variant (full runs only): a forked child loads the agent too (it inherits
 * `-r`, and FORKSAFE_PROPAGATE=1 puts it in NODE_OPTIONS). Without either, what is left is
 * the parent's own share: the pre-fork step, the spawn wrapper, the closing of idle
 * connections just after the fork, and the reconnections that follow.
 */
function parentOnly(ctx: Context): Variant {
  return {
    ...withAgent(ctx, { name: 'parentOnly', env: { FORKSAFE_PROPAGATE: '0' } }),
    args: ['--child', 'bare'],
  };
}

export function forkOnline(api: 'child_process' | 'cluster', idle: number): Figure {
  const call = api === 'cluster' ? 'cluster.fork' : 'child_process.fork';
  return {
    id: `fork-online-${api}-${idle}`,
    title: `${call} → child online, ${idle} idle conns`,
    async run(ctx) {
      const plan = { sets: pick(ctx, 1, 2), runs: pick(ctx, 1, 12), blocks: 1, params: {} };
      const variants = [bare, withAgent(ctx), ...(ctx.quick ? [] : [parentOnly(ctx)])];
      const samples = await blockRounds(ctx, this.title, variants, workload('fork-online.js', '--api', api, '--idle', idle), plan, sumMs);
      return {
        id: this.id,
        title: this.title,
        settings: { ...plan, api, idle, measured: 'ms from the fork call to the child’s ready message, one fork per sample; bare, agent, and agent in the parent only (FORKSAFE_PROPAGATE=0, child without execArgv) take turns' },
        variants: seriesOf(samples),
        ratios: ratiosOf(samples),
        rows: [
          compare(this.title, 'ms', samples, 'agent', idle === 0 ? '≤ 1.03' : '≤ 1.05', atMost(idle === 0 ? 1.03 : 1.05)),
          ...(samples.parentOnly ? [compare(`${this.title} · agent in the parent only`, 'ms', samples, 'parentOnly', '(parent’s share)', () => '')] : []),
        ],
      };
    },
  };
}

interface CurvePoint {
  n: number;
  pools: number;
  connections: number;
  samples: number[];
  cpu: number[];
  preempted: number[];
}

export const disconnectCurve: Figure = {
  id: 'disconnect-curve',
  title: 'pre-fork step: disconnectAll()',
  async run(ctx) {
    const axes = {
      connections: pick(ctx, [1, 10, 90], [1, 10, 30, 60, 90]),
      pools: pick(ctx, [1, 10, 100], [1, 10, 30, 60, 100]),
    };
    const samples = pick(ctx, 1, 20);
    const warmup = pick(ctx, 1, 3);
    const rows: Row[] = [];
    const extra: Record<string, unknown> = {};
    for (const [axis, points] of Object.entries(axes)) {
      const runs = await processRounds(
        ctx, `${this.title} by ${axis}`, [withAgent(ctx)],
        workload('disconnect-curve.js', '--axis', axis, '--points', points.join(','), '--samples', samples, '--warmup', warmup),
        1, (r: Once) => r.json, { coldRound: false }, // the workload warms every point up itself
      );
      const measured = (runs.agent![0] as unknown as { points: CurvePoint[] }).points;
      const curve = measured.map((p) => ({ ...p, wall: series(p.samples), cpuTime: series(p.cpu), switches: series(p.preempted) }));
      const wallK = growthExponent(curve.map((p) => ({ n: p.n, median: p.wall.median })));
      const cpuK = growthExponent(curve.map((p) => ({ n: p.n, median: p.cpuTime.median })));
      extra[axis] = {
        growth: { wall: wallK, cpu: cpuK },
        points: curve.map((p) => ({ n: p.n, pools: p.pools, connections: p.connections, wallMs: p.wall, cpuMs: p.cpuTime, involuntaryContextSwitches: p.switches })),
      };
      for (const p of curve) {
        const isTarget = axis === 'connections' && p.n === 90;
        rows.push({
          label: `${this.title}, ${p.connections} conn${p.connections === 1 ? '' : 's'} in ${p.pools} pool${p.pools === 1 ? '' : 's'}`,
          unit: 'ms',
          measured: p.wall.median,
          note: `cpu ${p.cpuTime.median.toFixed(2)} ms, ${p.switches.median} preempted`,
          target: isTarget ? '< 2 ms' : '',
          verdict: isTarget ? (p.wall.median < 2 ? 'PASS' : 'MISS') : '',
        });
      }
      rows.push({
        label: `${this.title} growth by ${axis}: ms ∝ n^k`,
        unit: 'k',
        measured: wallK,
        note: `cpu: k = ${cpuK.toFixed(2)}`,
        target: 'k ≤ 1.1 (1 = linear)',
        verdict: wallK <= 1.1 ? 'PASS' : 'MISS',
      });
    }
    return {
      id: this.id,
      title: this.title,
      settings: { axes, samplesPerPoint: samples, measured: 'wall ms of the disconnectAll() call (performance.now) under the agent, pools refilled before every sample; CPU ms (process.cpuUsage) and involuntary context switches of the same call' },
      variants: {},
      ratios: {},
      extra,
      rows,
    };
  },
};

export const forkUnderLoad: Figure = {
  id: 'fork-under-load',
  title: 'pg at full speed, fork every 100 ms',
  async run(ctx) {
    const seconds = pick(ctx, 2, 10);
    const plan = { sets: 1, runs: pick(ctx, 1, 3), blocks: seconds, params: { seconds: 1 } };
    const variants: Variant[] = [bare, withAgent(ctx), withAgent(ctx, { name: 'keep', env: { FORKSAFE_ON_FORK: 'keep' } }), ...(ctx.quick ? [] : [parentOnly(ctx)])];
    type Block = { queries: number; ms: number; forks: number; histogram: Histogram };
    const runs = await blockRounds(ctx, this.title, variants, workload('fork-under-load.js', '--interval', 100, '--warmup', pick(ctx, 1000, 20000)), plan, (blocks: Block[]) => {
      const h = mergeHistograms(blocks.map((b) => b.histogram));
      return {
        qps: (blocks.reduce((n, b) => n + b.queries, 0) / blocks.reduce((n, b) => n + b.ms, 0)) * 1000,
        p99: histogramPercentile(h, 99),
        p50: histogramPercentile(h, 50),
        forks: blocks.reduce((n, b) => n + b.forks, 0),
      };
    });
    const metric = (m: 'qps' | 'p99' | 'p50' | 'forks') => Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((r) => r[m])]));
    const qps = metric('qps');
    const p99 = metric('p99');
    const label = `${this.title} for ${seconds} s`;
    return {
      id: this.id,
      title: this.title,
      settings: { ...plan, seconds, pool: 10, concurrency: 10, interval: 100, measured: `queries per second and latency percentiles over ${seconds} s, in 1 s blocks taken in turn` },
      variants: Object.fromEntries(['qps', 'p99', 'p50', 'forks'].flatMap((m) => Object.entries(seriesOf(metric(m as 'qps'))).map(([k, s]) => [`${k}.${m}`, s]))),
      ratios: { ...Object.fromEntries(Object.entries(ratiosOf(qps)).map(([k, s]) => [`${k}.qps`, s])), ...Object.fromEntries(Object.entries(ratiosOf(p99)).map(([k, s]) => [`${k}.p99`, s])) },
      rows: [
        compare(`${label}: qps · agent`, 'qps', qps, 'agent', '≥ 0.97 (≤ 3% cost)', atLeast(0.97)),
        compare(`${label}: qps · agent, ON_FORK=keep`, 'qps', qps, 'keep', '≥ 0.97 (≤ 3% cost)', atLeast(0.97)),
        ...(qps.parentOnly ? [compare(`${label}: qps · agent in the parent only`, 'qps', qps, 'parentOnly', '(parent’s share)', () => '')] : []),
        compare(`${label}: p99 · agent`, 'ms', p99, 'agent', '(report)', () => ''),
        compare(`${label}: p99 · agent, ON_FORK=keep`, 'ms', p99, 'keep', '(report)', () => ''),
      ],
    };
  },
};

