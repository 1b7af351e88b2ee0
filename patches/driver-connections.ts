import { Socket } from 'node:net';
import type { TrackedSocket } from '../agent/registry';
import { formatTarget, type TargetParts } from '../agent/target';

// The drivers' connections as ORMs hold them directly (knex, Sequelize): a pg Client or a
// mysql2 Connection, without the drivers' own pools around them.

const noop = (): void => undefined;

interface DriverConnection {
  /** pg Client: its socket is `connection.stream`. */
  connection?: { stream?: unknown };
  /** mysql2 Connection: its socket is `stream`. */
  stream?: unknown;
  /** pg Client. */
  connectionParameters?: TargetParts;
  /** mysql2 Connection. */
  config?: TargetParts;
}

/** The socket of a pg Client or a mysql2 Connection (TLS included); undefined for others (pg.native, sqlite). */
export function driverSocket(conn: unknown): Socket | undefined {
  if (conn === null || typeof conn !== 'object') return undefined;
  const c = conn as DriverConnection;
  const s = c.connection?.stream ?? c.stream;
  return s instanceof Socket ? s : undefined;
}

export function driverTarget(conn: unknown): string | undefined {
  if (conn === null || typeof conn !== 'object') return undefined;
  const p = (conn as DriverConnection).connectionParameters ?? (conn as DriverConnection).config;
  if (!p || typeof p !== 'object' || (p.host === undefined && p.socketPath === undefined)) return undefined;
  return formatTarget(p);
}

/**
 * Settles once a connection the library was asked to close has released its socket. The
 * library says goodbye to the server (pg Terminate, MySQL COM_QUIT) and the server closes;
 * if the library's close settles with the socket still open (it failed half-way, or called
 * back before the server closed), the socket is let go: after the bytes still queued on it.
 */
export function whenClosed(socket: Socket | undefined, libraryClose: Promise<unknown>): Promise<void> {
  if (!socket || socket.destroyed) return libraryClose.then(noop, noop);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  libraryClose.then(noop, noop).then(() => {
    if (socket.destroyed) return;
    if (socket.writableLength === 0) socket.destroy();
    else socket.end();
  });
  return closed;
}

export function socketsOf(resources: unknown[]): TrackedSocket[] {
  const out: TrackedSocket[] = [];
  for (const r of resources) {
    const socket = driverSocket(r);
    if (socket) out.push({ socket });
  }
  return out;
}

