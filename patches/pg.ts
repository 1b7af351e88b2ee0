import { guard } from '../agent/boundary';
import { whileOpening } from '../agent/clients';
import type { ModulePatch } from '../agent/patching';
import { track, untrack, type Adapter, type Closing, type Counts, type TrackedSocket } from '../agent/registry';
import { enabled } from '../agent/settings';
import { captureStack, type StackHolder } from '../agent/stacks';
import { kOpenedAt } from '../agent/symbols';
import { formatTarget, targetFromUrl, type TargetParts } from '../agent/target';
import { unwrapMethod, wrapMethod } from '../agent/wrap';
import { closeConnection } from './shared/close-connection';
import { driverSocket } from './shared/driver-sockets';
import { LAYOUTS, SUPPORTED } from './shared/supported';

// node-postgres. pg-pool keeps every client in `_clients` and the idle ones in `_idle`
// (items `{ client, idleListener, timeoutId }`); `_remove(client)` drops one and ends it
// (Terminate) while the pool stays open, and the next query opens a new backend lazily
// (https://github.com/brianc/node-postgres/blob/master/packages/pg-pool/index.js). So it
// is in every pg-pool 3.x; 3.10.1 added a callback to `_remove`, which is not needed here.
// A client's socket is `connection.stream`: a net.Socket, replaced by a TLSSocket after
// an SSL upgrade. A standalone Client cannot reconnect after end(), so it is never closed.

/** Where a client keeps its running query and its queue: renamed in pg 8.17 (patches/supported.ts). */
interface QueryFields {
  active: string;
  queue: string;
}

interface PgClient {
  connectionParameters?: TargetParts;
  _ending?: boolean;
  /** Since pg 8.10. */
  _ended?: boolean;
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
  /** The callback since pg-pool 3.10.1; older ones ignore it. */
  _remove(client: PgClient, callback?: () => void): void;
  _pulseQueue(): void;
}

function socketOf(client: PgClient): TrackedSocket | undefined {
  const socket = driverSocket(client);
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
 * Ends an idle client the way the pool itself does; the pool may then serve a waiting caller
 * with a new one. A client with a socket is closed once its socket is; pg.native's has none,
 * and pg-pool 3.10.1 and later say when it has ended (older ones ignore the callback, and
 * the deadline stands in).
 */
function closeIdle(pool: PgPool, client: PgClient): Promise<void> {
  const ended = (): Promise<void> => {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    // Outside the promise executor: a throw is an error of the agent, to be reported.
    pool._remove(client, resolve);
    return done;
  };
  return closeConnection(driverSocket(client), ended).then(() => guard('pg-pool _pulseQueue', () => pool._pulseQueue(), undefined));
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
    const idle = pool._idle.map((item) => item?.client);
    // Check everything before touching anything: an upstream change leaves the pool intact.
    if (!idle.every(isClient)) throw new TypeError('pg-pool internals changed: an _idle item has no client with end()');
    return { closed: idle.length, settled: idle.map((client) => closeIdle(pool, client)) };
  },
  sockets: (pool) => pool._clients.map(socketOf).filter((s): s is TrackedSocket => s !== undefined),
  ended: (pool) => pool.ended === true,
};

function clientAdapter(fields: QueryFields): Adapter<PgClient> {
  return {
    driver: 'pg',
    kind: 'connection',
    target: (client) => formatTarget(client.connectionParameters ?? {}),
    counts: (client): Counts => {
      const c = client as unknown as Record<string, unknown>;
      const queue = c[fields.queue] as unknown[] | undefined;
      const busy = c[fields.active] != null || (queue?.length ?? 0) > 0;
      return { total: 1, idle: busy ? 0 : 1, active: busy ? 1 : 0 };
    },
    sockets: (client) => {
      const s = socketOf(client);
      return s ? [s] : [];
    },
    ended: (client) => client._ending === true || client._ended === true,
  };
}

// Set while pg-pool's newClient runs: the client it connects belongs to that pool.
let connectingForPool: PgPool | undefined;

const kTrackingPool = Symbol('forksafe.pgTrackingPool');

function checkPool(Pool: any): void {
  const proto = typeof Pool === 'function' ? Pool.prototype : undefined;
  for (const method of ['newClient', '_remove', '_pulseQueue']) {
    if (typeof proto?.[method] !== 'function') throw new TypeError(`pg-pool/index.js exports no Pool class with ${method}()`);
  }
}

export const pgPoolPatch: ModulePatch = {
  package: 'pg-pool',
  integration: 'pg',
  file: 'index.js',
  versions: SUPPORTED['pg-pool'],
  // A pool opens nothing until its first query, and pg-pool calls no method of its own from
  // the constructor, so pools are tracked by a subclass that pg's BoundPool then extends.
  patch(exported: any) {
    // Switched off and on again, the exports are already our subclass: re-wrap its parent.
    const Pool = exported?.[kTrackingPool] ? Object.getPrototypeOf(exported) : exported;
    checkPool(Pool);
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

/** pg's Client in one layout, or pg.native's (libpq holds its socket: tracked, but no door can see it). */
function clientPatch(file: string, versions: string, fields: QueryFields): ModulePatch {
  const adapter = clientAdapter(fields);
  return {
    package: 'pg',
    file,
    versions,
    patch(Client: any) {
      if (typeof Client?.prototype?.connect !== 'function') throw new TypeError(`pg/${file} exports no Client class with connect()`);
      wrapMethod(Client.prototype, 'connect', (original) =>
        function connect(this: PgClient) {
          if (!enabled()) return original.apply(this, arguments as any);
          guard('pg connect', () => {
            this[kOpenedAt] = captureStack(connect);
            if (!connectingForPool) track(this, adapter, process.pid, this[kOpenedAt]);
          }, undefined);
          // The socket it connects now shares the stack just captured.
          const args = arguments;
          return whileOpening(this[kOpenedAt], () => original.apply(this, args as any));
        },
      );
      // end() sets `_ending` first thing, so the registry would forget the client at its next
      // sweep anyway; forgotten now, the entry's WeakRef (which young-generation collections
      // treat as strong) no longer keeps the ended client and its socket alive until then.
      wrapMethod(Client.prototype, 'end', (original) =>
        function end(this: PgClient) {
          guard('pg end', () => untrack(this), undefined);
          return original.apply(this, arguments as any);
        },
      );
    },
    unpatch(Client: any) {
      unwrapMethod(Client.prototype, 'connect');
      unwrapMethod(Client.prototype, 'end');
    },
  };
}

const UNDERSCORED: QueryFields = { active: '_activeQuery', queue: '_queryQueue' };

export const pgClientPatches: ModulePatch[] = [
  clientPatch('lib/client.js', LAYOUTS.pg.plainQueryFields, { active: 'activeQuery', queue: 'queryQueue' }),
  clientPatch('lib/client.js', LAYOUTS.pg.underscoredQueryFields, UNDERSCORED),
  // The native client has used the underscored names throughout 8.x.
  clientPatch('lib/native/client.js', SUPPORTED.pg, UNDERSCORED),
];
