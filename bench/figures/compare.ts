// Turning interleaved samples into summaries, ratios and table rows.
import type { Context } from '../measure';
import { paired, ratio, series, type Series } from '../stats';
import type { Row, Verdict } from './types';

export const pick = <T>(ctx: Context, quick: T, full: T): T => (ctx.quick ? quick : full);

export function seriesOf(samples: Record<string, number[]>): Record<string, Series> {
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, series(v)]));
}

export function ratiosOf(samples: Record<string, number[]>, against = 'bare'): Record<string, Series> {
  const out: Record<string, Series> = {};
  for (const [k, v] of Object.entries(samples)) if (k !== against) out[k] = paired(v, samples[against]!, ratio);
  return out;
}

export function compare(label: string, unit: string, samples: Record<string, number[]>, name: string, target: string, verdict: (r: Series) => Verdict): Row {
  const r = paired(samples[name]!, samples.bare!, ratio);
  return { label, unit, baseline: series(samples.bare!).median, measured: series(samples[name]!).median, ratio: r, target, verdict: verdict(r) };
}

export const atMost = (max: number) => (r: Series): Verdict => (r.median <= max ? 'PASS' : 'MISS');
export const atLeast = (min: number) => (r: Series): Verdict => (r.median >= min ? 'PASS' : 'MISS');

