// Medians, ranges and percentiles of the samples the orchestrator collects.

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
}

export interface Series extends Summary {
  samples: number[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function series(samples: readonly number[]): Series {
  if (samples.length === 0) throw new Error('no samples');
  return { n: samples.length, median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples: [...samples] };
}

/** `f(b[i], a[i])` for every interleaved pair: the ratios (or differences) that drift cannot bias. */
export function paired(b: readonly number[], a: readonly number[], f: (b: number, a: number) => number): Series {
  if (a.length !== b.length) throw new Error(`unpaired samples: ${b.length} against ${a.length}`);
  return series(b.map((x, i) => f(x, a[i]!)));
}

export const ratio = (b: number, a: number): number => b / a;
export const difference = (b: number, a: number): number => b - a;

/** A latency histogram: bucket (in units of 10 µs) → count. */
export type Histogram = Record<string, number>;

export function mergeHistograms(hs: readonly Histogram[]): Histogram {
  const out: Histogram = {};
  for (const h of hs) for (const [k, v] of Object.entries(h)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** The `p`th percentile of a histogram of 10 µs buckets, in ms. */
export function histogramPercentile(h: Histogram, p: number): number {
  const buckets = Object.entries(h).map(([k, v]) => [Number(k), v] as const).sort((x, y) => x[0] - y[0]);
  const total = buckets.reduce((n, [, v]) => n + v, 0);
  let seen = 0;
  for (const [bucket, count] of buckets) {
    seen += count;
    if (seen >= (p / 100) * total) return bucket / 100;
  }
  return buckets.length ? buckets[buckets.length - 1]![0] / 100 : NaN;
}

/**
 * The exponent k of ms ≈ c·n^k, fitted (least squares on logarithms) over the points with
 * n ≥ 10: 1 is linear growth, below 1 slower (fixed costs dominate), above 1 faster.
 */
export function growthExponent(points: readonly { n: number; median: number }[]): number {
  const used = points.filter((p) => p.n >= 10 && p.median > 0);
  if (used.length < 2) return NaN;
  const xs = used.map((p) => Math.log(p.n));
  const ys = used.map((p) => Math.log(p.median));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i]! - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}
