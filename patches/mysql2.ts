import { guard } from '../agent/boundary';
import type { ModulePatch } from '../agent/patching';
import { track, type Adapter, type Closing, type Counts, type TrackedSocket } from '../agent/registry';
import { enabled } from '../agent/settings';
import { captureStack } from '../agent/stacks';
import { formatTarget } from '../agent/target';
import { disguise, unwrapMethod, wrapMethod } from '../agent/wrap';
import { closeConnection } from './shared/close-connection';
import { clusterOf } from './shared/cluster';
import { driverSocket, socketsOf } from './shared/driver-sockets';
import { LAYOUTS } from './shared/supported';

// mysql2. A pool keeps queues `_allConnections` and `_freeConnections` (`length`,
// `toArray()`: denque up to 3.23.2, lib/ring_queue.js since 3.23.3) and `_closed`; a
// PoolCluster keeps ordinary pools in `_nodes[id].pool`. Pools and connections are born
// in the factories, which moved from index.js to lib/create_*.js in 3.11.5 (patches/supported.ts).
// (https://github.com/sidorares/node-mysql2/tree/master/lib)
//
// Closing an idle pooled connection: its end() only releases it (unless gracefulEnd,
// since 3.15), and its destroy() drops the socket without a word, which the server counts
// as an aborted client. What pool.end() does is the goodbye: `_realEnd` is the base
// Connection's end() (COM_QUIT, after which the server closes), on PoolConnection's
// prototype in every 3.x (lib/pool_connection.js, lib/base/pool_connection.js in
// 3.11.5 to 3.19); `_removeFromPool()` first takes it out of its pool, which reconnects lazily.

interface Queue<T> {
  length: number;
  toArray(): T[];
}

interface MyConnection {
  config: { user?: string; host?: string; port?: number; database?: string; socketPath?: string };
  stream?: unknown;
  _closing?: boolean;
  _fatalError?: unknown;
  _command?: unknown;
}

interface MyPoolConnection extends MyConnection {
  _removeFromPool(): void;
  _realEnd(): void;
}

interface MyPool {
  config: { connectionConfig: MyConnection['config'] };
  _closed: boolean;
  _allConnections: Queue<MyConnection>;
  _freeConnections: Queue<MyPoolConnection>;
}

interface MyCluster {
  _closed: boolean;
  _nodes: Record<string, { pool: MyPool }>;
}

function isPoolConnection(c: unknown): c is MyPoolConnection {
  const p = c as Partial<MyPoolConnection> | null;
  return typeof p === 'object' && p !== null && typeof p._removeFromPool === 'function' && typeof p._realEnd === 'function';
}

function poolCounts(pool: MyPool): Counts {
  const total = pool._allConnections.length;
  const idle = pool._freeConnections.length;
  return { total, idle, active: total - idle };
}

function poolDisconnect(pool: MyPool): Closing {
  if (pool._closed) return { closed: 0, settled: [] };
  const idle = pool._freeConnections.toArray();
  // Check everything before touching anything: an upstream change leaves the pool intact.
  if (!idle.every(isPoolConnection)) throw new TypeError('mysql2 internals changed: a free connection has no _removeFromPool() and _realEnd()');
  const settled = idle.map((conn) =>
    closeConnection(driverSocket(conn), () => {
      conn._removeFromPool();
      conn._realEnd();
    }),
  );
  return { closed: idle.length, settled };
}

const poolSockets = (pool: MyPool): TrackedSocket[] => socketsOf(pool._allConnections.toArray());

const poolAdapter: Adapter<MyPool> = {
  driver: 'mysql2',
  kind: 'pool',
  target: (pool) => formatTarget(pool.config.connectionConfig),
  counts: poolCounts,
  disconnectIdle: poolDisconnect,
  sockets: poolSockets,
  ended: (pool) => pool._closed,
};

const pools = (cluster: MyCluster): MyPool[] => Object.values(cluster._nodes).map((node) => node.pool);

const clusterAdapter = clusterOf<MyCluster, MyPool>(poolAdapter, pools, (cluster) => cluster._closed);

const connectionAdapter: Adapter<MyConnection> = {
  driver: 'mysql2',
  kind: 'connection',
  target: (conn) => formatTarget(conn.config),
  counts: (conn) => {
    const busy = conn._command != null;
    return { total: 1, idle: busy ? 0 : 1, active: busy ? 1 : 0 };
  },
  sockets: (conn) => socketsOf([conn]),
  ended: (conn) => conn._closing === true || conn._fatalError != null || driverSocket(conn)?.destroyed === true,
};

const FACTORIES = {
  createPool: poolAdapter,
  createPoolCluster: clusterAdapter,
  createConnection: connectionAdapter,
} as const satisfies Record<string, Adapter<any>>;

/** A function that calls `create` and tracks what it made. */
function tracking(create: (...args: any[]) => any, adapter: Adapter<any>, label: string) {
  const wrapper = disguise(function (this: unknown) {
    const created = create.apply(this, arguments as any);
    if (enabled()) guard(label, () => track(created, adapter, process.pid, captureStack(wrapper)), undefined);
    return created;
  }, create);
  return wrapper;
}

/**
 * mysql2 3.0 to 3.11.4: the factories are properties of index.js's exports (`connect` is
 * `createConnection` again), and mysql2/promise calls them there at call time, so they are
 * wrapped in place.
 */
const indexPatch: ModulePatch = {
  package: 'mysql2',
  file: 'index.js',
  versions: LAYOUTS.mysql2.factoriesInIndex,
  patch(exported: any) {
    for (const name of Object.keys(FACTORIES)) {
      if (typeof exported?.[name] !== 'function') throw new TypeError(`mysql2/index.js exports no ${name}()`);
    }
    const names: Array<[string, Adapter<any>]> = [...Object.entries(FACTORIES), ['connect', connectionAdapter]];
    for (const [name, adapter] of names) wrapMethod(exported, name, (original) => tracking(original, adapter, `mysql2 ${name}`));
  },
  unpatch(exported: any) {
    for (const name of [...Object.keys(FACTORIES), 'connect']) unwrapMethod(exported, name);
  },
};

const kFactory = Symbol('forksafe.mysql2Factory');

/**
 * mysql2 3.11.5 and later: each factory is the export of its own lib/create_*.js, which
 * index.js and promise.js both hold, so the export itself is replaced.
 */
function createFilePatch(file: string, adapter: Adapter<any>): ModulePatch {
  return {
    package: 'mysql2',
    file,
    versions: LAYOUTS.mysql2.factoriesInCreateFiles,
    patch(create: any) {
      if (typeof create !== 'function') throw new TypeError(`mysql2/${file} does not export a function`);
      if (create[kFactory]) return create;
      const replaced = tracking(create, adapter, `mysql2 ${file}`);
      Object.defineProperty(replaced, kFactory, { value: true });
      return replaced;
    },
    // The replacement stays (mysql2 holds it) and tracks nothing while the agent is off.
    unpatch() {},
  };
}

export const mysql2Patches: ModulePatch[] = [
  indexPatch,
  createFilePatch('lib/create_pool.js', FACTORIES.createPool),
  createFilePatch('lib/create_pool_cluster.js', FACTORIES.createPoolCluster),
  createFilePatch('lib/create_connection.js', FACTORIES.createConnection),
];
