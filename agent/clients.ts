import type { Socket } from 'node:net';
import { socketFd } from './sockets';
import type { StackHolder } from './stacks';

// Every client socket of this process, noted as it connects (net.Socket#connect, which
// net.connect, tls.connect and every driver go through). A socket accepted by a server
// never connects, so it is never here. Looking one up is a WeakMap read: a door costs the
// same with 10 sockets tracked as with 10,000.

export interface ClientSocket {
  /** The stack of the connect() call. */
  openedAt: StackHolder;
  /** What it connects to, as the caller named it: `host:port` or a socket path. */
  target: string;
  /** Its key in `all`. */
  id: number;
}

const clients = new WeakMap<object, ClientSocket>();
// For the rare look-up by descriptor number (a raw fd in stdio); swept as it grows, and a
// socket leaves it when it is destroyed: young-generation collections treat a WeakRef as
// strong, so a closed socket held here would live on (with its driver's connection) until a
// full collection. Keyed by a number that the socket's record keeps, not by the socket.
const all = new Map<number, WeakRef<Socket>>();
let nextId = 0;
let liveAfterSweep = 0;

/** The target of a connect() call, from its arguments as Node accepts them. */
function targetOf(args: readonly unknown[]): string {
  // net.connect() hands connect() its arguments already normalised: [[options, cb]].
  const [first, second] = Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  if (first !== null && typeof first === 'object') {
    const o = first as { path?: unknown; host?: unknown; port?: unknown };
    if (typeof o.path === 'string') return o.path;
    return hostPort(typeof o.host === 'string' ? o.host : 'localhost', o.port);
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return first; // a socket path
  return hostPort(typeof second === 'string' ? second : 'localhost', first);
}

function hostPort(host: string, port: unknown): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port === undefined ? '' : String(port)}`;
}

// A driver's own connect, while it runs: the stack it captured already serves the socket
// it connects (one capture per connect, not two).
let opening: StackHolder | undefined;

/** Runs `connect` (a tracked driver's) with `openedAt` as the stack of the sockets it connects. */
export function whileOpening<T>(openedAt: StackHolder | undefined, connect: () => T): T {
  const outer = opening;
  opening = openedAt;
  try {
    return connect();
  } finally {
    opening = outer;
  }
}

/** The stack a connecting socket gets: the driver's, while one is connecting, else `capture()`. */
export function openingStack(capture: () => StackHolder): StackHolder {
  return opening ?? capture();
}

export function noteConnect(socket: Socket, args: readonly unknown[], openedAt: StackHolder): void {
  const id = clients.get(socket)?.id ?? nextId++;
  clients.set(socket, { openedAt, target: targetOf(args), id });
  // A destroyed socket may connect again.
  if (all.has(id)) return;
  all.set(id, new WeakRef(socket));
  if (all.size > 2 * liveAfterSweep + 1024) sweep();
}

/** A socket being destroyed (net.Socket#_destroy): no longer one a descriptor can name. */
export function noteDestroy(socket: Socket): void {
  const id = clients.get(socket)?.id;
  if (id !== undefined) all.delete(id);
}

function sweep(): void {
  for (const [id, ref] of all) {
    const s = ref.deref();
    if (s === undefined || s.destroyed) all.delete(id);
  }
  liveAfterSweep = all.size;
}

let ownerKey: symbol | undefined;

/** The object (a net.Socket) that owns a libuv handle: Node keeps it under its internal `owner_symbol`. */
export function ownerOfHandle(handle: object): unknown {
  ownerKey ??= Object.getOwnPropertySymbols(handle).find((key) => key.description === 'owner_symbol');
  return ownerKey ? (handle as { [k: symbol]: unknown })[ownerKey] : undefined;
}

/** The client socket `candidate` is (itself, a TLS socket over it, or its native handle), if any. */
export function clientSocketOf(candidate: object): { socket: Socket; client: ClientSocket } | undefined {
  let s: unknown = candidate;
  for (let depth = 0; depth < 4 && s !== null && typeof s === 'object'; depth++) {
    const client = clients.get(s);
    if (client) return { socket: s as Socket, client };
    const next = (s as { _parent?: unknown })._parent;
    s = next !== null && typeof next === 'object' ? next : ownerOfHandle(s as object);
  }
  return undefined;
}

/** The client socket behind a descriptor number. */
export function clientSocketByFd(fd: number): { socket: Socket; client: ClientSocket } | undefined {
  // 0, 1 and 2 are stdio (`stdio: [0, 'pipe', 2]` is common): never a client socket here.
  if (fd <= 2) return undefined;
  for (const [id, ref] of all) {
    const s = ref.deref();
    if (s === undefined) {
      all.delete(id);
      continue;
    }
    if (!s.destroyed && socketFd(s) === fd) return { socket: s, client: clients.get(s)! };
  }
  return undefined;
}
