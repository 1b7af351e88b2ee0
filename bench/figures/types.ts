// What a figure is and what it hands back: rows for the table, samples for the JSON.
import type { Context } from '../measure';
import type { Series } from '../stats';

export type Verdict = 'PASS' | 'MISS' | '';

/** One line of the table. */
export interface Row {
  label: string;
  unit: string;
  /** Medians, for context beside the ratio. */
  baseline?: number;
  measured: number;
  ratio?: Series;
  /** measured − baseline, pair by pair, where the target is a difference. */
  delta?: Series;
  target: string;
  verdict: Verdict;
  /** Shown in the ratio column of a row that has no ratio. */
  note?: string;
}

export interface FigureResult {
  id: string;
  title: string;
  settings: Record<string, unknown>;
  /** Every sample of every variant (and the per-pair ratios), for the JSON. */
  variants: Record<string, Series>;
  ratios: Record<string, Series>;
  extra?: Record<string, unknown>;
  rows: Row[];
  /** How long the figure took to measure. */
  seconds?: number;
}

export interface Figure {
  id: string;
  title: string;
  /** `instructions`: counted under callgrind (`--instructions`; full runs, not --quick). */
  group?: 'instructions';
  run(ctx: Context): Promise<FigureResult>;
}

