import { guard } from '../agent/boundary';
import type { ModulePatch } from '../agent/patching';
import { track, untrack, type Adapter, type Closing } from '../agent/registry';
import { enabled } from '../agent/settings';
import { captureStack } from '../agent/stacks';
import { formatTarget, targetFromUrl, type TargetParts } from '../agent/target';
import { unwrapMethod, wrapMethod } from '../agent/wrap';
import { closeConnection } from './shared/close-connection';
import { driverSocket, driverTarget, socketsOf } from './shared/driver-sockets';
import { SUPPORTED } from './shared/supported';

// Knex. Its pool is a tarn.js Pool in `client.pool`, created by Client#initializePool
// (https://github.com/knex/knex/blob/master/lib/client.js), holding the drivers' own
// connections directly (a pg Client, a mysql2 Connection): pg-pool and mysql2's pools are
// not involved, so the driver patches see standalone connections. This patch tracks the
// knex client as one pool and takes its connections off the driver patches' list.
//
// tarn keeps idle resources in `free` and checked-out ones in `used` (items
// `{ resource, settle() }`); its own reaper (Pool#check) closes an idle one by taking it
// out of `free`, settling it and calling `_destroy(resource)`, which runs knex's
// `destroyRawConnection` (Terminate / COM_QUIT) with tarn's bookkeeping. tarn never refills
// up to `min` by itself, so the next acquire simply creates a connection
// (https://github.com/Vincit/tarn.js/blob/master/src/Pool.ts).


interface TarnItem {
  resource: unknown;
  settle(): void;
}

interface TarnPool {
  free: TarnItem[];
  used: TarnItem[];
  destroyed: boolean;
  _destroy(resource: unknown): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): void;
}

interface KnexClient {
  pool?: unknown;
  connectionSettings?: unknown;
  /** The driver package the dialect loads: 'pg', 'mysql2', 'mysql', 'sqlite3', … */
  driverName?: string;
}

const DEFAULT_PORTS: Record<string, number> = { pg: 5432, 'pg-native': 5432, mysql: 3306, mysql2: 3306 };

/** knex's own tarn pool; undefined without a pool (`pool.max: 0`) or with an external driver pool (knex 3.3 `connectionPool`), which the driver patch tracks. */
function tarnPool(client: KnexClient): TarnPool | undefined {
  const p = client.pool as Partial<TarnPool> | undefined;
  if (!p || !Array.isArray(p.free) || !Array.isArray(p.used) || typeof p._destroy !== 'function' || typeof p.on !== 'function') return undefined;
  return p as TarnPool;
}

function settingsTarget(settings: unknown, defaultPort: number | undefined): string {
  if (typeof settings === 'string') return targetFromUrl(settings, { port: defaultPort });
  if (settings === null || typeof settings !== 'object') return '(not connected yet)';
  const s = settings as TargetParts & { username?: string; connectionString?: string; filename?: string };
  if (s.filename !== undefined) return s.filename;
  const parts: TargetParts = { user: s.user ?? s.username, host: s.host, socketPath: s.socketPath, port: s.port ?? defaultPort, database: s.database };
  if (s.connectionString) return targetFromUrl(s.connectionString, parts);
  return formatTarget(parts);
}

const resources = (pool: TarnPool): unknown[] => [...pool.free, ...pool.used].map((item) => item?.resource);

const knexAdapter: Adapter<KnexClient> = {
  driver: 'knex',
  kind: 'pool',
  target: (client) => {
    // What a live connection is connected to, else what the settings say.
    const pool = tarnPool(client);
    for (const r of pool ? resources(pool) : []) {
      const t = driverTarget(r);
      if (t !== undefined) return t;
    }
    return settingsTarget(client.connectionSettings, DEFAULT_PORTS[client.driverName ?? '']);
  },
  counts: (client) => {
    const pool = tarnPool(client);
    const idle = pool ? pool.free.length : 0;
    const total = pool ? idle + pool.used.length : 0;
    return { total, idle, active: total - idle };
  },
  disconnectIdle: (client): Closing => {
    const pool = tarnPool(client);
    if (!pool || pool.destroyed) return { closed: 0, settled: [] };
    const idle = pool.free.slice();
    // Check everything before touching anything: an upstream change leaves the pool intact.
    if (!idle.every((item) => item !== null && typeof item === 'object' && typeof item.settle === 'function')) {
      throw new Error('tarn internals changed: a free item has no settle()');
    }
    // What tarn's reaper does to a resource idle for too long, done now for all of them.
    pool.free = [];
    const settled = idle.map((item) =>
      closeConnection(driverSocket(item.resource), () => {
        item.settle();
        return pool._destroy(item.resource);
      }),
    );
    return { closed: idle.length, settled };
  },
  sockets: (client) => {
    const pool = tarnPool(client);
    return pool ? socketsOf(resources(pool)) : [];
  },
  // knex.destroy() destroys the pool and drops it; knex.initialize() makes a new one.
  ended: (client) => {
    const pool = tarnPool(client);
    return !pool || pool.destroyed === true;
  },
};

const watched = new WeakSet<object>();

function adopt(client: KnexClient, skip: Function): void {
  const pool = tarnPool(client);
  if (!pool) return;
  if (!watched.has(pool)) {
    watched.add(pool);
    // knex's create made the connection with the driver, whose patch tracked it as a
    // standalone connection when it connected: from now on it is counted in this pool.
    pool.on('createSuccess', (_eventId: unknown, resource: unknown) => {
      if (resource !== null && typeof resource === 'object') untrack(resource);
    });
  }
  track(client, knexAdapter, process.pid, captureStack(skip));
}

export const knexPatch: ModulePatch = {
  package: 'knex',
  file: 'lib/client.js',
  versions: SUPPORTED.knex,
  patch(Client: any) {
    if (typeof Client?.prototype?.initializePool !== 'function') throw new TypeError('knex/lib/client.js exports no Client with initializePool()');
    // The constructor calls initializePool (and knex.initialize() after a destroy() does too).
    wrapMethod(Client.prototype, 'initializePool', (original) =>
      function initializePool(this: KnexClient) {
        const result = original.apply(this, arguments as any);
        if (enabled()) guard('knex pool', () => adopt(this, initializePool), undefined);
        return result;
      },
    );
  },
  unpatch(Client: any) {
    unwrapMethod(Client.prototype, 'initializePool');
  },
};
