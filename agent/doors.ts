import { readdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { internalError } from './boundary';
import { ANNOUNCE_CMD, takeParentManifest, type ManifestSocket } from './manifest';
import { clientSocketByFd, clientSocketOf } from './clients';
import { packageNameOf } from './packages';
import { ownerOf } from './registry';
import { enabled, settings } from './settings';
import { addressesOf, socketFd, socketIdentity } from './sockets';
import { readStack, type StackHolder } from './stacks';
import { raise, type Incident } from './raise';
import { ForkSafetyError, type ViolationKind } from './violations';

// The doors through which a client socket reaches a second process. Patches call these
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

/** A client socket at a door, and whose it is. */
export interface AtDoor {
  socket: Socket;
  /** The tracked driver that holds it, or the npm package whose file connected it. */
  driver: string;
  target: string;
  openedAt: StackHolder | undefined;
}

/**
 * What `candidate` (a socket, a TLS socket over it, its native handle, or a descriptor
 * number) is, when it is a client socket of this process that may not leave it: a tracked
 * driver's, or any other package's unless FORKSAFE_ALLOW names the package or the target.
 */
function atDoor(candidate: unknown): AtDoor | undefined {
  const found = typeof candidate === 'number' ? clientSocketByFd(candidate) : candidate !== null && typeof candidate === 'object' ? clientSocketOf(candidate) : undefined;
  if (!found) return undefined;
  const owner = ownerOf(found.socket);
  const o = owner?.entry.object();
  const at: AtDoor = owner
    ? {
        socket: found.socket,
        driver: owner.entry.adapter.driver,
        target: o ? owner.entry.adapter.target(o) : '<unknown>',
        openedAt: owner.socket.openedAt ?? owner.entry.openedAt,
      }
    : {
        socket: found.socket,
        driver: packageOf(found.client.openedAt),
        target: found.client.target,
        openedAt: found.client.openedAt,
      };
  const allow = settings().allow;
  if (allow.length > 0 && (allow.includes(at.driver) || allow.includes(found.client.target) || allow.includes(addressesOf(found.socket).remote))) return undefined;
  return at;
}

/** The package whose file called connect(): its package.json name. */
function packageOf(openedAt: StackHolder): string {
  const caller = readStack(openedAt).caller;
  return (caller && packageNameOf(caller)) ?? '<unknown package>';
}

/** Which public call it was; a function when finding out costs a stack, paid only on a violation. */
export type Api = string | (() => string);

function incidentOf(kind: ViolationKind, api: Api, at: AtDoor, what: string): Incident {
  const opened = readStack(at.openedAt);
  return {
    kind,
    api: typeof api === 'function' ? api() : api,
    driver: at.driver,
    target: at.target,
    socket: addressesOf(at.socket),
    openedAt: opened.frames,
    openedSite: opened.site,
    what,
  };
}

/**
 * `subprocess.send(msg, handle)`, `worker.send(...)`, `process.send(...)`. Returns the
 * tracked socket when it is let through (log mode), for the caller to announce.
 */
export function checkSend(api: Api, handle: unknown, skip: Function): AtDoor | undefined {
  if (handle === null || typeof handle !== 'object' || !enabled()) return undefined;
  let passed: AtDoor | undefined;
  door('checkSend', () => {
    const at = atDoor(handle);
    if (at) raise(incidentOf('handle-transfer', api, at, 'A connection\'s socket was handed to another process'), skip);
    passed = at;
  });
  return passed;
}

const NONE: readonly AtDoor[] = Object.freeze([]);

/**
 * The `stdio` option of every spawn: a tracked socket, or its descriptor number. Returns
 * the tracked sockets let through (log mode), for the child's manifest.
 */
export function checkStdio(api: Api, stdio: unknown, skip: Function): readonly AtDoor[] {
  if (!Array.isArray(stdio) || !enabled()) return NONE;
  // 'pipe', 'ignore', 'inherit', 'ipc', 0 to 2 (the usual stdio) cannot be a client socket:
  // only an object or another descriptor number is looked up.
  for (const item of stdio) if ((item !== null && typeof item === 'object') || (typeof item === 'number' && item > 2)) return socketsInStdio(api, stdio, skip);
  return NONE;
}

function socketsInStdio(api: Api, stdio: readonly unknown[], skip: Function): readonly AtDoor[] {
  const passed: AtDoor[] = [];
  door('checkStdio', () => {
    for (const item of stdio) {
      const at = atDoor(item);
      if (!at) continue;
      raise(incidentOf('stdio-inherit', api, at, 'A connection\'s socket was put in the stdio of a child process'), skip);
      passed.push(at);
    }
  });
  return passed;
}

// This process's parent, and the sockets it said it let through to us: those inherited
// at start-up (the manifest) and those announced over IPC just before a send().
let parentPid: number | undefined;
const parentSockets = new Map<string, ManifestSocket>();

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
  door('checkInheritedAtStartup', () => {
    const manifest = takeParentManifest();
    if (!manifest || !enabled()) return;
    parentPid = manifest.pid;
    for (const s of manifest.sockets) parentSockets.set(s.id, s);
    for (const fd of openDescriptors()) {
      const id = socketIdentity(fd);
      const s = id === undefined ? undefined : parentSockets.get(id);
      if (s) raise(inheritedIncident(s, manifest.pid, 'process start-up', `fd ${fd}`, 'inherited at start-up'), skip);
    }
  });
}

/** An internal IPC message: the parent announcing a socket it is about to send. */
export function noteAnnounced(message: unknown): void {
  const m = message as { cmd?: unknown; pid?: unknown; socket?: ManifestSocket } | null;
  if (m === null || typeof m !== 'object' || m.cmd !== ANNOUNCE_CMD || typeof m.socket?.id !== 'string') return;
  parentPid = typeof m.pid === 'number' ? m.pid : parentPid;
  parentSockets.set(m.socket.id, m.socket);
}

/** A handle a child received over IPC: is it one of its parent's sockets? */
export function checkReceived(handle: unknown, skip: Function): void {
  // Servers and other handles are not connections: only sockets have a remote end.
  if (parentSockets.size === 0 || handle === null || typeof handle !== 'object' || !('remoteAddress' in handle) || !enabled()) return;
  door('checkReceived', () => {
    const socket = handle as Socket;
    const fd = socketFd(socket);
    const id = fd === undefined ? undefined : socketIdentity(fd);
    let s = id === undefined ? undefined : parentSockets.get(id);
    if (!s && id === undefined) {
      // No identity to compare (no fstat of sockets here): the two ends' addresses will do.
      const { local, remote } = addressesOf(socket);
      for (const p of parentSockets.values()) if (local !== '' && p.local === local && p.remote === remote) s = p;
    }
    if (s) raise(inheritedIncident(s, parentPid ?? process.ppid, "process.on('message')", 'the IPC channel', 'received over IPC'), skip);
  });
}
