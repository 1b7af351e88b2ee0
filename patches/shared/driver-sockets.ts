import { Socket } from 'node:net';
import type { Counts, TrackedSocket } from '../../agent/registry';
import { formatTarget, type TargetParts } from '../../agent/target';

// Where the drivers keep a connection's socket and its settings, for every patch that holds
// their connections: the drivers' own pools (pg.ts, mysql2.ts, mysql.ts, mariadb.ts) and the
// ORMs that pool the drivers' connections themselves (knex.ts, sequelize.ts).

interface DriverConnection {
  /** pg Client: its socket is `connection.stream` (pg/lib/connection.js, every 8.x). */
  connection?: { stream?: unknown };
  /** mysql2 Connection: its socket is `stream` (lib/connection.js, lib/base/connection.js). */
  stream?: unknown;
  /** pg Client. */
  connectionParameters?: TargetParts;
  /** mysql2 Connection. */
  config?: TargetParts;
}

/**
 * The socket of a pg Client or a mysql2 Connection (a TLSSocket after an SSL upgrade is a
 * Socket too); undefined for anything else: pg.native (libpq holds its socket), a
 * Cloudflare socket, sqlite, or a connection whose socket is not made yet.
 */
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
 * The open sockets of these connections, skipping those that have none; `socketOf` says
 * where a driver keeps it (pg's and mysql2's place by default).
 */
export function socketsOf<C>(connections: Iterable<C>, socketOf: (c: C) => unknown = driverSocket): TrackedSocket[] {
  const out: TrackedSocket[] = [];
  for (const c of connections) {
    const socket = c === null || c === undefined ? undefined : socketOf(c);
    if (socket instanceof Socket && !socket.destroyed) out.push({ socket });
  }
  return out;
}

/** One set of counts for a tracked object made of several pools (a mysql2 cluster, Sequelize's read and write pools). */
export function sumCounts(counts: Iterable<Counts>): Counts {
  const sum: Counts = { total: 0, idle: 0, active: 0 };
  for (const c of counts) {
    sum.total += c.total;
    sum.idle += c.idle;
    sum.active += c.active;
  }
  return sum;
}
