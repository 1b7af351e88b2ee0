// The process tree of a report, for the page and the JUnit output: who forked whom, what
// each fork's pre-fork step did, and each process's violations. Capped like the summary:
// a report of any size gives a model of bounded size, which says what it left out.
import { count, own, pidOf, type ReportRecord, text } from './records';
import { UNKNOWN } from './summary';

/** Processes kept in the model; later ones are counted in `unlistedProcesses`. */
export const PROCESSES_KEPT = 5000;
/** Distinct violations (by kind, site and connection) kept per process, and in all. */
const VIOLATIONS_KEPT = 20;
const VIOLATIONS_KEPT_IN_ALL = 20_000;

export interface ForkStep {
  /** `cluster.fork` or `child_process.fork`. */
  api: string;
  pools: number;
  closed: number;
  kept: number;
  ms: number | null;
  onFork: string | null;
}

export interface ProcessViolation {
  kind: string;
  site: string;
  api: string | null;
  mode: string | null;
  driver: string | null;
  target: string | null;
  local: string | null;
  remote: string | null;
  openedSite: string;
  count: number;
}

export interface ProcessNode {
  pid: number;
  /** The parent: the pid that forked it (fork record), else the `ppid` it recorded. */
  parent: number | null;
  /** The forked module or the command, when a record says so. */
  command: string | null;
  /** How it was started: the fork that made it, or null (spawned, or the first process). */
  fork: ForkStep | null;
  /** Forks it made. */
  forks: number;
  violationCount: number;
  violations: ProcessViolation[];
  /** Violations of this process not in `violations` (past the distinct ones kept per process and in all). */
  unlistedViolations: number;
}

export interface ProcessTree {
  processes: ProcessNode[];
  /** Processes seen but not kept (over PROCESSES_KEPT). */
  unlistedProcesses: number;
}

export class TreeBuilder {
  private readonly nodes = new Map<number, ProcessNode & { keys: Map<string, ProcessViolation> }>();
  private readonly unlisted = new Set<number>();
  private unlistedBeyond = 0;
  private violationsKept = 0;

  add(record: ReportRecord): void {
    const pid = pidOf(record.pid);
    if (pid === null) return;
    const node = this.node(pid);
    if (node === undefined) return;
    const ppid = pidOf(record.ppid);
    if (node.parent === null && ppid !== null && node.fork === null) node.parent = ppid;
    if (record.type === 'fork') this.addFork(node, record);
    else if (record.type === 'violation') this.addViolation(node, record);
  }

  private node(pid: number): (ProcessNode & { keys: Map<string, ProcessViolation> }) | undefined {
    let node = this.nodes.get(pid);
    if (node === undefined) {
      if (this.nodes.size >= PROCESSES_KEPT) {
        // Counted exactly up to a point; past that, only "more".
        if (this.unlisted.size < 100_000) this.unlisted.add(pid);
        else this.unlistedBeyond++;
        return undefined;
      }
      node = { pid, parent: null, command: null, fork: null, forks: 0, violationCount: 0, violations: [], unlistedViolations: 0, keys: new Map() };
      this.nodes.set(pid, node);
    }
    return node;
  }

  private addFork(parent: ProcessNode, record: ReportRecord): void {
    parent.forks++;
    const childPid = pidOf(record.childPid);
    if (childPid === null) return;
    const child = this.node(childPid);
    if (child === undefined) return;
    child.parent = parent.pid;
    child.command = own(text(record.command, 500)) ?? child.command;
    child.fork = {
      api: own(text(record.api, 100) ?? '<unknown api>'),
      pools: count(record.pools),
      closed: count(record.closed),
      kept: count(record.kept),
      ms: typeof record.ms === 'number' && Number.isFinite(record.ms) ? record.ms : null,
      onFork: own(text(record.onFork, 100)),
    };
  }

  private addViolation(node: ProcessNode & { keys: Map<string, ProcessViolation> }, record: ReportRecord): void {
    node.violationCount++;
    const socket = (typeof record.socket === 'object' && record.socket !== null ? record.socket : {}) as Record<string, unknown>;
    const v: ProcessViolation = {
      kind: text(record.kind, 100) ?? 'unknown',
      site: text(record.site) ?? UNKNOWN,
      api: text(record.api, 200),
      mode: text(record.mode, 20),
      driver: text(record.driver, 100),
      target: text(record.target, 500),
      local: text(socket.local, 200),
      remote: text(socket.remote, 200),
      openedSite: text(record.openedSite) ?? UNKNOWN,
      count: 0,
    };
    const key = JSON.stringify([v.kind, v.site, v.api, v.driver, v.target, v.local, v.remote, v.openedSite]);
    let kept = node.keys.get(key);
    if (kept === undefined) {
      if (node.keys.size >= VIOLATIONS_KEPT || this.violationsKept >= VIOLATIONS_KEPT_IN_ALL) {
        node.unlistedViolations++;
        return;
      }
      this.violationsKept++;
      kept = {
        ...v,
        kind: own(v.kind),
        site: own(v.site),
        api: own(v.api),
        mode: own(v.mode),
        driver: own(v.driver),
        target: own(v.target),
        local: own(v.local),
        remote: own(v.remote),
        openedSite: own(v.openedSite),
      };
      node.keys.set(own(key), kept);
      node.violations.push(kept);
    }
    kept.count++;
  }

  tree(): ProcessTree {
    const processes = [...this.nodes.values()].map(({ keys: _keys, ...node }) => node);
    return { processes, unlistedProcesses: this.unlisted.size + this.unlistedBeyond };
  }
}
