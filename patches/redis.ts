import { Socket } from 'node:net';
import { guard } from '../agent/boundary';
import type { ModulePatch } from '../agent/patching';
import { track, type Adapter } from '../agent/registry';
import { enabled } from '../agent/settings';
import { captureStack } from '../agent/stacks';
import { formatTarget, targetFromUrl } from '../agent/target';
import { unwrapMethod, wrapMethod } from '../agent/wrap';
import { SUPPORTED } from './shared/supported';

// Redis clients: ioredis (which BullMQ uses) and node-redis (`redis`, i.e. @redis/client).
// A Redis socket in two processes is the same bug as a database socket in two processes,
// so their sockets go through the detection doors. They are not pools (one multiplexed
// connection that reconnects by itself), so they have no disconnectIdle: the pre-fork step
// leaves them open and counts them in `kept`.

function redisTarget(o: { username?: string; host?: string; port?: number | string; path?: string; db?: number | string } | undefined): string {
  return formatTarget({
    user: o?.username,
    host: o?.path ?? o?.host ?? 'localhost',
    port: o?.path ? undefined : (o?.port ?? 6379),
    database: String(o?.db ?? 0),
  });
}

// ---- ioredis ----
// `Redis#connect()` runs from the constructor (unless lazyConnect) and again on every
// reconnect; the socket is the public `stream` and `status` is "end" once closed for good
// (https://github.com/redis/ioredis/blob/main/lib/Redis.ts).

interface IORedis {
  status?: string;
  stream?: unknown;
  options?: { username?: string; host?: string; port?: number; path?: string; db?: number };
  commandQueue?: { length: number };
}

function ioredisSocket(r: IORedis): Socket | undefined {
  return r.stream instanceof Socket && !r.stream.destroyed ? r.stream : undefined;
}

const ioredisAdapter: Adapter<IORedis> = {
  driver: 'ioredis',
  kind: 'connection',
  target: (r) => redisTarget(r.options),
  counts: (r) => {
    const total = ioredisSocket(r) ? 1 : 0;
    const active = total && (r.commandQueue?.length ?? 0) > 0 ? 1 : 0;
    return { total, idle: total - active, active };
  },
  sockets: (r) => {
    const socket = ioredisSocket(r);
    return socket ? [{ socket }] : [];
  },
  ended: (r) => r.status === 'end',
};

export const ioredisPatch: ModulePatch = {
  package: 'ioredis',
  file: 'built/Redis.js',
  versions: SUPPORTED.ioredis,
  patch(exported: any) {
    const proto = exported?.default?.prototype;
    if (typeof proto?.connect !== 'function') throw new TypeError('ioredis/built/Redis.js exports no Redis class with connect()');
    wrapMethod(proto, 'connect', (original) =>
      function connect(this: IORedis) {
        // Tracked once; tracked again if it connects after it was closed for good.
        if (enabled()) guard('ioredis connect', () => track(this, ioredisAdapter, process.pid, captureStack(connect)), undefined);
        return original.apply(this, arguments as any);
      },
    );
  },
  unpatch(exported: any) {
    const proto = exported?.default?.prototype;
    if (proto) unwrapMethod(proto, 'connect');
  },
};

// ---- node-redis ----
// RedisClient keeps its RedisSocket, and that its net.Socket, in private fields (#socket)
// (https://github.com/redis/node-redis/blob/master/packages/client/lib/client/socket.ts).
// The one public place such a socket shows up is Node's `net.client.socket` diagnostics
// channel, published synchronously inside net.connect(). RedisSocket creates its socket
// synchronously inside connect(), and on a reconnect right after it emits 'reconnecting'
// (which the client re-emits): so the socket published while a client's connect() runs,
// or just after its 'reconnecting' event, is that client's. TLS sockets (tls.connect)
// are not published on that channel in Node 20: a rediss:// client is listed, without
// its socket.

interface NodeRedisClient {
  _self?: NodeRedisClient;
  isOpen?: boolean;
  isReady?: boolean;
  options?: {
    url?: string;
    username?: string;
    database?: number;
    socket?: { host?: string; port?: number; path?: string; tls?: boolean };
  };
}

const clientSockets = new WeakMap<object, Socket>();
let expecting: NodeRedisClient | undefined;

function onClientSocket(message: unknown): void {
  if (expecting === undefined) return;
  const socket = (message as { socket?: unknown } | null)?.socket;
  if (socket instanceof Socket) clientSockets.set(expecting, socket);
  expecting = undefined;
}

let subscribed = false;

// Loaded on first use: the preload does not pay for it at start-up.
const diagnosticsChannel = (): typeof import('node:diagnostics_channel') => require('node:diagnostics_channel');

const selfOf = (c: NodeRedisClient): NodeRedisClient => c._self ?? c;

function nodeRedisSocket(client: NodeRedisClient): Socket | undefined {
  const s = clientSockets.get(client);
  return s && !s.destroyed ? s : undefined;
}

const nodeRedisAdapter: Adapter<NodeRedisClient> = {
  driver: 'redis',
  kind: 'connection',
  target: (c) => {
    const o = c.options;
    const parts = { username: o?.username, host: o?.socket?.host, port: o?.socket?.port, path: o?.socket?.path, db: o?.database };
    return o?.url ? targetFromUrl(o.url, { user: parts.username, host: parts.host ?? 'localhost', port: parts.port ?? 6379, database: String(parts.db ?? 0) }) : redisTarget(parts);
  },
  // Its command queue is private: a connected client counts as one idle connection.
  counts: (c) => {
    const total = c.isReady || nodeRedisSocket(c) ? 1 : 0;
    return { total, idle: total, active: 0 };
  },
  sockets: (c) => {
    const socket = nodeRedisSocket(c);
    return socket ? [{ socket }] : [];
  },
  // close(), quit(), destroy(), or a reconnect strategy that gave up.
  ended: (c) => c.isOpen !== true,
};

export const nodeRedisPatch: ModulePatch = {
  package: '@redis/client',
  integration: 'redis',
  file: 'dist/lib/client/index.js',
  versions: SUPPORTED['@redis/client'],
  patch(exported: any) {
    const proto = exported?.default?.prototype;
    if (typeof proto?.connect !== 'function' || typeof proto?.emit !== 'function') {
      throw new TypeError('@redis/client/dist/lib/client/index.js exports no RedisClient with connect()');
    }
    wrapMethod(proto, 'connect', (original) =>
      function connect(this: NodeRedisClient) {
        if (!enabled()) return original.apply(this, arguments as any);
        const client = selfOf(this);
        guard('redis connect', () => track(client, nodeRedisAdapter, process.pid, captureStack(connect)), undefined);
        const outer = expecting;
        expecting = client.options?.socket?.tls ? undefined : client;
        try {
          return original.apply(this, arguments as any);
        } finally {
          if (expecting === client) expecting = outer;
        }
      },
    );
    wrapMethod(proto, 'emit', (original) =>
      function emit(this: NodeRedisClient, event: unknown) {
        const result = original.apply(this, arguments as any);
        if (event === 'reconnecting' && enabled()) {
          const client = selfOf(this);
          if (!client.options?.socket?.tls) {
            expecting = client;
            queueMicrotask(() => {
              if (expecting === client) expecting = undefined;
            });
          }
        }
        return result;
      },
    );
    if (!subscribed) {
      diagnosticsChannel().subscribe('net.client.socket', onClientSocket);
      subscribed = true;
    }
  },
  unpatch(exported: any) {
    const proto = exported?.default?.prototype;
    if (proto) {
      unwrapMethod(proto, 'connect');
      unwrapMethod(proto, 'emit');
    }
    if (subscribed) {
      diagnosticsChannel().unsubscribe('net.client.socket', onClientSocket);
      subscribed = false;
    }
  },
};
