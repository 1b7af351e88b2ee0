import type { Socket } from 'node:net';
import { guard } from '../agent/debug';
import type { ModulePatch } from '../agent/patching';
import { track, type Adapter, type Closing, type TrackedSocket } from '../agent/registry';
import { enabled } from '../agent/settings';
import { captureStack, type StackHolder } from '../agent/stacks';
import { kOpenedAt } from '../agent/symbols';
import { formatTarget, targetFromUrl, type TargetParts } from '../agent/target';
import { unwrapMethod, wrapMethod } from '../agent/wrap';
import { SUPPORTED } from './supported';

// node-postgres. pg-pool keeps every client in `_clients` and the idle ones in `_idle`
// (items `{ client, idleListener, timeoutId }`); `_remove(client, cb)` drops one and ends
// it while the pool stays open, and the next query opens a new backend lazily
// (https://github.com/brianc/node-postgres/blob/master/packages/pg-pool/index.js).
// A client's socket is `connection.stream`: a net.Socket, replaced by a TLSSocket after
// an SSL upgrade. A standalone Client cannot reconnect after end(), so it is never closed.

interface PgClient {
  connection?: { stream?: Socket };
  connectionParameters?: TargetParts;
  _ending?: boolean;
  _ended?: boolean;
  _queryable?: boolean;
  _activeQuery?: unknown;
  _queryQueue?: unknown[];
  [kOpenedAt]?: StackHolder;
}

interface PgPool {
  options: TargetParts & { connectionString?: string };
  totalCount: number;
  idleCount: number;
  ending: boolean;
  ended: boolean;
  _clients: PgClient[];
  _idle: Array<{ client: PgClient }>;
  _remove(client: PgClient, callback: () => void): void;
  _pulseQueue(): void;
}

function socketOf(client: PgClient): TrackedSocket | undefined {
  const socket = client.connection?.stream;
  return socket ? { socket, openedAt: client[kOpenedAt] } : undefined;
}

function poolTarget(pool: PgPool): string {
  const params = pool._clients[0]?.connectionParameters;
  if (params) return formatTarget(params);
  const env = process.env;
  const o = pool.options;
  const defaults: TargetParts = {
    user: o.user ?? env.PGUSER ?? env.USER,
    host: o.host ?? env.PGHOST ?? 'localhost',
    port: o.port ?? env.PGPORT ?? 5432,
    database: o.database ?? env.PGDATABASE ?? o.user ?? env.PGUSER ?? env.USER,
  };
  return o.connectionString ? targetFromUrl(o.connectionString, defaults) : formatTarget(defaults);
}

/**
 * Ends an idle client the way the pool itself does: pg-pool's _remove takes it out of the
 * pool at once and writes the Terminate message; the socket closes once the server has
 * seen it. The socket is corked meanwhile, so the Terminate is queued now and written on
 * the next tick: on loopback every write that reaches the server wakes its backend inside
 * the syscall (0.1 to 1 ms each, measured), and a fork must not wait for one per connection.
 */
function closeIdle(pool: PgPool, client: PgClient): Promise<void> {
  let resolve!: () => void;
  const closed = new Promise<void>((r) => (resolve = r));
  const socket = client.connection?.stream;
  socket?.cork();
  try {
    // Outside the promise executor: a throw here must reach the registry's guard, not
    // become an unhandled rejection.
    pool._remove(client, () => {
      resolve();
      pool._pulseQueue();
    });
  } finally {
    if (socket) process.nextTick(() => socket.uncork());
  }
  return closed;
}

function isClient(c: unknown): c is PgClient {
  return typeof c === 'object' && c !== null && typeof (c as { end?: unknown }).end === 'function';
}

const poolAdapter: Adapter<PgPool> = {
  driver: 'pg',
  kind: 'pool',
  target: poolTarget,
  counts: (pool) => {
    const total = pool.totalCount;
    const idle = pool.idleCount;
    return { total, idle, active: total - idle };
  },
  disconnectIdle: (pool): Closing => {
    if (pool.ending) return { closed: 0, settled: [] };
    const idle = pool._idle.map((item) => item.client);
    // Check everything before touching anything: an upstream change leaves the pool intact.
    if (!idle.every(isClient)) throw new Error('pg-pool internals changed: an _idle item has no client');
    return { closed: idle.length, settled: idle.map((client) => closeIdle(pool, client)) };
  },
  sockets: (pool) => pool._clients.map(socketOf).filter((s): s is TrackedSocket => s !== undefined),
  ended: (pool) => pool.ended === true,
};

const clientAdapter: Adapter<PgClient> = {
  driver: 'pg',
  kind: 'connection',
  target: (client) => formatTarget(client.connectionParameters ?? {}),
  counts: (client) => {
    const busy = client._activeQuery != null || (client._queryQueue?.length ?? 0) > 0;
    return { total: 1, idle: busy ? 0 : 1, active: busy ? 1 : 0 };
  },
  sockets: (client) => {
    const s = socketOf(client);
    return s ? [s] : [];
  },
  ended: (client) => client._ending === true || client._ended === true,
};

// Set while pg-pool's newClient runs: the client it connects belongs to that pool.
let connectingForPool: PgPool | undefined;

const kTrackingPool = Symbol('forksafe.pgTrackingPool');

export const pgPoolPatch: ModulePatch = {
  package: 'pg-pool',
  integration: 'pg',
  file: 'index.js',
  versions: SUPPORTED['pg-pool'],
  // A pool opens nothing until its first query, and pg-pool calls no method of its own from
  // the constructor, so pools are tracked by a subclass that pg's BoundPool then extends.
  patch(exported: any) {
    // Switched off and on again, the exports are already our subclass: re-wrap its parent.
    const Pool = exported[kTrackingPool] ? Object.getPrototypeOf(exported) : exported;
    wrapMethod(Pool.prototype, 'newClient', (original) =>
      function newClient(this: PgPool) {
        const outer = connectingForPool;
        connectingForPool = this;
        try {
          return original.apply(this, arguments as any);
        } finally {
          connectingForPool = outer;
        }
      },
    );
    if (exported[kTrackingPool]) return exported;
    const Tracked = class extends Pool {
      constructor(...args: any[]) {
        super(...args);
        if (enabled()) guard('pg pool', () => track(this as unknown as PgPool, poolAdapter, process.pid, captureStack(Tracked)), undefined);
      }
    };
    Object.defineProperty(Tracked, 'name', { value: Pool.name });
    Object.defineProperty(Tracked, kTrackingPool, { value: true });
    return Tracked;
  },
  unpatch(exported: any) {
    // The subclass stays (pg already extends it) and tracks nothing while the agent is off.
    unwrapMethod(Object.getPrototypeOf(exported).prototype, 'newClient');
  },
};

/** pg's Client, and pg.native's (libpq holds its socket: tracked, but no door can see it). */
function clientPatch(file: string): ModulePatch {
  return {
    package: 'pg',
    file,
    versions: SUPPORTED.pg,
    patch(Client: any) {
      wrapMethod(Client.prototype, 'connect', (original) =>
        function connect(this: PgClient) {
          if (enabled()) {
            guard('pg connect', () => {
              this[kOpenedAt] = captureStack(connect);
              if (!connectingForPool) track(this, clientAdapter, process.pid, this[kOpenedAt]);
            }, undefined);
          }
          return original.apply(this, arguments as any);
        },
      );
    },
    unpatch(Client: any) {
      unwrapMethod(Client.prototype, 'connect');
    },
  };
}

export const pgClientPatches: ModulePatch[] = [clientPatch('lib/client.js'), clientPatch('lib/native/client.js')];
