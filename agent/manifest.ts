import type { AtDoor } from './doors';
import { addressesOf, socketFd, socketIdentity } from './sockets';
import { readStack } from './stacks';

// What a child is told about its parent's sockets: only those that went through a door on
// their way to it, never the whole registry (whose size is unbounded: 2,000 sockets once
// made every spawn fail with E2BIG). Identities and addresses only, never a password or a
// connection string.
// - in FORKSAFE_PARENT_SOCKETS, the sockets put in this spawn's stdio: Node opens every
//   other descriptor close-on-exec, so no other socket of the parent can be inherited;
// - over the IPC channel, just before a socket handed to the child with send(): an
//   internal message (`cmd: 'NODE_…'`, which Node routes to 'internalMessage', never to
//   the application's 'message' listeners).
export const MANIFEST_ENV = 'FORKSAFE_PARENT_SOCKETS';
export const ANNOUNCE_CMD = 'NODE_FORKSAFE_SOCKET';

export interface ManifestSocket {
  /** `dev:ino` of the socket: equal in the child exactly when it holds the same socket. */
  id: string;
  driver: string;
  target: string;
  local: string;
  remote: string;
  /** The user's place where it was opened, `file:line:col`. */
  openedAt: string;
}

export interface Manifest {
  pid: number;
  sockets: ManifestSocket[];
}

// A socket's identity, addresses and opening site do not change while it is open: each is
// worked out once (an fstat and two address look-ups).
const entries = new WeakMap<object, ManifestSocket>();

export function entryOf(at: AtDoor): ManifestSocket | undefined {
  const socket = at.socket;
  const known = entries.get(socket);
  if (known) return known;
  const fd = socketFd(socket);
  const id = fd === undefined ? undefined : socketIdentity(fd);
  if (id === undefined) return undefined; // not connected yet: asked again next time
  const entry: ManifestSocket = {
    id,
    driver: at.driver,
    target: at.target,
    ...addressesOf(socket),
    openedAt: readStack(at.openedAt).site,
  };
  entries.set(socket, entry);
  return entry;
}

/** The manifest of the sockets a spawn lets through, for its environment; undefined when there is none. */
export function manifestOf(passed: readonly AtDoor[]): string | undefined {
  const sockets = passed.map(entryOf).filter((e): e is ManifestSocket => e !== undefined);
  return sockets.length ? JSON.stringify({ pid: process.pid, sockets } satisfies Manifest) : undefined;
}

/** The internal IPC message that tells a child about the socket sent right after it. */
export function announcement(found: AtDoor): { cmd: string; pid: number; socket: ManifestSocket } | undefined {
  const socket = entryOf(found);
  return socket && { cmd: ANNOUNCE_CMD, pid: process.pid, socket };
}

/** The parent's manifest, read once: this process's own children get one of its sockets, not of its parent's. */
export function takeParentManifest(): Manifest | undefined {
  const text = process.env[MANIFEST_ENV];
  if (text === undefined) return undefined;
  delete process.env[MANIFEST_ENV];
  return JSON.parse(text) as Manifest;
}
