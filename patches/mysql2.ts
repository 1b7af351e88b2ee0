import type { Socket } from 'node:net';
import { guard } from '../agent/debug';
import type { ModulePatch } from '../agent/patching';
import { track, type Adapter, type Closing, type Counts, type TrackedSocket } from '../agent/registry';
import { enabled } from '../agent/settings';
import { captureStack } from '../agent/stacks';
import { formatTarget } from '../agent/target';
import { disguise } from '../agent/wrap';
import { SUPPORTED } from './supported';

// mysql2. A pool keeps ring queues `_allConnections` and `_freeConnections` (`length`,
// `toArray()`) and `_closed`; a PoolCluster keeps ordinary pools in `_nodes[id].pool`.
// A pooled connection's destroy() removes it from its pool, which reconnects lazily; its
// end() only releases it (unless gracefulEnd), so it is never used to close one.
// `mysql2/promise` calls lib/create_*.js directly, so those files are where pools and
// connections are born for CJS and ESM apps alike.
// (https://github.com/sidorares/node-mysql2/tree/master/lib)

interface Queue<T> {
  length: number;
  toArray(): T[];
}

interface MyConnection {
  stream?: Socket;
  config: { user?: string; host?: string; port?: number; database?: string; socketPath?: string };
  _closing?: boolean;
  _fatalError?: unknown;
  _command?: unknown;
  destroy(): void;
}

interface MyPool {
  config: { connectionConfig: MyConnection['config'] };
  _closed: boolean;
  _allConnections: Queue<MyConnection>;
  _freeConnections: Queue<MyConnection>;
}

interface MyCluster {
  _closed: boolean;
  _nodes: Record<string, { pool: MyPool }>;
}

function socketOf(conn: MyConnection): TrackedSocket | undefined {
  return conn.stream ? { socket: conn.stream } : undefined;
}

/** destroy() takes the connection out of its pool and half-closes it (a queued FIN). */
function close(conn: MyConnection): Promise<void> {
  const stream = conn.stream;
  if (!stream || stream.destroyed) return Promise.resolve();
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  conn.destroy();
  return closed;
}

function poolCounts(pool: MyPool): Counts {
  const total = pool._allConnections.length;
  const idle = pool._freeConnections.length;
  return { total, idle, active: total - idle };
}

function poolDisconnect(pool: MyPool): Closing {
  if (pool._closed) return { closed: 0, settled: [] };
  const idle = pool._freeConnections.toArray();
  if (!idle.every((c) => typeof c?.destroy === 'function')) throw new Error('mysql2 internals changed: a free connection has no destroy()');
  return { closed: idle.length, settled: idle.map(close) };
}

function poolSockets(pool: MyPool): TrackedSocket[] {
  return pool._allConnections.toArray().map(socketOf).filter((s): s is TrackedSocket => s !== undefined);
}

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

const clusterAdapter: Adapter<MyCluster> = {
  driver: 'mysql2',
  kind: 'cluster',
  target: (cluster) => [...new Set(pools(cluster).map((p) => formatTarget(p.config.connectionConfig)))].join(',') || '(no nodes)',
  counts: (cluster) =>
    pools(cluster)
      .map(poolCounts)
      .reduce((a, b) => ({ total: a.total + b.total, idle: a.idle + b.idle, active: a.active + b.active }), { total: 0, idle: 0, active: 0 }),
  disconnectIdle: (cluster) => {
    const all = cluster._closed ? [] : pools(cluster).map(poolDisconnect);
    return { closed: all.reduce((n, c) => n + c.closed, 0), settled: all.flatMap((c) => c.settled) };
  },
  sockets: (cluster) => pools(cluster).flatMap(poolSockets),
  ended: (cluster) => cluster._closed,
};

const connectionAdapter: Adapter<MyConnection> = {
  driver: 'mysql2',
  kind: 'connection',
  target: (conn) => formatTarget(conn.config),
  counts: (conn) => {
    const busy = conn._command != null;
    return { total: 1, idle: busy ? 0 : 1, active: busy ? 1 : 0 };
  },
  sockets: (conn) => {
    const s = socketOf(conn);
    return s ? [s] : [];
  },
  ended: (conn) => conn._closing === true || conn._fatalError != null || conn.stream?.destroyed === true,
};

const kFactory = Symbol('forksafe.mysql2Factory');

/** Replaces a lib/create_*.js export with a function that tracks what it creates. */
function factoryPatch(file: string, adapter: Adapter<any>): ModulePatch {
  return {
    package: 'mysql2',
    file,
    versions: SUPPORTED.mysql2,
    patch(create: any) {
      if (typeof create !== 'function') throw new TypeError(`mysql2/${file} does not export a function`);
      if (create[kFactory]) return create;
      const tracking = disguise(function (this: unknown) {
        const created = create.apply(this, arguments);
        if (enabled()) guard(`mysql2 ${file}`, () => track(created, adapter, process.pid, captureStack(tracking)), undefined);
        return created;
      }, create);
      Object.defineProperty(tracking, kFactory, { value: true });
      return tracking;
    },
    // The replacement stays (mysql2 holds it) and tracks nothing while the agent is off.
    unpatch() {},
  };
}

export const mysql2Patches: ModulePatch[] = [
  factoryPatch('lib/create_pool.js', poolAdapter),
  factoryPatch('lib/create_pool_cluster.js', clusterAdapter),
  factoryPatch('lib/create_connection.js', connectionAdapter),
];
