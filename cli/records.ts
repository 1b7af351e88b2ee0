// One report line (JSON Lines, `v: 1`) read defensively: the CLI must print something
// useful for a report written by another version of the agent, or damaged on disk.

/** One well-formed report line. Fields beyond `v` and `type` are read defensively. */
export interface ReportRecord {
  v: 1;
  type: string;
  [field: string]: unknown;
}

/** A line that was skipped, with why. `line` is 1-based. */
export interface MalformedLine {
  line: number;
  reason: string;
}

export type ParsedLine = { record: ReportRecord } | { malformed: string } | { blank: true };

/** Reads one report line; `reason` words are short enough to print after "line N: ". */
export function parseLine(text: string): ParsedLine {
  if (text.trim() === '') return { blank: true };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { malformed: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { malformed: 'not an object' };
  const object = value as Record<string, unknown>;
  if (object.v === undefined) return { malformed: 'missing v' };
  if (object.v !== 1) return { malformed: `unknown v: ${clip(JSON.stringify(object.v), 40)}` };
  if (typeof object.type !== 'string' || object.type === '') return { malformed: 'missing type' };
  return { record: object as ReportRecord };
}

/** A non-empty string field, cut to `max` characters (what the CLI keeps stays small). */
export function text(value: unknown, max = 1000): string | null {
  return typeof value === 'string' && value !== '' ? clip(value, max) : null;
}

/** A finite number field, else 0. */
export function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** A pid as the agent writes it (a positive integer), else null. */
export function pidOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null;
}

export function clip(value: string, max: number): string {
  return value.length <= max ? value : value.slice(0, max) + `… (${value.length - max} more characters)`;
}

/**
 * A copy of a string that holds no reference to the line it was parsed from. V8 may
 * return a string inside a JSON text as a slice of that text, so keeping a short field
 * would keep its whole line (up to LINE_CAP) alive: everything kept past a line is owned.
 */
export function own<T extends string | null>(value: T): T {
  return (value === null ? null : Buffer.from(value, 'utf8').toString('utf8')) as T;
}
