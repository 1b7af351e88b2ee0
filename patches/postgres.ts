import { executionAsyncResource } from 'node:async_hooks';
import { Socket } from 'node:net';
import { ownerOfHandle } from '../agent/clients';
import { guard } from '../agent/boundary';
import type { ModulePatch } from '../agent/patching';
import { track, type Adapter, type Closing, type Counts, type TrackedSocket } from '../agent/registry';
import { enabled } from '../agent/settings';
import { captureStack } from '../agent/stacks';
import { rawSocket } from '../agent/sockets';
import { formatTarget } from '../agent/target';
import { closeConnection } from './shared/close-connection';
import { SUPPORTED } from './shared/supported';

// postgres.js (npm `postgres`). An instance `postgres(url | options)` is a closure: its
// pool state lives in variables no caller can reach
// (https://github.com/porsager/postgres/blob/master/src/index.js). What it does hand out
// is what the patches below see, in its CommonJS build (cjs/src, what `require` loads):
// - index.js creates `options.max` connections at once with `Connection(options, queues,
//   { onopen, onend, onclose })` from connection.js, and returns `sql` with `sql.options`.
//   The Connection wrapper sees every connection and the instance's `queues`; the
//   postgres() wrapper finds which of them are the instance's own by `sql.options`.
// - `queues` holds the driver's own lists (connecting, reserved, closed, ended, open, busy,
//   full) and every connection records the one it is in as `connection.queue`: the counts
//   are read from there. `open` is the idle list; `reserved` holds sql.reserve() and
//   sql.begin() connections; busy/full run queries; closed ones reconnect on demand.
// - `connection.end()` is what the driver's own idle_timeout calls: it moves the
//   connection to `ended`, writes Terminate ('X') with the socket's FIN, resolves on the
//   socket's close, and the driver then files the connection under `closed`, to reconnect
//   on the next query that needs it.
// - The socket is a closure variable too. connection.js reads `connection.reserved` in
//   ReadyForQuery, inside the socket's 'data' callback, where Node's current async
//   resource is that socket's handle; an accessor on `reserved` reads it there. So a
//   connection's socket is known from its first completed query on (see docs).
// - listen() and subscribe() run internal instances through index.js's own Postgres (not
//   the export): they are not pools of the app, but their sockets are the instance's, found
//   by their options' `shared` object, which parseOptions passes on unchanged.
// - 3.3.x reuses a plain socket object across reconnects (3.4 makes a new one): the socket
//   is read again whenever its handle changes.
// The ESM build (src/, what `import` loads) is the same code, with `export default` for
// `module.exports`: patched the same way where Node has in-thread module hooks (22.15 on,
// agent/esm-hook.ts), or on Node 20 where a module.register() hooks thread runs. Otherwise
// its instances are not listed; its sockets reach the doors only as client sockets noted by
// the net patch (docs/drivers-postgres.md).

interface PgjsQueue {
  readonly length: number;
}

interface PgjsQueues {
  connecting: PgjsQueue;
  reserved: PgjsQueue;
  closed: PgjsQueue;
  ended: PgjsQueue;
  open: PgjsQueue;
  busy: PgjsQueue;
  full: PgjsQueue;
}

interface PgjsOptions {
  host: string[];
  port: number[];
  path?: string | false;
  user?: string;
  database?: string;
  shared: object;
}

interface PgjsConnection {
  queue: PgjsQueue;
  end(): Promise<unknown>;
  reserved?: unknown;
}

/** One set of queues: an instance of the app, or an internal listen/subscribe one. */
interface Group {
  options: PgjsOptions;
  queues: PgjsQueues;
  connections: PgjsConnection[];
  /** Set once the app's sql.end() has settled: the instance takes no more queries. */
  ended: boolean;
}

/** The driver's queues, by the names index.js gives them (3.3.0 to 3.4.x alike). */
const QUEUE_NAMES = ['connecting', 'reserved', 'closed', 'ended', 'open', 'busy', 'full'] as const;

const groupOfQueues = new WeakMap<object, Group>();
// Every group by the options' `shared` object: an instance and its listen/subscribe ones.
const groupsByShared = new WeakMap<object, Group[]>();
// A connection's socket, and the handle it was read from (a reconnect brings a new one).
const socketOf = new WeakMap<PgjsConnection, { socket: Socket; handle: object }>();
// Groups born during the postgres() call now running (innermost last).
const born: Group[][] = [];

function isQueue(q: unknown): q is PgjsQueue {
  return typeof q === 'object' && q !== null && typeof (q as PgjsQueue).length === 'number';
}

function hasQueues(queues: unknown): queues is PgjsQueues {
  return typeof queues === 'object' && queues !== null && QUEUE_NAMES.every((n) => isQueue((queues as Record<string, unknown>)[n]));
}

function hasOptions(options: unknown): options is PgjsOptions {
  const o = options as PgjsOptions | null;
  return typeof o === 'object' && o !== null && Array.isArray(o.host) && Array.isArray(o.port) && typeof o.shared === 'object' && o.shared !== null;
}

function isConnection(c: unknown): c is PgjsConnection {
  return typeof c === 'object' && c !== null && typeof (c as PgjsConnection).end === 'function' && 'queue' in c;
}

function ownerOf(handle: object): Socket | undefined {
  const owner = ownerOfHandle(handle);
  return owner instanceof Socket ? owner : undefined;
}

/** True when `socket` goes where this instance connects (a TCP host:port, or its Unix socket). */
function goesTo(socket: Socket, options: PgjsOptions): boolean {
  const raw = rawSocket(socket);
  if (options.path) return raw.remoteAddress === undefined;
  return options.port.some((p) => Number(p) === raw.remotePort);
}

/**
 * Called where connection.js reads `connection.reserved`: in ReadyForQuery the current
 * async resource is the socket's handle. end() reads it too, from the app or a timer, whose
 * resource is something else: a socket that does not go to the server is not taken.
 */
function noteSocket(group: Group, connection: PgjsConnection): void {
  const handle = executionAsyncResource();
  if (socketOf.get(connection)?.handle === handle) return;
  const socket = ownerOf(handle);
  if (socket && !socket.destroyed && goesTo(socket, group.options)) socketOf.set(connection, { socket, handle });
}

/** Watches `connection.reserved` (index.js sets it, connection.js reads it) without changing it. */
function watchReserved(group: Group, connection: PgjsConnection): void {
  let reserved = connection.reserved;
  Object.defineProperty(connection, 'reserved', {
    configurable: true,
    enumerable: true,
    get() {
      if (enabled()) guard('postgres socket', () => noteSocket(group, connection), undefined);
      return reserved;
    },
    set(value) {
      reserved = value;
    },
  });
}

function groupFor(options: PgjsOptions, queues: PgjsQueues): Group {
  let group = groupOfQueues.get(queues);
  if (group) return group;
  group = { options, queues, connections: [], ended: false };
  groupOfQueues.set(queues, group);
  const family = groupsByShared.get(options.shared) ?? [];
  family.push(group);
  groupsByShared.set(options.shared, family);
  born[born.length - 1]?.push(group);
  return group;
}

function counts(group: Group): Counts {
  const q = group.queues;
  let total = 0;
  let idle = 0;
  for (const c of group.connections) {
    if (c.queue === q.closed || c.queue === q.ended) continue;
    total++;
    if (c.queue === q.open) idle++;
  }
  return { total, idle, active: total - idle };
}

function target(group: Group): string {
  const o = group.options;
  if (o.path) return formatTarget({ user: o.user, socketPath: o.path, database: o.database });
  return o.host.map((host, i) => formatTarget({ user: o.user, host, port: o.port[i] ?? o.port[0], database: o.database })).join(',');
}

function disconnectIdle(group: Group): Closing {
  if (group.ended) return { closed: 0, settled: [] };
  const idle = group.connections.filter((c) => c.queue === group.queues.open);
  // end() moves the connection out of `open` at once, writes Terminate and settles on the
  // socket's close; the driver files it under `closed` and reconnects it on demand.
  return { closed: idle.length, settled: idle.map((c) => closeConnection(socketOf.get(c)?.socket, () => c.end())) };
}

function sockets(group: Group): TrackedSocket[] {
  const out: TrackedSocket[] = [];
  for (const g of groupsByShared.get(group.options.shared) ?? [group]) {
    for (const c of g.connections) {
      const s = socketOf.get(c)?.socket;
      if (s && !s.destroyed) out.push({ socket: s });
    }
  }
  return out;
}

const instanceAdapter: Adapter<Group> = {
  driver: 'postgres',
  kind: 'pool',
  target,
  counts,
  disconnectIdle,
  sockets,
  ended: (group) => group.ended,
};

const ours = new WeakSet<object>();

/** connection.js exports the Connection factory; index.js calls it once per pool slot. */
export const postgresConnectionPatch: ModulePatch = {
  package: 'postgres',
  file: 'cjs/src/connection.js',
  versions: SUPPORTED.postgres,
  esm: { file: 'src/connection.js', exports: 'default' },
  patch(Connection: any) {
    if (ours.has(Connection)) return Connection;
    if (typeof Connection !== 'function') throw new TypeError('postgres/cjs/src/connection.js: expected the Connection factory function as its export');
    const tracking = new Proxy(Connection, {
      apply(target, thisArg, args) {
        const connection = Reflect.apply(target, thisArg, args);
        const [options, queues] = args;
        // Connection(options) with no queues is a one-off cancel request: not a pool's.
        if (enabled() && queues !== undefined) {
          guard('postgres connection', () => {
            if (!hasOptions(options)) throw new TypeError('postgres Connection: expected options with host[], port[] and shared');
            if (!hasQueues(queues)) throw new TypeError(`postgres Connection: expected queues ${QUEUE_NAMES.join(', ')}`);
            if (!isConnection(connection)) throw new TypeError('postgres Connection: expected a connection with queue and end()');
            const group = groupFor(options, queues);
            group.connections.push(connection);
            watchReserved(group, connection);
          }, undefined);
        }
        return connection;
      },
    });
    ours.add(tracking);
    return tracking;
  },
  // The Proxy stays (index.js holds it) and tracks nothing while the agent is off.
  unpatch() {},
};

/** Marks the instance ended once the app's sql.end() has settled. */
function watchEnd(sql: { end?: unknown }, group: Group): void {
  const end = sql.end;
  if (typeof end !== 'function') throw new TypeError('postgres: expected sql.end() on the instance');
  sql.end = new Proxy(end, {
    apply(target, thisArg, args) {
      const result = Reflect.apply(target, thisArg, args);
      Promise.resolve(result).then(
        () => (group.ended = true),
        () => (group.ended = true),
      );
      return result;
    },
  });
}

function adopt(sql: unknown, groups: Group[]): void {
  const options = (sql as { options?: unknown } | null)?.options;
  const own = groups.find((g) => g.options === options);
  if (!own) throw new TypeError('postgres(): expected sql.options to be the options its connections were made with');
  watchEnd(sql as { end?: unknown }, own);
  track(own, instanceAdapter, process.pid, captureStack(adopt));
}

/** index.js exports Postgres(url, options), which returns the `sql` tag of one instance. */
export const postgresPatch: ModulePatch = {
  package: 'postgres',
  file: 'cjs/src/index.js',
  versions: SUPPORTED.postgres,
  esm: { file: 'src/index.js', exports: 'default' },
  patch(Postgres: any) {
    if (ours.has(Postgres)) return Postgres;
    if (typeof Postgres !== 'function') throw new TypeError('postgres/cjs/src/index.js: expected the Postgres function as its export');
    // A Proxy keeps every static (PostgresError, BigInt, toCamel, …) and the function's identity traits.
    const run = (call: () => unknown): unknown => {
      if (!enabled()) return call();
      const groups: Group[] = [];
      born.push(groups);
      let sql: unknown;
      try {
        sql = call();
      } finally {
        born.pop();
      }
      guard('postgres()', () => adopt(sql, groups), undefined);
      return sql;
    };
    const tracking: any = new Proxy(Postgres, {
      apply: (target, thisArg, args) => run(() => Reflect.apply(target, thisArg, args)),
      construct: (target, args, newTarget) => run(() => Reflect.construct(target, args, newTarget === tracking ? target : newTarget)) as object,
    });
    ours.add(tracking);
    return tracking;
  },
  unpatch() {},
};

export const postgresPatches: ModulePatch[] = [postgresConnectionPatch, postgresPatch];
