import { readdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { internalError } from './debug';
import { allSockets, findSocket, type Found } from './registry';
import { enabled } from './settings';
import { addressesOf, socketFd, socketIdentity } from './sockets';
import { readStack } from './stacks';
import { violate, type Incident } from './violate';
import { ForkSafetyError, type ViolationKind } from './violations';

// The doors through which a database socket reaches a second process. Patches call these
// from their wrappers; each returns normally when nothing is wrong, throws ForkSafetyError
// in strict mode, and keeps any error of its own away from the application.

function door(where: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof ForkSafetyError) throw err;
    internalError(where, err);
  }
}

/** Which public call it was; a function when finding out costs a stack, paid only on a violation. */
export type Api = string | (() => string);

function incidentOf(kind: ViolationKind, api: Api, found: Found, what: string): Incident {
  const { entry, socket } = found;
  const o = entry.object();
  const opened = readStack(socket.openedAt ?? entry.openedAt);
  return {
    kind,
    api: typeof api === 'function' ? api() : api,
    driver: entry.adapter.driver,
    target: o ? entry.adapter.target(o) : '<unknown>',
    socket: addressesOf(socket.socket),
    openedAt: opened.frames,
    openedSite: opened.site,
    what,
  };
}

/** `subprocess.send(msg, handle)`, `worker.send(...)`, `process.send(...)`. */
export function checkSend(api: Api, handle: unknown, skip: Function): void {
  if (handle === null || typeof handle !== 'object' || !enabled()) return;
  door('checkSend', () => {
    const found = findSocket(handle);
    if (found) violate(incidentOf('handle-transfer', api, found, 'A connection\'s socket was handed to another process'), skip);
  });
}

/** The `stdio` option of every spawn: a tracked socket, or its descriptor number. */
export function checkStdio(api: Api, stdio: unknown, skip: Function): void {
  if (!Array.isArray(stdio) || !enabled()) return;
  door('checkStdio', () => {
    for (const item of stdio) {
      if (typeof item !== 'number' && (item === null || typeof item !== 'object')) continue;
      const found = findSocket(item);
      if (found) violate(incidentOf('stdio-inherit', api, found, 'A connection\'s socket was put in the stdio of a child process'), skip);
    }
  });
}

// What a child is told about its parent's database sockets, in FORKSAFE_PARENT_SOCKETS:
// identities and addresses only, never a password or a connection string.
export const MANIFEST_ENV = 'FORKSAFE_PARENT_SOCKETS';

interface ManifestSocket {
  /** `dev:ino` of the socket: equal in the child exactly when it holds the same socket. */
  id: string;
  driver: string;
  target: string;
  local: string;
  remote: string;
  openedAt: string;
}

interface Manifest {
  pid: number;
  sockets: ManifestSocket[];
}

// A socket's identity, addresses and opening site do not change while it is open: each is
// worked out once (an fstat and two address look-ups), not on every spawn.
const described = new WeakMap<object, ManifestSocket>();

function describe(found: Found): ManifestSocket | undefined {
  const socket = found.socket.socket;
  const known = described.get(socket);
  if (known) return known;
  const fd = socketFd(socket);
  const id = fd === undefined ? undefined : socketIdentity(fd);
  if (id === undefined) return undefined; // not connected yet: asked again next time
  const o = found.entry.object();
  const entry: ManifestSocket = {
    id,
    driver: found.entry.adapter.driver,
    target: o ? found.entry.adapter.target(o) : '<unknown>',
    ...addressesOf(socket),
    openedAt: readStack(found.socket.openedAt ?? found.entry.openedAt).site,
  };
  described.set(socket, entry);
  return entry;
}

export function buildManifest(): string | undefined {
  const sockets: ManifestSocket[] = [];
  for (const found of allSockets()) {
    const entry = describe(found);
    if (entry) sockets.push(entry);
  }
  return sockets.length ? JSON.stringify({ pid: process.pid, sockets } satisfies Manifest) : undefined;
}

let parentSockets: Manifest | undefined;

function inheritedIncident(s: ManifestSocket, parent: number, api: string, site: string, how: string): Incident {
  return {
    site,
    kind: 'inherited-socket',
    api,
    driver: s.driver,
    target: s.target,
    socket: { local: s.local, remote: s.remote },
    openedAt: `    at ${s.openedAt}`,
    openedSite: s.openedAt,
    what: `This process (pid ${process.pid}) ${how} a connection of its parent (pid ${parent})`,
  };
}

function openDescriptors(): number[] {
  for (const dir of ['/proc/self/fd', '/dev/fd']) {
    try {
      return readdirSync(dir).map(Number).filter((n) => Number.isInteger(n));
    } catch {
      // try the next place
    }
  }
  return [];
}

/** At start-up in a child: does it hold a database socket of its parent? */
export function checkInheritedAtStartup(skip: Function): void {
  const text = process.env[MANIFEST_ENV];
  if (text === undefined) return;
  // Read once: our own children get a manifest of our sockets, not of our parent's.
  delete process.env[MANIFEST_ENV];
  door('checkInheritedAtStartup', () => {
    parentSockets = JSON.parse(text) as Manifest;
    if (!enabled()) return;
    const byId = new Map(parentSockets.sockets.map((s) => [s.id, s]));
    for (const fd of openDescriptors()) {
      const id = socketIdentity(fd);
      const s = id === undefined ? undefined : byId.get(id);
      if (s) violate(inheritedIncident(s, parentSockets.pid, 'process start-up', `fd ${fd}`, 'inherited at start-up'), skip);
    }
  });
}

/** A handle a child received over IPC: is it one of its parent's database sockets? */
export function checkReceived(handle: unknown, skip: Function): void {
  // Servers and other handles are not connections: only sockets have a remote end.
  if (!parentSockets || handle === null || typeof handle !== 'object' || !('remoteAddress' in handle) || !enabled()) return;
  door('checkReceived', () => {
    const socket = handle as Socket;
    const fd = socketFd(socket);
    const id = fd === undefined ? undefined : socketIdentity(fd);
    let s = id === undefined ? undefined : parentSockets!.sockets.find((p) => p.id === id);
    if (!s && id === undefined) {
      // No identity to compare (no fstat of sockets here): the two ends' addresses will do.
      const { local, remote } = addressesOf(socket);
      s = parentSockets!.sockets.find((p) => local !== '' && p.local === local && p.remote === remote);
    }
    if (s) violate(inheritedIncident(s, parentSockets!.pid, "process.on('message')", 'the IPC channel', 'received over IPC'), skip);
  });
}
