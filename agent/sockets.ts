import { fstatSync } from 'node:fs';
import type { Socket } from 'node:net';

// A TLS connection is a TLSSocket wrapped around the TCP socket that owns the descriptor
// (`_parent`, set by tls.connect({ socket })); pg upgrades in place and replaces its
// stream, so the same connection may be seen through either object.
interface MaybeWrapped {
  _parent?: unknown;
  _handle?: { fd?: number } | null;
}

/** The TCP (or Unix) socket that owns the descriptor, under any TLS wrapping. */
export function rawSocket(socket: Socket): Socket {
  let s = socket as Socket & MaybeWrapped;
  while (s._parent && typeof s._parent === 'object') s = s._parent as Socket & MaybeWrapped;
  return s;
}

/** The descriptor behind a socket, or undefined (closed, not yet connected, or not Unix). */
export function socketFd(socket: Socket): number | undefined {
  const fd = (rawSocket(socket) as Socket & MaybeWrapped)._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** True when `candidate` (a socket, a TLS socket over it, or its native handle) is `socket`. */
export function sameSocket(socket: Socket, candidate: unknown): boolean {
  if (candidate === null || typeof candidate !== 'object') return false;
  if (candidate === socket) return true;
  const raw = rawSocket(socket) as Socket & MaybeWrapped;
  if (candidate === raw || candidate === raw._handle) return true;
  return rawSocket(candidate as Socket) === raw;
}

export interface SocketAddresses {
  local: string;
  remote: string;
}

function hostPort(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return '';
  const host = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}

/** `ip:port` of both ends (the path for a Unix socket); '' for an end Node does not know. */
export function addressesOf(socket: Socket): SocketAddresses {
  const raw = rawSocket(socket);
  try {
    return {
      local: hostPort(raw.localAddress, raw.localPort),
      remote: raw.remoteAddress === undefined ? ((raw as unknown as { _pipeName?: string })._pipeName ?? '') : hostPort(raw.remoteAddress, raw.remotePort),
    };
  } catch {
    return { local: '', remote: '' };
  }
}

/**
 * The identity of the open socket behind a descriptor (device and inode of sockfs): equal
 * in two processes exactly when they hold the same socket, whatever the fd numbers.
 */
export function socketIdentity(fd: number): string | undefined {
  try {
    const st = fstatSync(fd);
    return st.isSocket() ? `${st.dev}:${st.ino}` : undefined;
  } catch {
    return undefined;
  }
}
