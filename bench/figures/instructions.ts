// Instruction counts (valgrind callgrind) beside the wall times: start-up, and the spawn,
// send and connect loops. NODE_EXTRA_CA_CERTS is unset for every count (see callgrind.ts).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { COUNTING_FLAGS, countingEnv, KEEP_CA_CERTS } from '../callgrind';
import { bare, countRounds, launch, withAgent, workload, WORKLOADS, type Context, type Variant } from '../measure';
import { paired, ratio, series, type Series } from '../stats';
import { atMost, pick, ratiosOf, seriesOf } from './compare';
import type { Figure, Row, Verdict } from './types';

const M = 1e6;

/** A row of counts: medians in millions of instructions, the ratio per round. */
export function countRow(label: string, samples: Record<string, number[]>, name: string, against: string, target: string, verdict: (r: Series) => Verdict): Row {
  const r = paired(samples[name]!, samples[against]!, ratio);
  const b = series(samples[against]!);
  const m = series(samples[name]!);
  return {
    label,
    unit: 'M instr',
    baseline: b.median / M,
    measured: m.median / M,
    ratio: r,
    // The difference in instructions, and the spread of the counts themselves: how far apart
    // repeated runs of one variant are.
    note: `${m.median >= b.median ? '+' : ''}${((m.median - b.median) / M).toFixed(1)} M, spread ±${((b.max - b.min) / 2 / M).toFixed(1)} M / ±${((m.max - m.min) / 2 / M).toFixed(1)} M`,
    target,
    verdict: verdict(r),
  };
}

/**
 * The first start under a new set of flags writes the agent's code cache (agent/code-cache.ts):
 * made here, uncounted, as any earlier run of the application would have, so that no
 * round counts the cache being written.
 */
export function warmCodeCache(ctx: Context, execPath = process.execPath): void {
  const warm = launch(ctx, withAgent(ctx), ['-e', '0']);
  spawnSync(execPath, [...COUNTING_FLAGS, ...warm.node, ...warm.args], { cwd: warm.cwd, env: countingEnv(warm.env), stdio: 'ignore' });
}

export const plusPercent = (max: number) => (r: Series): Verdict => (r.median <= 1 + max / 100 ? 'PASS' : 'MISS');

export const instructionsStartup: Figure = {
  id: 'instructions-startup',
  title: 'instructions: start-up',
  group: 'instructions',
  async run(ctx) {
    const runs = pick(ctx, 1, 3);
    const agent = withAgent(ctx);
    const e0 = ['-e', '0'];
    const drivers = workload('require-drivers.js');
    // The machine's own start-up, as users run it here: NODE_EXTRA_CA_CERTS set (the issue's
    // reference of +1.5% was taken so), when this machine sets it.
    const ca = process.env.NODE_EXTRA_CA_CERTS;
    const caEnv = ca ? { [KEEP_CA_CERTS]: ca } : undefined;
    warmCodeCache(ctx);
    const variants: Variant[] = [
      { ...bare, args: e0 },
      { name: 'empty', node: ['-r', join(WORKLOADS, 'empty.js')], args: e0 },
      { name: 'builtins', node: [], args: ['-e', "require('child_process'); require('cluster')"] },
      { ...agent, args: e0 },
      { ...withAgent(ctx, { name: 'off', env: { FORKSAFE_MODE: 'off' } }), args: e0 },
      { name: 'driversBare', node: [], args: drivers },
      { name: 'driversAgent', node: agent.node, args: drivers },
      ...(caEnv ? [{ name: 'caBare', node: [], env: caEnv, args: e0 }, { ...agent, name: 'caAgent', env: { ...agent.env, ...caEnv }, args: e0 }] : []),
    ];
    const samples = await countRounds(ctx, this.title, variants, [], runs);
    return {
      id: this.id,
      title: this.title,
      settings: { runs, measured: 'instructions of the whole process (callgrind `Collected`), ASLR off and --random-seed=1, NODE_EXTRA_CA_CERTS unset unless a row says so; variants counted in turn, two at a time' },
      variants: seriesOf(samples),
      ratios: ratiosOf(samples),
      rows: [
        countRow('instructions: node -e 0 · -r of an empty file', samples, 'empty', 'bare', '(reference)', () => ''),
        countRow("instructions: node -e 0 · require('child_process'), require('cluster')", samples, 'builtins', 'bare', '(reference)', () => ''),
        countRow('instructions: node -e 0 · agent', samples, 'agent', 'bare', '≤ 1.015 (+1.5%)', plusPercent(1.5)),
        countRow('instructions: node -e 0 · agent, against -r of an empty file', samples, 'agent', 'empty', '(what the agent adds to any preload)', () => ''),
        countRow('instructions: node -e 0 · agent, FORKSAFE_MODE=off', samples, 'off', 'bare', '≤ 1.006 (+0.6%)', plusPercent(0.6)),
        countRow('instructions: require pg + mysql2, exit · agent', samples, 'driversAgent', 'driversBare', '≤ 1.02', atMost(1.02)),
        ...(caEnv ? [countRow('instructions: node -e 0 · agent, NODE_EXTRA_CA_CERTS set (this machine\'s default)', samples, 'caAgent', 'caBare', '≤ 1.015 (+1.5%)', plusPercent(1.5))] : []),
      ],
    };
  },
};

/**
 * A loop's own instructions: the process with `count` iterations minus the same process
 * with none, per iteration, bare and agent; the ratio is agent / bare of those, per round.
 */
function loopFigure(id: string, title: string, args: (count: number) => string[], counts: { quick: number; full: number }, target: number): Figure {
  return {
    id,
    title,
    group: 'instructions',
    async run(ctx: Context) {
      const runs = pick(ctx, 1, 3);
      const count = pick(ctx, counts.quick, counts.full);
      warmCodeCache(ctx);
      const variants = (n: number): Variant[] => [
        { ...bare, name: `bare.${n}`, args: args(n) },
        { ...withAgent(ctx), name: `agent.${n}`, args: args(n) },
      ];
      const samples = await countRounds(ctx, this.title, [...variants(count), ...variants(0)], [], runs);
      const per = (v: 'bare' | 'agent') => samples[`${v}.${count}`]!.map((x, i) => (x - samples[`${v}.0`]![i]!) / count);
      const perIteration = { bare: per('bare'), agent: per('agent') };
      const r = paired(perIteration.agent, perIteration.bare, ratio);
      const spread = (v: string) => {
        const s = series(samples[v]!);
        return (s.max - s.min) / 2 / M;
      };
      return {
        id: this.id,
        title: this.title,
        settings: { runs, count, measured: `instructions of the process with ${count} iterations minus the same with 0, per iteration (callgrind, children not counted, NODE_EXTRA_CA_CERTS unset)` },
        variants: { ...seriesOf(samples), ...Object.fromEntries(Object.entries(perIteration).map(([k, v]) => [`${k}.perIteration`, series(v)])) },
        ratios: { 'agent.perIteration': r },
        rows: [{
          label: `${this.title} ×${count}, per iteration`,
          unit: 'k instr',
          baseline: series(perIteration.bare).median / 1e3,
          measured: series(perIteration.agent).median / 1e3,
          ratio: r,
          note: `process spread ±${spread(`bare.${count}`).toFixed(1)} M / ±${spread(`agent.${count}`).toFixed(1)} M`,
          target: `≤ ${target.toFixed(2)}`,
          verdict: atMost(target)(r),
        }],
      };
    },
  };
}

// Loops long enough that V8 has optimised the code on both sides and one collection more or
// less does not decide the figure: at 20 iterations a spawn swung ±100 k by where a
// collection fell, and a pg connect still carried its first-call costs (1.12× at 20
// connects, 1.045× at 200, 1.073× at 1,000, where bare has warmed up and the agent's share
// has not shrunk with it). A send is short (16 k instructions) and the send loop's process
// counts spread by ±2.5 M at any length (the child's reading speed decides how the parent's
// writes queue): ±1.3 k per send at 2,000 sends, ten times the agent's share; ±0.12 k at 20,000.
// spawnSync runs 1,000: TurboFan compiling the agent's copy of the env once is ~250 k a call
// over 200 calls.
export const instructionsSpawn = loopFigure('instructions-spawn', "instructions: spawn('true') loop", (n) => workload('count-loop.js', '--loop', 'spawn', '--count', n), { quick: 5, full: 200 }, 1.02);
export const instructionsSpawnEnv = loopFigure('instructions-spawn-env', "instructions: spawn('true', { env }) loop", (n) => workload('count-loop.js', '--loop', 'spawn-env', '--count', n), { quick: 5, full: 200 }, 1.02);
export const instructionsSpawnSync = loopFigure('instructions-spawn-sync', "instructions: spawnSync('true') loop", (n) => workload('count-loop.js', '--loop', 'spawn-sync', '--count', n), { quick: 5, full: 1000 }, 1.02);
export const instructionsSend = loopFigure('instructions-send', 'instructions: IPC send() of objects', (n) => workload('count-loop.js', '--loop', 'send', '--count', n), { quick: 200, full: 20000 }, 1.01);
export const instructionsConnect = loopFigure('instructions-connect', 'instructions: pg connect + end', (n) => workload('connect-loop.js', '--once', n), { quick: 5, full: 1000 }, 1.02);
