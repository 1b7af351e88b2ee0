// Version ranges are data (`>=8 <9`); this reads the small subset of semver they use:
// space-separated comparators (>=, >, <=, <, =) that must all hold.

function parse(version: string): number[] | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! - b[i]!;
  return 0;
}

export function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  if (!v || /-/.test(version)) return false; // prereleases are outside every declared range
  for (const comparator of range.trim().split(/\s+/)) {
    const m = /^(>=|<=|>|<|=)?(.+)$/.exec(comparator);
    const bound = m && parse(m[2]!);
    if (!m || !bound) throw new Error(`bad version range ${JSON.stringify(range)}`);
    const c = compare(v, bound);
    const ok = { '>=': c >= 0, '<=': c <= 0, '>': c > 0, '<': c < 0, '=': c === 0 }[m[1] ?? '='];
    if (!ok) return false;
  }
  return true;
}
