import type { Found } from './registry';
import { allSockets } from './registry';
import { addressesOf, socketFd, socketIdentity } from './sockets';
import { readStack } from './stacks';

// What a child is told about its parent's database sockets, in FORKSAFE_PARENT_SOCKETS:
// identities and addresses only, never a password or a connection string.
export const MANIFEST_ENV = 'FORKSAFE_PARENT_SOCKETS';

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
// worked out once (an fstat and two address look-ups), not on every spawn.
const entries = new WeakMap<object, ManifestSocket>();

function entryOf(found: Found): ManifestSocket | undefined {
  const socket = found.socket.socket;
  const known = entries.get(socket);
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
  entries.set(socket, entry);
  return entry;
}

/** The manifest of this process's tracked sockets, for a child's environment; undefined when there is none. */
export function buildManifest(): string | undefined {
  const sockets: ManifestSocket[] = [];
  for (const found of allSockets()) {
    const entry = entryOf(found);
    if (entry) sockets.push(entry);
  }
  return sockets.length ? JSON.stringify({ pid: process.pid, sockets } satisfies Manifest) : undefined;
}

/** The parent's manifest, read once: this process's own children get a manifest of its sockets, not of its parent's. */
export function takeParentManifest(): Manifest | undefined {
  const text = process.env[MANIFEST_ENV];
  if (text === undefined) return undefined;
  delete process.env[MANIFEST_ENV];
  return JSON.parse(text) as Manifest;
}
