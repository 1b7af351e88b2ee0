import { readFileSync } from 'node:fs';

// The one question forksafe asks of a source map (version 3): where a generated
// line:column came from. A test runner's transform (babel-jest) moves lines; the map it
// wrote says where each generated segment started in the source.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes one segment's base64 VLQ fields. */
function decodeSegment(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = B64.indexOf(ch);
    if (digit === -1) throw new Error(`source map: bad character ${JSON.stringify(ch)}`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

/**
 * The source `line:col` (1-based) of generated `line:col` (1-based), by the map at
 * `mapPath`; undefined when the map has no segment there.
 */
export function originalPosition(mapPath: string, line: number, col: number): { line: number; col: number } | undefined {
  const map = JSON.parse(readFileSync(mapPath, 'utf8')) as { mappings?: unknown };
  return typeof map.mappings === 'string' ? positionIn(map.mappings, line, col) : undefined;
}

/** The same, by a map's `mappings` field (a runner that keeps its maps in memory: Vitest). */
export function positionIn(mappings: string, line: number, col: number): { line: number; col: number } | undefined {
  const lines = mappings.split(';');
  // Source index, line and column are relative to the previous segment across all lines.
  let srcLine = 0;
  let srcCol = 0;
  let found: { line: number; col: number } | undefined;
  for (let i = 0; i < lines.length && i < line; i++) {
    let genCol = 0;
    for (const segment of lines[i]!.split(',')) {
      if (segment === '') continue;
      const f = decodeSegment(segment);
      genCol += f[0]!;
      if (f.length < 4) continue;
      srcLine += f[2]!;
      srcCol += f[3]!;
      if (i === line - 1 && genCol <= col - 1) found = { line: srcLine + 1, col: srcCol + 1 };
    }
  }
  return found;
}
