import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { guard } from '../agent/boundary';
import type { ModulePatch } from '../agent/patching';
import { track, type Adapter, type Closing, type Counts } from '../agent/registry';
import { enabled } from '../agent/settings';
import { captureStack } from '../agent/stacks';
import { formatTarget, targetFromUrl, type TargetParts } from '../agent/target';
import { wrapMethod } from '../agent/wrap';
import { closeConnection } from './shared/close-connection';
import { socketsOf } from './shared/driver-sockets';

// mariadb (MariaDB Connector/Node.js) 3.x. What an app holds is a wrapper around a private
// `#pool` / `#conn` / `#cluster`; the inner Pool keeps its idle connections in a private
// denque `#idleConnections` and its checked-out ones in a private `#activeConnections`.
// Public methods give the counts (totalConnections/idleConnections/activeConnections, closed).
// The rest is reached without touching private fields:
// - the inner objects are EventEmitters that call `this.on(...)` in their constructors (the
//   inner Pool, and the raw Connection), so they are seen by watching `on` during the
//   synchronous createPool / createConnection / cluster.add call;
// - the idle denque is the one `_hasIdleConnection()` asks `isEmpty()` of.
// Idle connections are closed as the driver's own pool.end() and idle reaper close them:
// shifted out of the idle queue, then `forceEnd` (the Connection's own end(): COM_QUIT, then
// the server closes). The pool creates connections again by its own policy: on demand, and
// up to `minimumIdle` (which defaults to connectionLimit) from its 500 ms size check.
// Layouts (https://github.com/mariadb-corporation/mariadb-connector-nodejs/tree/master/lib):
// - 3.0.x: CommonJS promise.js / callback.js; Connection#end(resolve, reject).
// - 3.1.0 to 3.4.x: the same files; Connection#end(cmdParam, resolve, reject).
// - 3.5.1 on: an ES module package; `require` loads esbuild bundles dist/promise.cjs and
//   dist/callback.cjs, an ESM `import` the ES modules promise.js and callback.js (named
//   exports, and a default object of the same functions), which are patched where Node has
//   in-thread module hooks (22.15 on, agent/esm-hook.ts) or, on Node 20, where a
//   module.register() hooks thread runs. Same classes and
//   end(cmdParam, resolve, reject).

interface RawConnection extends EventEmitter {
  socket?: Socket | null;
  status: number;
  opts?: TargetParts;
  receiveQueue?: { length: number };
  forceEnd?: (...args: unknown[]) => void;
  isValid(): boolean;
}

interface InnerPool extends EventEmitter {
  _hasIdleConnection(): boolean;
  idleConnections(): number;
  totalConnections(): number;
  activeConnections(): number;
  readonly closed: boolean;
}

interface IdleQueue {
  length: number;
  toArray(): RawConnection[];
  shift(): RawConnection | undefined;
}

/** The pool as the app holds it (PoolPromise or PoolCallback): the same public counts. */
type OuterPool = InnerPool;

interface Layout {
  /** Connection#end's arguments around its callbacks. */
  endArgs(resolve: () => void): unknown[];
  /** denque's prototype, as this copy of mariadb requires it. */
  denque: { isEmpty(): boolean };
}

// Status 6 is CLOSING (3.0) or TERMINATING (3.1 on): 6 and above is on its way out.
const CLOSING = 6;

interface PoolState {
  inner: InnerPool;
  layout: Layout;
  target: string;
  /** Checked-out connections seen on `acquire`; pruned of closed ones as it grows. */
  seen: Set<RawConnection>;
  queue?: IdleQueue;
}

const states = new WeakMap<object, PoolState>();
const clusterPools = new WeakMap<object, PoolState[]>();

/** Runs `fn`, noting every EventEmitter that calls `on` (or `once`) meanwhile. */
function watchingEmitters<T>(fn: () => T): { result: T; emitters: Set<object> } {
  const proto = EventEmitter.prototype;
  const original = proto.on;
  const emitters = new Set<object>();
  proto.on = function (this: object, ...args: Parameters<typeof original>) {
    emitters.add(this);
    return original.apply(this as EventEmitter, args);
  } as typeof original;
  try {
    return { result: fn(), emitters };
  } finally {
    proto.on = original;
  }
}

const isInnerPool = (o: any): o is InnerPool => typeof o?._hasIdleConnection === 'function' && typeof o.idleConnections === 'function' && typeof o.release === 'function';
const isRawConnection = (o: any): o is RawConnection => typeof o === 'object' && o !== null && 'socket' in o && typeof o.status === 'number' && typeof o.isValid === 'function';

/** The inner Pool's idle denque: the one its `_hasIdleConnection()` asks. */
function idleQueue(state: PoolState): IdleQueue {
  if (state.queue) return state.queue;
  const proto = state.layout.denque;
  const original = proto.isEmpty;
  let found: IdleQueue | undefined;
  proto.isEmpty = function (this: IdleQueue) {
    found ??= this;
    return original.call(this);
  };
  try {
    state.inner._hasIdleConnection();
  } finally {
    proto.isEmpty = original;
  }
  if (!found || typeof found.toArray !== 'function' || typeof found.shift !== 'function') throw new TypeError('mariadb internals changed: expected Pool#_hasIdleConnection() to call isEmpty() of a denque');
  return (state.queue = found);
}

const alive = (c: RawConnection): boolean => c.status < CLOSING && c.socket != null && !c.socket.destroyed;

function connectionsOf(state: PoolState): RawConnection[] {
  const all = new Set<RawConnection>(idleQueue(state).toArray());
  for (const c of state.seen) {
    if (alive(c)) all.add(c);
    else state.seen.delete(c);
  }
  return [...all].filter(alive);
}

const socketOf = (c: RawConnection): unknown => c.socket;

function poolCounts(pool: OuterPool): Counts {
  return { total: pool.totalConnections(), idle: pool.idleConnections(), active: pool.activeConnections() };
}

/** Shifts every idle connection out of the pool and ends it, as pool.end() does. */
function closeIdle(state: PoolState): Closing {
  if (state.inner.closed) return { closed: 0, settled: [] };
  const queue = idleQueue(state);
  const idle = queue.toArray();
  // Check everything before touching anything: an upstream change leaves the pool intact.
  if (!idle.every((c) => isRawConnection(c) && typeof c.forceEnd === 'function')) throw new TypeError('mariadb internals changed: expected idle connections with forceEnd()');
  for (let i = 0; i < idle.length; i++) queue.shift();
  const settled = idle.map((conn) => {
    return closeConnection(conn.socket ?? undefined, () => new Promise<void>((resolve) => conn.forceEnd!(...state.layout.endArgs(resolve))));
  });
  return { closed: idle.length, settled };
}

function poolTarget(state: PoolState): string {
  const conn = state.queue?.toArray()[0] ?? [...state.seen][0];
  return conn?.opts ? formatTarget({ port: 3306, ...pick(conn.opts) }) : state.target;
}

function pick(o: TargetParts): TargetParts {
  return { user: o.user, host: o.host, port: o.port, database: o.database, socketPath: o.socketPath };
}

/** `user@host:port/db` from createPool's argument (an options object or a mariadb:// URI). */
function targetOf(opts: unknown): string {
  const defaults: TargetParts = { host: 'localhost', port: 3306 };
  if (typeof opts === 'string') return targetFromUrl(opts, defaults);
  const o = (opts ?? {}) as TargetParts;
  return formatTarget({ ...defaults, ...Object.fromEntries(Object.entries(pick(o)).filter(([, v]) => v !== undefined && v !== null)) });
}

const poolAdapter: Adapter<OuterPool> = {
  driver: 'mariadb',
  kind: 'pool',
  target: (pool) => poolTarget(states.get(pool)!),
  counts: poolCounts,
  disconnectIdle: (pool) => closeIdle(states.get(pool)!),
  sockets: (pool) => socketsOf(connectionsOf(states.get(pool)!), socketOf),
  ended: (pool) => pool.closed === true,
};

const livePools = (cluster: object): PoolState[] => (clusterPools.get(cluster) ?? []).filter((s) => !s.inner.closed);

const clusterAdapter: Adapter<object> = {
  driver: 'mariadb',
  kind: 'cluster',
  target: (cluster) => [...new Set(livePools(cluster).map(poolTarget))].join(',') || '(no nodes)',
  counts: (cluster) =>
    livePools(cluster)
      .map((s) => poolCounts(s.inner))
      .reduce((a, b) => ({ total: a.total + b.total, idle: a.idle + b.idle, active: a.active + b.active }), { total: 0, idle: 0, active: 0 }),
  disconnectIdle: (cluster) => {
    const all = livePools(cluster).map(closeIdle);
    return { closed: all.reduce((n, c) => n + c.closed, 0), settled: all.flatMap((c) => c.settled) };
  },
  sockets: (cluster) => livePools(cluster).flatMap((s) => socketsOf(connectionsOf(s), socketOf)),
  // end() ends every node; a cluster whose nodes were all removed is ended too.
  ended: (cluster) => (clusterPools.get(cluster)?.length ?? 0) > 0 && livePools(cluster).length === 0,
};

const connectionAdapter: Adapter<RawConnection> = {
  driver: 'mariadb',
  kind: 'connection',
  target: (conn) => formatTarget({ port: 3306, ...pick(conn.opts ?? {}) }),
  counts: (conn) => {
    const busy = (conn.receiveQueue?.length ?? 0) > 0;
    return { total: 1, idle: busy ? 0 : 1, active: busy ? 1 : 0 };
  },
  sockets: (conn) => (conn.socket ? [{ socket: conn.socket }] : []),
  ended: (conn) => conn.status >= CLOSING,
};

function innerPoolOf(emitters: Set<object>, layout: Layout, target: string): PoolState {
  const inner = [...emitters].find(isInnerPool);
  if (!inner) throw new TypeError('mariadb internals changed: expected an inner Pool (with _hasIdleConnection and release) to call on() while it is created');
  const state: PoolState = { inner, layout, target, seen: new Set() };
  // Runs inside the app's getConnection/query: guarded like any work done in its calls.
  inner.on('acquire', (conn: unknown) =>
    guard('mariadb acquire', () => {
      if (!isRawConnection(conn)) return;
      state.seen.add(conn);
      // Pools replace connections over time: forget the closed ones now and then.
      if (state.seen.size > 2 * inner.totalConnections() + 8) for (const c of state.seen) if (!alive(c)) state.seen.delete(c);
    }, undefined),
  );
  return state;
}

/** Cluster#add (or ClusterCallback#add) creates a pool per node: attach it to its cluster. */
function watchClusterAdd(cluster: object, layout: Layout): void {
  wrapMethod(Object.getPrototypeOf(cluster), 'add', (original) =>
    function add(this: object, id: unknown, config: unknown) {
      const pools = clusterPools.get(this);
      if (!pools || !enabled()) return original.apply(this, arguments as any);
      const { result, emitters } = watchingEmitters(() => original.apply(this, arguments as any));
      guard('mariadb cluster.add', () => pools.push(innerPoolOf(emitters, layout, targetOf(config ?? id))), undefined);
      return result;
    },
  );
}

const kPatched = Symbol('forksafe.mariadbPatched');
const FACTORIES = ['createPool', 'createConnection', 'createPoolCluster'] as const;

/** The exports of promise.js / callback.js (or their bundles) with the three factories wrapped. */
function entryPatch(file: string, versions: string, endArgs: Layout['endArgs'], esmFile?: string): ModulePatch {
  return {
    package: 'mariadb',
    file,
    versions,
    ...(esmFile !== undefined && { esm: { file: esmFile, exports: { named: FACTORIES } } }),
    patch(exported: any, where) {
      if (exported?.[kPatched]) return exported;
      for (const name of FACTORIES) {
        if (typeof exported?.[name] !== 'function') throw new TypeError(`mariadb/${where?.file ?? file}: expected a function ${name}`);
      }
      const denque = denqueOf(exported, where?.file ?? file, where?.basedir);
      const layout: Layout = { endArgs, denque };
      const { createPool, createConnection, createPoolCluster } = exported;
      // The bundles' exports are non-configurable getters: hand out a copy with the same
      // properties (getters stay getters) and the three factories replaced.
      const out = Object.create(Object.getPrototypeOf(exported));
      const descriptors = Object.getOwnPropertyDescriptors(exported);
      for (const name of FACTORIES) delete descriptors[name];
      Object.defineProperties(out, descriptors);
      const define = (name: string, fn: (...args: any[]) => any) => Object.defineProperty(out, name, { value: fn, writable: true, enumerable: true, configurable: true });
      define('createPool', function createPoolTracked(this: unknown, opts: unknown) {
        if (!enabled()) return createPool.apply(this, arguments);
        const { result, emitters } = watchingEmitters(() => createPool.apply(this, arguments));
        guard('mariadb createPool', () => {
          states.set(result, innerPoolOf(emitters, layout, targetOf(opts)));
          track(result, poolAdapter, process.pid, captureStack(createPoolTracked));
        }, undefined);
        return result;
      });
      define('createPoolCluster', function createPoolClusterTracked(this: unknown) {
        const cluster = createPoolCluster.apply(this, arguments);
        if (enabled()) {
          guard('mariadb createPoolCluster', () => {
            clusterPools.set(cluster, []);
            watchClusterAdd(cluster, layout);
            track(cluster, clusterAdapter, process.pid, captureStack(createPoolClusterTracked));
          }, undefined);
        }
        return cluster;
      });
      define('createConnection', function createConnectionTracked(this: unknown) {
        if (!enabled()) return createConnection.apply(this, arguments);
        const { result, emitters } = watchingEmitters(() => createConnection.apply(this, arguments));
        guard('mariadb createConnection', () => {
          const conn = [...emitters].find(isRawConnection);
          if (!conn) throw new TypeError('mariadb internals changed: expected a Connection (with socket, status, isValid) to call on() while it is created');
          track(conn, connectionAdapter, process.pid, captureStack(createConnectionTracked));
        }, undefined);
        return result;
      });
      for (const name of FACTORIES) {
        Object.defineProperty(out[name], 'name', { value: name });
        Object.defineProperty(out[name], 'length', { value: exported[name].length });
      }
      Object.defineProperty(out, kPatched, { value: true });
      return out;
    },
    // The replacement stays (the app holds it) and tracks nothing while the agent is off.
    unpatch() {},
  };
}

/**
 * denque's prototype as the patched file requires it: resolved from the package's folder,
 * or (a file without one: a bundle) from its module in require.cache.
 */
function denqueOf(exported: object, file: string, basedir: string | undefined): { isEmpty(): boolean } {
  let from = basedir !== undefined ? join(basedir, 'package.json') : undefined;
  if (from === undefined) {
    const mod = Object.values(require.cache).find((m) => m?.exports === exported);
    if (!mod) throw new TypeError(`mariadb/${file}: expected to find its module in require.cache`);
    from = mod.filename;
  }
  const Denque = createRequire(from)('denque');
  if (typeof Denque?.prototype?.isEmpty !== 'function') throw new TypeError(`mariadb/${file}: expected denque with isEmpty()`);
  return Denque.prototype;
}

const endBefore31 = (resolve: () => void): unknown[] => [resolve, resolve];
const endSince31 = (resolve: () => void): unknown[] => [null, resolve, resolve];

export const mariadbPatches: ModulePatch[] = [
  entryPatch('promise.js', '>=3.0.0 <3.1.0', endBefore31),
  entryPatch('callback.js', '>=3.0.0 <3.1.0', endBefore31),
  entryPatch('promise.js', '>=3.1.0 <3.5.0', endSince31),
  entryPatch('callback.js', '>=3.1.0 <3.5.0', endSince31),
  entryPatch('dist/promise.cjs', '>=3.5.0 <4', endSince31, 'promise.js'),
  entryPatch('dist/callback.cjs', '>=3.5.0 <4', endSince31, 'callback.js'),
];
