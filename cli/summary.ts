// Reading a forksafe report (JSON Lines) into a summary, and printing that summary.
// Everything here is pure: the caller feeds lines, so a report of any size is read
// once, line by line, and only the summary stays in memory.

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

/**
 * The document printed by `forksafe report <file> --json`.
 *
 * Stable: fields may be added in later versions, none is renamed or removed while
 * `schema` stays 1. Lists are sorted by count, highest first, then by name.
 */
export interface Summary {
  /** Version of this JSON shape. */
  schema: 1;
  /** The report file as given on the command line (`-` for stdin). */
  file: string;
  /** Lines read, blank lines included. */
  lines: number;
  /** Well-formed records by `type`; types this version does not know are counted in `other`. */
  records: { violation: number; fork: number; other: Record<string, number> };
  /** Distinct `pid`s among all well-formed records. */
  processes: number;
  violations: {
    count: number;
    /** Distinct `pid`s that recorded a violation. */
    processes: number;
    /** Same counts as `kinds`, keyed by kind, for `jq '.violations.byKind["handle-transfer"]'`. */
    byKind: Record<string, number>;
    kinds: KindGroup[];
  };
  forks: {
    count: number;
    /** Forks by `api`: `cluster.fork`, `child_process.fork`. */
    byApi: Record<string, number>;
    /** Sums over every fork record. */
    closed: number;
    kept: number;
    /** Median and maximum of `ms` (time the pre-fork work took); null when there is no fork. */
    medianMs: number | null;
    maxMs: number | null;
  };
  malformed: {
    count: number;
    /** The first MALFORMED_LISTED malformed lines; `count` says how many there were in all. */
    lines: MalformedLine[];
  };
}

export interface KindGroup {
  /** `handle-transfer`, `stdio-inherit`, `inherited-socket`, `foreign-pid-use`, or a later kind. */
  kind: string;
  count: number;
  sites: SiteGroup[];
}

export interface SiteGroup {
  /** The violating call in user code, `file:line:col` (the record's `site`, or derived from its `stack`). */
  site: string;
  count: number;
  /** Distinct `api`s seen at this site, e.g. `ChildProcess.send`, most frequent first. */
  apis: string[];
  connections: ConnectionGroup[];
}

/** The connections that reached another process from one call site. */
export interface ConnectionGroup {
  driver: string | null;
  /** `user@host:port/database` or a socket path, as the agent wrote it. */
  target: string | null;
  /** Where the connection was opened, `file:line:col`, derived from the record's `openedAt`. */
  openedAt: string | null;
  count: number;
}

/** How many malformed lines a summary keeps, so a report full of garbage stays small. */
export const MALFORMED_LISTED = 1000;

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
  if (object.v !== 1) return { malformed: `unknown v: ${JSON.stringify(object.v)}` };
  if (typeof object.type !== 'string' || object.type === '') return { malformed: 'missing type' };
  return { record: object as ReportRecord };
}

/** All records and malformed lines of a report held in one string (tests, small reports). */
export function parseReport(text: string): { records: ReportRecord[]; malformed: MalformedLine[] } {
  const records: ReportRecord[] = [];
  const malformed: MalformedLine[] = [];
  splitLines(text).forEach((line, i) => {
    const parsed = parseLine(line);
    if ('record' in parsed) records.push(parsed.record);
    else if ('malformed' in parsed) malformed.push({ line: i + 1, reason: parsed.malformed });
  });
  return { records, malformed };
}

/** The summary of a report held in one string. */
export function summarize(text: string, file: string, options?: SiteOptions): Summary {
  const builder = new SummaryBuilder(file, options);
  for (const line of splitLines(text)) builder.addLine(line);
  return builder.summary();
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  // A report ends with a newline: that is the end of the last line, not an empty line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export interface SiteOptions {
  /**
   * Directories whose frames belong to the agent (with a trailing separator). Frames
   * under a `/forksafe/` directory are always the agent's; a checkout of forksafe has
   * another name, so the CLI passes the `dist/` it runs from.
   */
  agentDirs?: readonly string[];
}

/**
 * The user's place in a stack, as `file:line:col`: the first frame outside Node, the
 * agent and node_modules; failing that, the first outside Node and the agent (a library
 * that forks or sends for you, or the driver when nothing else is on the stack).
 * This is the rule the agent uses for a violation's `site`, so sites it wrote and sites
 * derived here group together.
 */
export function userFrame(stack: string, options?: SiteOptions): string | null {
  let library: string | null = null;
  for (const line of stack.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('at ')) continue;
    const location = frameLocation(trimmed.slice(3));
    if (location === null || isAgentOrNode(location, options)) continue;
    if (!/[\\/]node_modules[\\/]/.test(location)) return location;
    library ??= location;
  }
  return library;
}

// V8 writes a frame as `fn (location)` or `location`, where the function name may hold
// spaces (`new Pool`, `async run`) and the path may hold parentheses: the location is
// what the last balanced parenthesis group holds.
function frameLocation(frame: string): string | null {
  if (!frame.endsWith(')')) return frame;
  let depth = 0;
  for (let i = frame.length - 1; i >= 0; i--) {
    if (frame[i] === ')') depth++;
    else if (frame[i] === '(' && --depth === 0) return frame.slice(i + 1, -1);
  }
  return null;
}

function isAgentOrNode(location: string, options: SiteOptions | undefined): boolean {
  if (location.startsWith('node:') || location === '<anonymous>' || location === 'native') return true;
  if (/[\\/]forksafe[\\/]/.test(location)) return true;
  return options?.agentDirs?.some((dir) => location.startsWith(dir)) ?? false;
}

interface SiteState {
  site: string;
  count: number;
  apis: Map<string, number>;
  connections: Map<string, ConnectionGroup>;
}

/** Builds a summary from lines fed one at a time, in file order. */
export class SummaryBuilder {
  private lineCount = 0;
  private readonly pids = new Set<unknown>();
  private readonly violationPids = new Set<unknown>();
  private violationCount = 0;
  private readonly kinds = new Map<string, { count: number; sites: Map<string, SiteState> }>();
  private forkCount = 0;
  private readonly forkApis = new Map<string, number>();
  private closed = 0;
  private kept = 0;
  private readonly forkMs: number[] = [];
  private readonly other = new Map<string, number>();
  private malformedCount = 0;
  private readonly malformed: MalformedLine[] = [];

  constructor(
    private readonly file: string,
    private readonly options?: SiteOptions,
  ) {}

  addLine(text: string): void {
    this.lineCount++;
    // A file saved by an editor on Windows may start with a byte order mark.
    const parsed = parseLine(this.lineCount === 1 ? text.replace(/^\uFEFF/, '') : text);
    if ('record' in parsed) this.addRecord(parsed.record);
    else if ('malformed' in parsed) {
      this.malformedCount++;
      if (this.malformed.length < MALFORMED_LISTED) this.malformed.push({ line: this.lineCount, reason: parsed.malformed });
    }
  }

  private addRecord(record: ReportRecord): void {
    if (record.pid !== undefined) this.pids.add(record.pid);
    if (record.type === 'violation') this.addViolation(record);
    else if (record.type === 'fork') this.addFork(record);
    else this.other.set(record.type, (this.other.get(record.type) ?? 0) + 1);
  }

  private addViolation(record: ReportRecord): void {
    this.violationCount++;
    if (record.pid !== undefined) this.violationPids.add(record.pid);
    const kind = text(record.kind) ?? 'unknown';
    let byKind = this.kinds.get(kind);
    if (byKind === undefined) this.kinds.set(kind, (byKind = { count: 0, sites: new Map() }));
    byKind.count++;

    const site = text(record.site) ?? userFrame(text(record.stack) ?? '', this.options) ?? '<unknown>';
    let bySite = byKind.sites.get(site);
    if (bySite === undefined) byKind.sites.set(site, (bySite = { site, count: 0, apis: new Map(), connections: new Map() }));
    bySite.count++;
    const api = text(record.api) ?? '<unknown api>';
    bySite.apis.set(api, (bySite.apis.get(api) ?? 0) + 1);

    const driver = text(record.driver);
    const target = text(record.target);
    const openedAt = userFrame(text(record.openedAt) ?? '', this.options);
    const key = JSON.stringify([driver, target, openedAt]);
    let connection = bySite.connections.get(key);
    if (connection === undefined) bySite.connections.set(key, (connection = { driver, target, openedAt, count: 0 }));
    connection.count++;
  }

  private addFork(record: ReportRecord): void {
    this.forkCount++;
    const api = text(record.api) ?? '<unknown api>';
    this.forkApis.set(api, (this.forkApis.get(api) ?? 0) + 1);
    this.closed += count(record.closed);
    this.kept += count(record.kept);
    if (typeof record.ms === 'number' && Number.isFinite(record.ms)) this.forkMs.push(record.ms);
  }

  summary(): Summary {
    const kinds: KindGroup[] = [...this.kinds].map(([kind, { count, sites }]) => ({
      kind,
      count,
      sites: byCount(
        [...sites.values()].map((s) => ({
          site: s.site,
          count: s.count,
          apis: byCount([...s.apis].map(([api, n]) => ({ api, count: n })), (a) => a.api).map((a) => a.api),
          connections: byCount([...s.connections.values()], (c) => `${c.driver} ${c.target} ${c.openedAt}`),
        })),
        (s) => s.site,
      ),
    }));
    byCount(kinds, (k) => k.kind);
    const sortedMs = this.forkMs.slice().sort((a, b) => a - b);
    return {
      schema: 1,
      file: this.file,
      lines: this.lineCount,
      records: { violation: this.violationCount, fork: this.forkCount, other: countsObject(this.other) },
      processes: this.pids.size,
      violations: {
        count: this.violationCount,
        processes: this.violationPids.size,
        byKind: Object.fromEntries(kinds.map((k) => [k.kind, k.count])),
        kinds,
      },
      forks: {
        count: this.forkCount,
        byApi: countsObject(this.forkApis),
        closed: this.closed,
        kept: this.kept,
        medianMs: median(sortedMs),
        maxMs: sortedMs.length === 0 ? null : sortedMs[sortedMs.length - 1]!,
      },
      malformed: { count: this.malformedCount, lines: this.malformed.slice() },
    };
  }
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function byCount<T extends { count: number }>(items: T[], name: (item: T) => string): T[] {
  return items.sort((a, b) => b.count - a.count || compare(name(a), name(b)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function countsObject(counts: Map<string, number>): Record<string, number> {
  return Object.fromEntries(byCount([...counts].map(([name, n]) => ({ name, count: n })), (c) => c.name).map((c) => [c.name, c.count]));
}

function median(sorted: number[]): number | null {
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** How many malformed lines the human summary prints before "... and N more". */
const MALFORMED_PRINTED = 20;

/** The summary for a person at a terminal: plain text, no colours, one trailing newline. */
export function formatSummary(summary: Summary): string {
  const out: string[] = [];
  out.push(`forksafe report: ${summary.file}${summary.lines === 0 ? ' (empty)' : ''}`);

  const { violations, forks } = summary;
  const headline = [
    violations.count === 0
      ? 'no violations'
      : `${plural(violations.count, 'violation')} in ${plural(violations.processes, 'process', 'processes')}`,
    forks.count === 0
      ? 'no forks'
      : `${plural(forks.count, 'fork')} (closed ${forks.closed}, kept ${forks.kept}, median ${formatMs(forks.medianMs)})`,
  ];
  const others = Object.entries(summary.records.other);
  if (others.length > 0) {
    const total = others.reduce((sum, [, n]) => sum + n, 0);
    headline.push(`${plural(total, 'other record')} (${others.map(([type, n]) => `${type} ${n}`).join(', ')})`);
  }
  out.push(headline.join('; '));
  if (violations.count > 0) out.push(`by kind: ${violations.kinds.map((k) => `${k.kind} ${k.count}`).join(', ')}`);

  for (const kind of violations.kinds) {
    out.push('', `${kind.kind} (${kind.count})`);
    const width = String(kind.sites[0]?.count ?? 0).length;
    const indent = ' '.repeat(width + 4);
    for (const site of kind.sites) {
      out.push(`  ${String(site.count).padStart(width)}  ${site.site}  ${site.apis.join(', ')}`);
      const several = site.connections.length > 1;
      for (const c of site.connections) {
        const what = c.driver === null && c.target === null ? 'unknown connection' : `${c.driver ?? '?'} ${c.target ?? '?'}`;
        const where = c.openedAt === null ? 'opened at an unknown place' : `opened at ${c.openedAt}`;
        out.push(`${indent}${several ? `${c.count}x ` : ''}${what}, ${where}`);
      }
    }
  }

  const { malformed } = summary;
  if (malformed.count > 0) {
    out.push('', `${plural(malformed.count, 'malformed line')} skipped`);
    for (const m of malformed.lines.slice(0, MALFORMED_PRINTED)) out.push(`  line ${m.line}: ${m.reason}`);
    if (malformed.count > MALFORMED_PRINTED) out.push(`  ... and ${malformed.count - MALFORMED_PRINTED} more`);
  }
  return out.join('\n') + '\n';
}

function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}

function formatMs(ms: number | null): string {
  return ms === null ? '? ms' : `${Number(ms.toFixed(2))} ms`;
}
