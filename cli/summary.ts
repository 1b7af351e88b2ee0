// A forksafe report (JSON Lines) read into a summary. The caller feeds lines one at a
// time, and everything kept is capped (call sites, connections per site, malformed lines,
// text lengths), so a report of any size and any variety takes bounded memory.
import { clip, count, type MalformedLine, own, parseLine, pidOf, type ReportRecord, text } from './records';

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
    /**
     * Violations at call sites not listed in `kinds`: the summary keeps the SITES_LISTED
     * most frequent call sites (approximately, once there are more distinct sites than that).
     */
    unlisted: number;
    /** The violations that carried a `test` (Jest, Vitest, Mocha), by test, most first. */
    tests: TestGroup[];
    /** Violations of tests not listed in `tests` (only TESTS_LISTED distinct tests are kept). */
    testsUnlisted: number;
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
  /** Violations of this kind at call sites not listed (see `violations.unlisted`). */
  unlisted: number;
}

export interface SiteGroup {
  /** The violating call in user code, `file:line:col`, as the agent recorded it (`site`), or `<unknown>`. */
  site: string;
  count: number;
  /** Distinct `api`s seen at this site, e.g. `ChildProcess.send`, most frequent first. */
  apis: string[];
  connections: ConnectionGroup[];
  /** The first violation seen at this site, for the formats that show one in full. */
  first: FirstViolation;
}

export interface FirstViolation {
  pid: number | null;
  mode: string | null;
  message: string | null;
  /** The violating call's stack (frames). */
  stack: string | null;
  /** The stack where the connection was opened. */
  openedAt: string | null;
  /** The test that was running, when the agent knew it. */
  test: { file: string | null; name: string | null } | null;
}

/** The violations recorded while one test was running. */
export interface TestGroup {
  file: string | null;
  name: string | null;
  count: number;
  /** The kinds of its violations, most frequent first. */
  kinds: string[];
}

/** The connections that reached another process from one call site. */
export interface ConnectionGroup {
  driver: string | null;
  /** `user@host:port/database` or a socket path, as the agent wrote it. */
  target: string | null;
  /** Where the connection was opened, `file:line:col` (the record's `openedSite`), or `<unknown>`. */
  openedAt: string;
  count: number;
}

/** How many malformed lines a summary keeps, so a report full of garbage stays small. */
export const MALFORMED_LISTED = 1000;
/** How many call sites a summary lists (the most frequent). */
export const SITES_LISTED = 1000;
/** How many distinct tests a summary keeps. */
export const TESTS_LISTED = 1000;
/** Distinct connections kept per call site. */
const CONNECTIONS_KEPT = 20;
const APIS_KEPT = 10;
/** Longest stack or message kept for a site's first violation. */
const DETAIL_CHARS = 8000;

export const UNKNOWN = '<unknown>';

interface SiteState {
  kind: string;
  site: string;
  count: number;
  apis: Map<string, number>;
  connections: Map<string, ConnectionGroup>;
  first: FirstViolation;
}

/** Builds a summary from lines fed one at a time, in file order. */
export class SummaryBuilder {
  private lineCount = 0;
  private readonly pids = new Set<unknown>();
  private readonly violationPids = new Set<unknown>();
  private violationCount = 0;
  private readonly kindCounts = new Map<string, number>();
  /** Keyed by kind and site. Pruned to SITES_LISTED when it holds twice that. */
  private readonly sites = new Map<string, SiteState>();
  private readonly dropped = new Map<string, number>();
  private readonly tests = new Map<string, { file: string | null; name: string | null; count: number; kinds: Map<string, number> }>();
  private testsUnlisted = 0;
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
    /** Also given every well-formed record with its line number (the process tree). */
    private readonly onRecord?: (record: ReportRecord, line: number) => void,
  ) {}

  addLine(line: string): void {
    this.lineCount++;
    // A file saved by an editor on Windows may start with a byte order mark.
    const parsed = parseLine(this.lineCount === 1 ? line.replace(/^\uFEFF/, '') : line);
    if ('record' in parsed) this.addRecord(parsed.record);
    else if ('malformed' in parsed) this.addMalformed(parsed.malformed);
  }

  /** A line over the reader's cap: counted as malformed, its text never held. */
  addTooLong(bytes: number): void {
    this.lineCount++;
    this.addMalformed(`line too long (${bytes} bytes)`);
  }

  private addMalformed(reason: string): void {
    this.malformedCount++;
    if (this.malformed.length < MALFORMED_LISTED) this.malformed.push({ line: this.lineCount, reason: own(reason) });
  }

  private addRecord(record: ReportRecord): void {
    if (record.pid !== undefined) this.pids.add(pidOf(record.pid) ?? own(clip(String(record.pid), 40)));
    if (record.type === 'violation') this.addViolation(record);
    else if (record.type === 'fork') this.addFork(record);
    else {
      const type = clip(record.type, 100);
      if (this.other.has(type)) this.other.set(type, this.other.get(type)! + 1);
      else if (this.other.size < 100) this.other.set(own(type), 1);
    }
    this.onRecord?.(record, this.lineCount);
  }

  private addViolation(record: ReportRecord): void {
    this.violationCount++;
    if (record.pid !== undefined) this.violationPids.add(pidOf(record.pid) ?? own(clip(String(record.pid), 40)));
    const kind = text(record.kind, 100) ?? 'unknown';
    this.kindCounts.set(kind, (this.kindCounts.get(kind) ?? 0) + 1);

    this.addTest(record.test, kind);
    const site = text(record.site) ?? UNKNOWN;
    const key = `${kind}\n${site}`;
    let state = this.sites.get(key);
    if (state === undefined) {
      if (this.sites.size >= 2 * SITES_LISTED) this.prune(SITES_LISTED);
      this.sites.set(key, (state = { kind: own(kind), site: own(site), count: 0, apis: new Map(), connections: new Map(), first: firstOf(record) }));
    }
    state.count++;
    const api = text(record.api, 200) ?? '<unknown api>';
    if (state.apis.has(api)) state.apis.set(api, state.apis.get(api)! + 1);
    else if (state.apis.size < APIS_KEPT) state.apis.set(own(api), 1);

    const driver = text(record.driver, 100);
    const target = text(record.target, 500);
    const openedAt = text(record.openedSite) ?? UNKNOWN;
    const connectionKey = JSON.stringify([driver, target, openedAt]);
    let connection = state.connections.get(connectionKey);
    if (connection === undefined && state.connections.size < CONNECTIONS_KEPT) {
      connection = { driver: own(driver), target: own(target), openedAt: own(openedAt), count: 0 };
      state.connections.set(own(connectionKey), connection);
    }
    if (connection !== undefined) connection.count++;
  }

  private addTest(t: unknown, kind: string): void {
    if (typeof t !== 'object' || t === null) return;
    const file = text((t as { file?: unknown }).file);
    const name = text((t as { name?: unknown }).name);
    if (file === null && name === null) return;
    const key = JSON.stringify([file, name]);
    let state = this.tests.get(key);
    if (state === undefined) {
      if (this.tests.size >= TESTS_LISTED) {
        this.testsUnlisted++;
        return;
      }
      this.tests.set(own(key), (state = { file: own(file), name: own(name), count: 0, kinds: new Map() }));
    }
    state.count++;
    state.kinds.set(kind, (state.kinds.get(kind) ?? 0) + 1);
  }

  /** Keeps the `keep` most frequent sites; the others' violations are counted as unlisted. */
  private prune(keep: number): void {
    const sorted = [...this.sites.entries()].sort((a, b) => b[1].count - a[1].count);
    for (const [key, state] of sorted.slice(keep)) {
      this.sites.delete(key);
      this.dropped.set(state.kind, (this.dropped.get(state.kind) ?? 0) + state.count);
    }
  }

  private addFork(record: ReportRecord): void {
    this.forkCount++;
    const api = text(record.api, 100) ?? '<unknown api>';
    if (this.forkApis.has(api)) this.forkApis.set(api, this.forkApis.get(api)! + 1);
    else if (this.forkApis.size < 20) this.forkApis.set(own(api), 1);
    this.closed += count(record.closed);
    this.kept += count(record.kept);
    if (typeof record.ms === 'number' && Number.isFinite(record.ms)) this.forkMs.push(record.ms);
  }

  summary(): Summary {
    if (this.sites.size > SITES_LISTED) this.prune(SITES_LISTED);
    const sitesByKind = new Map<string, SiteGroup[]>();
    for (const s of this.sites.values()) {
      const group: SiteGroup = {
        site: s.site,
        count: s.count,
        apis: byCount([...s.apis].map(([api, n]) => ({ api, count: n })), (a) => a.api).map((a) => a.api),
        connections: byCount([...s.connections.values()], (c) => `${c.driver} ${c.target} ${c.openedAt}`),
        first: s.first,
      };
      const list = sitesByKind.get(s.kind);
      if (list === undefined) sitesByKind.set(s.kind, [group]);
      else list.push(group);
    }
    const kinds: KindGroup[] = byCount(
      [...this.kindCounts].map(([kind, n]) => ({
        kind,
        count: n,
        sites: byCount(sitesByKind.get(kind) ?? [], (s) => s.site),
        unlisted: this.dropped.get(kind) ?? 0,
      })),
      (k) => k.kind,
    );
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
        unlisted: kinds.reduce((sum, k) => sum + k.unlisted, 0),
        tests: byCount(
          [...this.tests.values()].map((t) => ({ file: t.file, name: t.name, count: t.count, kinds: byCount([...t.kinds].map(([k, n]) => ({ k, count: n })), (x) => x.k).map((x) => x.k) })),
          (t) => `${t.file} ${t.name}`,
        ),
        testsUnlisted: this.testsUnlisted,
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

function firstOf(record: ReportRecord): FirstViolation {
  const t = record.test;
  const test =
    typeof t === 'object' && t !== null
      ? { file: own(text((t as Record<string, unknown>).file)), name: own(text((t as Record<string, unknown>).name)) }
      : null;
  return {
    pid: pidOf(record.pid),
    mode: own(text(record.mode, 20)),
    message: own(text(record.message, DETAIL_CHARS)),
    stack: own(text(record.stack, DETAIL_CHARS)),
    openedAt: own(text(record.openedAt, DETAIL_CHARS)),
    test,
  };
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
