import type { Socket } from 'node:net';
import { guard } from './boundary';
import { captureStack, type StackHolder } from './stacks';
import { sameSocket } from './sockets';

export type Kind = 'pool' | 'cluster' | 'connection';

export interface Counts {
  total: number;
  idle: number;
  active: number;
}

/** One socket a tracked object holds, and what the detection doors need to know of it. */
export interface TrackedSocket {
  socket: Socket;
  /** Where it was opened, when the patch knows better than the owner's own stack. */
  openedAt?: StackHolder;
}

export interface Closing {
  closed: number;
  /** One promise per connection closed, settling once it has closed (never rejecting). */
  settled: Promise<void>[];
}

/**
 * How the registry reads and acts on one kind of object (a pg pool, a mysql2 connection,
 * a resource given to `register()`). Patches write adapters; the registry knows no driver.
 */
export interface Adapter<T extends object> {
  readonly driver: string;
  readonly kind: Kind;
  /** `user@host:port/database` or a socket path: never a password. */
  target(o: T): string;
  counts(o: T): Counts;
  /** Pools: close idle connections now. Absent for connections that cannot reconnect. */
  disconnectIdle?(o: T): Closing;
  sockets(o: T): Iterable<TrackedSocket>;
  /** True once the object is closed for good: the registry forgets it. */
  ended(o: T): boolean;
}

export interface DatabaseInfo {
  id: number;
  driver: string;
  kind: Kind;
  target: string;
  pid: number;
  total: number;
  idle: number;
  active: number;
}

export interface DisconnectResult {
  /** Pools whose idle connections were closed. */
  pools: number;
  /** Connections closed. */
  closed: number;
  /** Connections left open: checked out of a pool, or standalone. */
  kept: number;
  /** Resolves once every connection closed by this call has finished closing. */
  settled: Promise<void>;
}

export interface Entry {
  readonly id: number;
  readonly adapter: Adapter<object>;
  readonly pid: number;
  readonly openedAt: StackHolder;
  /** The tracked object, or undefined once it has been garbage-collected. */
  object(): object | undefined;
}

export interface Found {
  entry: Entry;
  socket: TrackedSocket;
}

// The object is held in a field, not in a closure: a closure's context would keep it alive
// beside its WeakRef, and every ended connection would then live (and be copied by the young
// generation's collections) until the next sweep.
class TrackedEntry implements Entry {
  constructor(
    readonly id: number,
    readonly adapter: Adapter<object>,
    readonly pid: number,
    readonly openedAt: StackHolder,
    private readonly ref: WeakRef<object> | undefined,
    private readonly held: object | undefined,
  ) {}

  object(): object | undefined {
    return this.ref ? this.ref.deref() : this.held;
  }
}

let nextId = 1;
// Driver objects are held weakly: an app that opens a Client per request and drops it must
// not grow the registry. Resources given to register() are held strongly, as the app asked.
const entries = new Map<number, Entry>();
const byObject = new WeakMap<object, Entry>();

// Ended entries are forgotten whenever the registry is read; an app that only ever opens and
// ends connections would never read it, so every so many tracks sweep it too (amortized:
// a sweep after as many tracks as there are entries, and at least 64). An ended entry's
// captured stack can hold a whole module graph (a Jest test file's sandbox).
let tracksSinceSweep = 0;

export function track<T extends object>(o: T, adapter: Adapter<T>, pid: number, openedAt?: StackHolder, strong = false): Entry {
  const existing = byObject.get(o);
  if (existing) return existing;
  if (++tracksSinceSweep > Math.max(64, entries.size)) {
    tracksSinceSweep = 0;
    sweep();
  }
  const entry = new TrackedEntry(nextId++, adapter as unknown as Adapter<object>, pid, openedAt ?? captureStack(track), strong ? undefined : new WeakRef(o), strong ? o : undefined);
  entries.set(entry.id, entry);
  byObject.set(o, entry);
  return entry;
}

export function untrack(o: object): void {
  const entry = byObject.get(o);
  if (!entry) return;
  entries.delete(entry.id);
  byObject.delete(o);
}

/** Live entries with their objects; forgets the ended and the collected on the way. */
function* live(): Generator<[Entry, object]> {
  for (const entry of entries.values()) {
    const o = entry.object();
    const ended = o === undefined || guard(`${entry.adapter.driver}.ended`, () => entry.adapter.ended(o), false);
    if (ended) {
      entries.delete(entry.id);
      if (o) byObject.delete(o);
      continue;
    }
    yield [entry, o];
  }
}

/** Runs through the registry, which forgets the ended and the collected on the way. */
function sweep(): void {
  for (const _ of live()) continue;
}

const NO_COUNTS: Counts = { total: 0, idle: 0, active: 0 };

export function databases(): DatabaseInfo[] {
  const out: DatabaseInfo[] = [];
  for (const [entry, o] of live()) {
    const a = entry.adapter;
    const counts = guard(`${a.driver}.counts`, () => a.counts(o), NO_COUNTS);
    const target = guard(`${a.driver}.target`, () => a.target(o), '<unknown>');
    out.push({ id: entry.id, driver: a.driver, kind: a.kind, target, pid: entry.pid, ...counts });
  }
  return out;
}

export function disconnectAll(): DisconnectResult {
  let pools = 0;
  let closed = 0;
  let kept = 0;
  const settling: Promise<void>[] = [];
  for (const [entry, o] of live()) {
    const a = entry.adapter;
    if (a.disconnectIdle) {
      const closing = guard(`${a.driver}.disconnectIdle`, () => a.disconnectIdle!(o), undefined);
      if (closing) {
        pools++;
        closed += closing.closed;
        settling.push(...closing.settled);
      }
    }
    kept += guard(`${a.driver}.counts`, () => a.counts(o), NO_COUNTS).total;
  }
  return { pools, closed, kept, settled: Promise.all(settling).then(() => undefined) };
}

/**
 * The tracked object that holds `socket`, and how: a scan of the registry, made only for
 * a client socket that is at a door (so at most once per violation).
 */
export function ownerOf(socket: Socket): Found | undefined {
  for (const [entry, o] of live()) {
    const sockets = guard(`${entry.adapter.driver}.sockets`, () => entry.adapter.sockets(o), []);
    for (const tracked of sockets) {
      if (sameSocket(tracked.socket, socket)) return { entry, socket: tracked };
    }
  }
  return undefined;
}
