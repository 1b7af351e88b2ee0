// The query path: SELECT 1 through a pool, bare, under the agent, under OpenTelemetry.
import { bare, blockRounds, otel, withAgent, workload, type Variant } from '../measure';
import { compare, pick, ratiosOf, seriesOf } from './compare';
import type { Figure } from './types';

export function queryLoop(driver: 'pg' | 'mysql2'): Figure {
  return {
    id: `query-${driver}`,
    title: `${driver} pool.query('SELECT 1')`,
    async run(ctx) {
      const plan = { sets: pick(ctx, 1, 3), runs: pick(ctx, 1, 4), blocks: 1, params: { queries: pick(ctx, 2000, 20000) } };
      const warmup = pick(ctx, 1000, 30000);
      const total = plan.blocks * plan.params.queries;
      // A second bare process shows the noise floor: what a ratio of two identical runs looks
      // like here (full runs only, like every diagnostic row).
      const again: Variant = { ...bare, name: 'bare2' };
      const variants = [bare, withAgent(ctx), otel(driver), ...(ctx.quick ? [] : [again])];
      const runs = await blockRounds(ctx, this.title, variants, workload('query-loop.js', '--driver', driver, '--concurrency', 10, '--warmup', warmup), plan, (blocks: { ms: number; cpuMs: number }[]) => ({
        ms: blocks.reduce((n, b) => n + b.ms, 0),
        cpu: blocks.reduce((n, b) => n + b.cpuMs, 0),
      }));
      const samples = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((r) => r.ms)]));
      const cpu = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((r) => r.cpu)]));
      const ratios = ratiosOf(samples);
      const label = `${this.title} ×${total.toLocaleString('en')}, c10`;
      const otelRatio = ratios.otel!.median;
      return {
        id: this.id,
        title: this.title,
        settings: { ...plan, total, concurrency: 10, pool: 10, warmup, measured: `ms for ${total} queries; bare, agent, OpenTelemetry and bare again take turns, one loop each` },
        variants: seriesOf(samples),
        ratios,
        extra: { cpuMs: seriesOf(cpu), cpuRatios: ratiosOf(cpu) },
        rows: [
          compare(`${label} · agent`, 'ms', samples, 'agent', `≤ 1.01, < OTel`, (r) => (r.median <= 1.01 && r.median < otelRatio ? 'PASS' : 'MISS')),
          compare(`${label} · OpenTelemetry`, 'ms', samples, 'otel', '(reference)', () => ''),
          ...(samples.bare2 ? [compare(`${label} · bare again (noise floor)`, 'ms', samples, 'bare2', '(noise)', () => '')] : []),
        ],
      };
    },
  };
}

