// The table a person reads at a glance: one row per figure, medians for context, the
// ratio (median [min–max] over interleaved pairs) that counts, the target and the verdict.
import type { Row } from './figures';

function num(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'qps') return `${Math.round(value).toLocaleString('en')} q/s`;
  if (unit === 'k') return value.toFixed(2);
  if (unit === 'M instr' || unit === 'k instr') return `${value.toFixed(1)} ${unit}`;
  const digits = Math.abs(value) < 10 ? 2 : Math.abs(value) < 100 ? 1 : 0;
  return `${value.toFixed(digits)} ${unit}`;
}

function signed(value: number, unit: string): string {
  return (value >= 0 ? '+' : '') + num(value, unit);
}

function ratioCell(row: Row): string {
  if (!row.ratio) return row.note ?? '';
  const r = row.ratio;
  const text = `${r.median.toFixed(3)} [${r.min.toFixed(2)}–${r.max.toFixed(2)}]`;
  const withDelta = row.delta ? `${text} ${signed(row.delta.median, row.unit)}` : text;
  return row.note ? `${withDelta}, ${row.note}` : withDelta;
}

export function renderTable(rows: Row[]): string {
  const header = ['figure', 'bare', 'measured', 'ratio (median [min–max])', 'target', 'result'];
  const cells = rows.map((r) => [
    r.label,
    r.baseline === undefined ? '' : num(r.baseline, r.unit),
    num(r.measured, r.unit),
    ratioCell(r),
    r.target,
    r.verdict,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 1 || i === 2 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
