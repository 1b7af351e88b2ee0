import { guard } from '../agent/boundary';
import type { ModulePatch } from '../agent/patching';
import { track, untrack, type Adapter, type Closing } from '../agent/registry';
import { enabled } from '../agent/settings';
import { captureStack } from '../agent/stacks';
import { formatTarget } from '../agent/target';
import { unwrapMethod, wrapMethod } from '../agent/wrap';
import { closeConnection } from './shared/close-connection';
import { driverSocket, driverTarget, socketsOf, sumCounts } from './shared/driver-sockets';
import { SUPPORTED } from './shared/supported';

// Sequelize 6. Every dialect's ConnectionManager extends the abstract one, whose
// initPools() puts a sequelize-pool Pool in `this.pool` (with replication: `pool.read` and
// `pool.write`), and whose _connect() opens each connection with the driver itself
// (https://github.com/sequelize/sequelize/blob/v6/src/dialects/abstract/connection-manager.js).
// So the driver patches see standalone connections: this patch tracks the connection
// manager as one pool and takes its connections off the driver patches' list.
//
// sequelize-pool keeps idle connections in `_availableObjects` and checked-out ones in
// `_inUseObjects` (items `{ resource }`). Its public `destroy(resource)` drops one and
// closes it through Sequelize (beforeDisconnect / afterDisconnect hooks included); the
// next acquire creates a connection lazily. It refills up to `min` at once after a destroy,
// so, like its own idle reaper (_removeIdle), only the idle connections above `min` are
// closed: the others would be reopened straight away
// (https://github.com/sequelize/sequelize-pool/blob/master/src/Pool.ts).

interface PoolItem {
  resource: unknown;
}

interface SequelizePool {
  _availableObjects: PoolItem[];
  _inUseObjects: PoolItem[];
  _draining: boolean;
  readonly size: number;
  readonly minSize: number;
  destroy(resource: unknown): Promise<void>;
}

interface ConnectionConfig {
  username?: string;
  host?: string;
  port?: number | string;
  database?: string;
  storage?: string;
  replication?: { write?: ConnectionConfig } | false;
}

interface ConnectionManager {
  pool?: SequelizePool | { read?: SequelizePool; write?: SequelizePool };
  config?: ConnectionConfig;
}

function isPool(p: unknown): p is SequelizePool {
  const q = p as Partial<SequelizePool> | undefined;
  return !!q && Array.isArray(q._availableObjects) && Array.isArray(q._inUseObjects) && typeof q.destroy === 'function';
}

function poolsOf(cm: ConnectionManager): SequelizePool[] {
  const p = cm.pool;
  if (isPool(p)) return [p];
  if (!p || typeof p !== 'object') return [];
  const { write, read } = p as { read?: unknown; write?: unknown };
  return [write, read].filter(isPool);
}

const resources = (pool: SequelizePool): unknown[] => [...pool._availableObjects, ...pool._inUseObjects].map((item) => item?.resource);

function configTarget(config: ConnectionConfig | undefined): string {
  const c = (config?.replication && config.replication.write) || config;
  if (!c) return '(not connected yet)';
  if (c.storage !== undefined) return c.storage;
  return formatTarget({ user: c.username, host: c.host, port: c.port, database: c.database });
}

/** The idle connections above `min`; throws, touching nothing, if the pool's layout changed. */
function idleAboveMin(pool: SequelizePool): unknown[] {
  if (pool._draining) return [];
  const above = pool.size - pool.minSize;
  if (!Number.isInteger(above) || !pool._availableObjects.every((item) => item?.resource !== null && typeof item?.resource === 'object')) {
    throw new Error('sequelize-pool internals changed: no size/minSize, or an available item without a resource');
  }
  return pool._availableObjects.slice(0, Math.max(0, above)).map((item) => item.resource);
}

const sequelizeAdapter: Adapter<ConnectionManager> = {
  driver: 'sequelize',
  kind: 'pool',
  target: (cm) => {
    for (const r of poolsOf(cm).flatMap(resources)) {
      const t = driverTarget(r);
      if (t !== undefined) return t;
    }
    return configTarget(cm.config);
  },
  counts: (cm) =>
    sumCounts(
      poolsOf(cm).map((pool) => {
        const idle = pool._availableObjects.length;
        const total = idle + pool._inUseObjects.length;
        return { total, idle, active: total - idle };
      }),
    ),
  disconnectIdle: (cm): Closing => {
    // Every pool (read and write) checked before any is touched.
    const plan = poolsOf(cm).map((pool) => ({ pool, idle: idleAboveMin(pool) }));
    const settled = plan.flatMap(({ pool, idle }) => idle.map((r) => closeConnection(driverSocket(r), () => pool.destroy(r))));
    return { closed: settled.length, settled };
  },
  sockets: (cm) => socketsOf(poolsOf(cm).flatMap(resources)),
  // sequelize.close() drains the pools for good.
  ended: (cm) => poolsOf(cm).every((pool) => pool._draining === true),
};

export const sequelizePatch: ModulePatch = {
  package: 'sequelize',
  file: 'lib/dialects/abstract/connection-manager.js',
  versions: SUPPORTED.sequelize,
  patch(exported: any) {
    const ConnectionManager = exported?.ConnectionManager ?? exported;
    const proto = ConnectionManager?.prototype;
    if (typeof proto?.initPools !== 'function' || typeof proto?._connect !== 'function') {
      throw new TypeError('sequelize connection-manager.js exports no ConnectionManager with initPools() and _connect()');
    }
    // Called once, by the constructor.
    wrapMethod(proto, 'initPools', (original) =>
      function initPools(this: ConnectionManager) {
        const result = original.apply(this, arguments as any);
        if (enabled()) {
          guard('sequelize pool', () => {
            if (poolsOf(this).length > 0) track(this, sequelizeAdapter, process.pid, captureStack(initPools));
          }, undefined);
        }
        return result;
      },
    );
    // The dialect connected with the driver, whose patch tracked the connection as a
    // standalone one: from now on it is counted in this pool. The caller gets the very
    // same promise.
    wrapMethod(proto, '_connect', (original) =>
      function _connect(this: ConnectionManager) {
        const connecting = original.apply(this, arguments as any);
        if (connecting && typeof connecting.then === 'function') {
          connecting.then(
            (conn: unknown) => {
              if (conn !== null && typeof conn === 'object') untrack(conn);
            },
            () => undefined,
          );
        }
        return connecting;
      },
    );
  },
  unpatch(exported: any) {
    const proto = (exported?.ConnectionManager ?? exported)?.prototype;
    if (!proto) return;
    unwrapMethod(proto, 'initPools');
    unwrapMethod(proto, '_connect');
  },
};
