import type { Socket } from 'node:net';
import { closeConnection } from './close-connection';

/**
 * The former name of the closing rule, for the patches that still call it (mariadb.ts,
 * mysql.ts): `closing` is the library's close, already under way. It is the same rule as
 * closeConnection (settles on the socket's close, destroys it at GOODBYE_DEADLINE_MS);
 * new code calls closeConnection with the goodbye itself, so the socket is corked while
 * the goodbye is written.
 */
export function whenClosed(socket: Socket | undefined, closing: Promise<unknown>): Promise<void> {
  return closeConnection(socket, () => closing);
}
