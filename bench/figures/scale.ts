// No cliff at scale: the send door, spawn and disconnectAll() with thousands of real tracked
// sockets, and the life of a connection (1,000 sequential pg connects).
import type { Once } from '../processes';
import { bare, blockRounds, processRounds, sumMs, withAgent, workload, type Context, type Variant } from '../measure';
import { growthExponent, paired, ratio, series } from '../stats';
import { atMost, compare, pick, ratiosOf, seriesOf } from './compare';
import type { Figure, Row } from './types';

const SCALES = [10, 1000, 10000];

const withSockets = (v: Variant, n: number): Variant => ({ ...v, name: `${v.name}.${n}`, args: ['--sockets', String(n)] });

export const doorCheck: Figure = {
  id: 'door-check',
  title: 'send door with a handle',
  async run(ctx) {
    const scales = pick(ctx, [10, 1000], SCALES);
    const plan = { sets: 1, runs: pick(ctx, 2, 8), blocks: pick(ctx, 1, 5), params: { count: pick(ctx, 500, 2000) } };
    const variants = scales.flatMap((n) => [withSockets(bare, n), withSockets(withAgent(ctx), n)]);
    const samples = await blockRounds(ctx, this.title, variants, workload('door-check.js'), plan, (blocks: { us: number }[]) => blocks.reduce((n, b) => n + b.us, 0) / blocks.length);
    const rows: Row[] = scales.map((n) => {
      const door = paired(samples[`agent.${n}`]!, samples[`bare.${n}`]!, (a, b) => a - b);
      return {
        label: `${this.title}: agent − bare per send(), ${n.toLocaleString('en')} tracked sockets`,
        unit: 'µs',
        baseline: series(samples[`bare.${n}`]!).median,
        measured: series(samples[`agent.${n}`]!).median,
        note: `door ${door.median >= 0 ? '+' : ''}${door.median.toFixed(2)} µs [${door.min.toFixed(2)}–${door.max.toFixed(2)}]`,
        target: '≤ 2 µs',
        verdict: door.median <= 2 ? 'PASS' : 'MISS',
      };
    });
    const [low, high] = [scales[0]!, scales[scales.length - 1]!];
    const flat = paired(samples[`agent.${high}`]!, samples[`agent.${low}`]!, ratio);
    rows.push({
      label: `${this.title}: agent per send(), ${high.toLocaleString('en')} / ${low} tracked sockets`,
      unit: 'µs',
      baseline: series(samples[`agent.${low}`]!).median,
      measured: series(samples[`agent.${high}`]!).median,
      ratio: flat,
      target: 'flat (≤ 1.10)',
      verdict: atMost(1.1)(flat),
    });
    return {
      id: this.id,
      title: this.title,
      settings: { ...plan, scales, measured: `median µs of the synchronous subprocess.send('socket', acceptedSocket, { keepOpen: true }) calls of a block (each timed alone), ${plan.params.count} per block (the first goes out, the rest queue behind it), with n real idle client sockets to a sink process tracked through forksafe.register() (pools of 10); bare and agent at each n take turns` },
      variants: seriesOf(samples),
      ratios: ratiosOf(samples, `bare.${low}`),
      rows,
    };
  },
};

export const spawnScale: Figure = {
  id: 'spawn-scale',
  title: "spawn('true') with 10,000 tracked sockets",
  async run(ctx) {
    const high = pick(ctx, 1000, 10000);
    const plan = { sets: 1, runs: pick(ctx, 2, 8), blocks: pick(ctx, 2, 10), params: { count: 20 } };
    const total = plan.blocks * plan.params.count;
    // Bare Node at both sizes too: a process with 10,000 open sockets forks slower by itself
    // (its descriptor table and memory are copied), and that is the physical limit here.
    const variants = [withSockets(withAgent(ctx), 10), withSockets(withAgent(ctx), high), withSockets(bare, 10), withSockets(bare, high)];
    const title = ctx.quick ? `spawn('true') with ${high.toLocaleString('en')} tracked sockets` : this.title;
    let samples: Record<string, number[]>;
    try {
      samples = await blockRounds(ctx, this.title, variants, workload('spawn-loop.js'), plan, sumMs);
    } catch (err) {
      // The cliff this figure looks for: spawn failing (E2BIG) is a MISS, not a crash of the bench.
      const first = String(err instanceof Error ? err.message : err).split('\n').find((l) => /E2BIG|Error/.test(l)) ?? String(err);
      return { id: this.id, title, settings: { ...plan, high }, variants: {}, ratios: {}, rows: [{ label: `${title} ×${total}`, unit: 'ms', measured: NaN, note: `failed: ${first.slice(0, 120)}`, target: 'works, ≤ 1.05 of 10', verdict: 'MISS' }] };
    }
    const r = paired(samples[`agent.${high}`]!, samples['agent.10']!, ratio);
    const physical = paired(samples[`bare.${high}`]!, samples['bare.10']!, ratio);
    const share = paired(samples[`agent.${high}`]!, samples[`bare.${high}`]!, ratio);
    return {
      id: this.id,
      title,
      settings: { ...plan, total, high, measured: `ms for ${total} spawns in blocks of ${plan.params.count}, with 10 idle pg connections and 10 or ${high} more real idle client sockets (tracked through forksafe.register() under the agent), agent and bare at both sizes, taking turns` },
      variants: seriesOf(samples),
      ratios: { [`agent.${high}`]: r, [`bare.${high}`]: physical, [`agent.${high}/bare.${high}`]: share },
      rows: [
        { label: `${title} ×${total} / with 10`, unit: 'ms', baseline: series(samples['agent.10']!).median, measured: series(samples[`agent.${high}`]!).median, ratio: r, target: 'works, ≤ 1.05 of 10', verdict: atMost(1.05)(r) },
        { label: `${title} ×${total} / with 10 · bare Node (the physical limit)`, unit: 'ms', baseline: series(samples['bare.10']!).median, measured: series(samples[`bare.${high}`]!).median, ratio: physical, target: '(bare)', verdict: '' },
        { label: `${title} ×${total} · agent / bare, both with ${high.toLocaleString('en')}`, unit: 'ms', baseline: series(samples[`bare.${high}`]!).median, measured: series(samples[`agent.${high}`]!).median, ratio: share, target: '(agent’s share)', verdict: '' },
      ],
    };
  },
};

interface ScalePoint {
  n: number;
  pools: number;
  samples: number[];
  direct: number[];
}

export const disconnectScale: Figure = {
  id: 'disconnect-scale',
  title: 'disconnectAll() at scale',
  async run(ctx) {
    const points = pick(ctx, [10, 100, 1000], [10, 100, 1000, 10000]);
    const samples = pick(ctx, 1, 7);
    const runs = await processRounds(ctx, this.title, [withAgent(ctx)], workload('disconnect-scale.js', '--points', points.join(','), '--samples', samples, '--warmup', pick(ctx, 1, 2)), 1, (r: Once) => r.json, { coldRound: false });
    const measured = (runs.agent![0] as unknown as { points: ScalePoint[] }).points;
    const curve = measured.map((p) => ({ ...p, wall: series(p.samples), own: series(p.direct) }));
    const k = growthExponent(curve.map((p) => ({ n: p.n, median: p.wall.median })));
    const top = curve[curve.length - 1]!;
    const rows: Row[] = curve.map((p) => {
      const isTarget = p.n === 10000;
      return {
        label: `${this.title}, ${p.n.toLocaleString('en')} idle conns in ${p.pools.toLocaleString('en')} pools`,
        unit: 'ms',
        measured: p.wall.median,
        note: `the pools' own disconnect() loop: ${p.own.median.toFixed(2)} ms`,
        target: isTarget ? '< 20 ms' : '',
        verdict: isTarget ? (p.wall.median < 20 ? 'PASS' : 'MISS') : '',
      };
    });
    rows.push({ label: `${this.title} growth, 10 → ${top.n.toLocaleString('en')} conns: ms ∝ n^k`, unit: 'k', measured: k, target: 'k ≤ 1.1 (1 = linear)', verdict: k <= 1.1 ? 'PASS' : 'MISS' });
    return {
      id: this.id,
      title: this.title,
      settings: { points, samplesPerPoint: samples, measured: 'wall ms of disconnectAll() (performance.now) under the agent, over pools of 10 real idle client sockets (to a sink process) registered with forksafe.register(), whose disconnect() queues the close of its sockets; reopened before every sample; alternating with the same pools closed by the app’s own loop' },
      variants: {},
      ratios: {},
      extra: { growth: k, points: curve.map((p) => ({ n: p.n, pools: p.pools, wallMs: p.wall, ownLoopMs: p.own })) },
      rows,
    };
  },
};

export const connectLoop: Figure = {
  id: 'connect',
  title: 'pg connect + end, one after another',
  async run(ctx: Context) {
    const plan = { sets: 1, runs: pick(ctx, 1, 6), blocks: pick(ctx, 2, 10), params: { count: pick(ctx, 20, 100) } };
    const total = plan.blocks * plan.params.count;
    const samples = await blockRounds(ctx, this.title, [bare, withAgent(ctx)], workload('connect-loop.js'), plan, sumMs);
    return {
      id: this.id,
      title: this.title,
      settings: { ...plan, total, measured: `ms for ${total} sequential new pg.Client(), connect(), end(), in blocks of ${plan.params.count} taken in turn (one connection open at a time)` },
      variants: seriesOf(samples),
      ratios: ratiosOf(samples),
      rows: [compare(`${this.title} ×${total.toLocaleString('en')}`, 'ms', samples, 'agent', '≤ 1.02', atMost(1.02))],
    };
  },
};
