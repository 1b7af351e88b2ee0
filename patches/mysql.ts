import type { Socket } from 'node:net';
import { guard } from '../agent/boundary';
import type { ModulePatch } from '../agent/patching';
import { track, type Adapter, type Closing, type Counts } from '../agent/registry';
import { enabled } from '../agent/settings';
import { captureStack } from '../agent/stacks';
import { formatTarget, type TargetParts } from '../agent/target';
import { unwrapMethod, wrapMethod } from '../agent/wrap';
import { closeConnection } from './shared/close-connection';
import { clusterOf } from './shared/cluster';
import { socketsOf } from './shared/driver-sockets';
import { SUPPORTED } from './shared/supported';

// mysql (mysqljs/mysql) 2.18. index.js's createPool / createConnection / createPoolCluster
// are where everything is born, for CJS and ESM apps alike (the package is CommonJS).
// A Pool keeps arrays `_allConnections` and `_freeConnections`, and `_closed`; a PoolCluster
// keeps `_nodes[id].pool` and `_closed`. `_purgeConnection(conn, cb)` is how the pool's own
// end() closes a connection: it takes it out of the pool and ends it with COM_QUIT
// (`_realEnd`); the pool opens a new one on the next getConnection. A Connection's socket is
// `_socket` (under TLS too: the TLS stream is layered on it); its `_protocol` has `_queue`,
// `_quitSequence`, `_fatalError` and `_destroyed`. A standalone connection cannot reconnect
// after end(), so it is never closed.
// (https://github.com/mysqljs/mysql/tree/v2.18.1/lib)

interface MyConnection {
  _socket?: Socket;
  config: TargetParts;
  _protocol: { _queue: unknown[]; _quitSequence: unknown; _fatalError: unknown; _destroyed: boolean };
}

interface MyPool {
  config: { connectionConfig: TargetParts };
  _closed: boolean;
  _allConnections: MyConnection[];
  _freeConnections: MyConnection[];
  _purgeConnection(conn: MyConnection, callback: (err?: unknown) => void): void;
}

interface MyCluster {
  _closed: boolean;
  _nodes: Record<string, { pool: MyPool }>;
}

const targetOf = (config: TargetParts): string => formatTarget({ user: config.user, host: config.host, port: config.port, database: config.database, socketPath: config.socketPath });

const socketOf = (c: MyConnection): unknown => c._socket;

function poolCounts(pool: MyPool): Counts {
  const total = pool._allConnections.length;
  const idle = pool._freeConnections.length;
  return { total, idle, active: total - idle };
}

function poolDisconnect(pool: MyPool): Closing {
  if (pool._closed) return { closed: 0, settled: [] };
  const idle = [...pool._freeConnections];
  // Check everything before touching anything: an upstream change leaves the pool intact.
  if (typeof pool._purgeConnection !== 'function') throw new TypeError('mysql internals changed: expected Pool#_purgeConnection(connection, callback)');
  if (!idle.every((c) => typeof c?._protocol === 'object')) throw new TypeError('mysql internals changed: expected free connections with a _protocol');
  const settled = idle.map((conn) => {
    const socket = conn._socket;
    return closeConnection(socket, () => new Promise<void>((resolve) => pool._purgeConnection(conn, () => resolve())));
  });
  return { closed: idle.length, settled };
}

const poolAdapter: Adapter<MyPool> = {
  driver: 'mysql',
  kind: 'pool',
  target: (pool) => targetOf(pool.config.connectionConfig),
  counts: poolCounts,
  disconnectIdle: poolDisconnect,
  sockets: (pool) => socketsOf(pool._allConnections, socketOf),
  ended: (pool) => pool._closed,
};

const pools = (cluster: MyCluster): MyPool[] => Object.values(cluster._nodes).map((node) => node.pool);

const clusterAdapter = clusterOf<MyCluster, MyPool>(poolAdapter, pools, (cluster) => cluster._closed);

const connectionAdapter: Adapter<MyConnection> = {
  driver: 'mysql',
  kind: 'connection',
  target: (conn) => targetOf(conn.config),
  counts: (conn) => {
    // Queued sequences (the handshake included) are work in flight.
    const busy = conn._protocol._queue.length > 0;
    return { total: 1, idle: busy ? 0 : 1, active: busy ? 1 : 0 };
  },
  sockets: (conn) => socketsOf([conn], socketOf),
  ended: (conn) => conn._protocol._quitSequence != null || conn._protocol._fatalError != null || conn._protocol._destroyed === true,
};

const FACTORIES = {
  createPool: { adapter: poolAdapter, check: (p: any) => Array.isArray(p?._allConnections) && Array.isArray(p._freeConnections) && p.config?.connectionConfig, expected: 'a Pool with _allConnections, _freeConnections and config.connectionConfig' },
  createPoolCluster: { adapter: clusterAdapter, check: (c: any) => typeof c?._nodes === 'object' && c._nodes !== null, expected: 'a PoolCluster with _nodes' },
  createConnection: { adapter: connectionAdapter, check: (c: any) => typeof c?._protocol === 'object' && Array.isArray(c._protocol._queue) && c.config, expected: 'a Connection with _protocol._queue and config' },
} as const;

export const mysqlPatch: ModulePatch = {
  package: 'mysql',
  file: 'index.js',
  versions: SUPPORTED.mysql,
  patch(exported: any) {
    for (const name of Object.keys(FACTORIES)) {
      if (typeof exported?.[name] !== 'function') throw new TypeError(`mysql/index.js: expected a function ${name}`);
    }
    for (const [name, { adapter, check, expected }] of Object.entries(FACTORIES)) {
      wrapMethod(exported, name, (create) =>
        function (this: unknown) {
          const created = create.apply(this, arguments as any);
          if (enabled()) {
            guard(`mysql ${name}`, () => {
              if (!check(created)) throw new TypeError(`mysql internals changed: ${name} expected to return ${expected}`);
              track(created, adapter as Adapter<any>, process.pid, captureStack(exported[name]));
            }, undefined);
          }
          return created;
        },
      );
    }
  },
  unpatch(exported: any) {
    for (const name of Object.keys(FACTORIES)) unwrapMethod(exported, name);
  },
};
