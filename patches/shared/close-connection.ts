import type { Socket } from 'node:net';
import { internalError } from '../../agent/boundary';

/**
 * How long a connection gets to close after its goodbye before its socket is destroyed.
 * A server that answers closes within a round trip of reading the goodbye (PostgreSQL
 * Terminate, MySQL COM_QUIT): well under a millisecond on loopback, a few on a LAN. One
 * that has stopped answering (a dead host, a hung proxy, a dropped route) would otherwise
 * hold `disconnectAll().settled`, and with it the fork, until TCP gives up many minutes
 * later. Two seconds is far beyond any healthy close and short enough for a fork to wait.
 */
export const GOODBYE_DEADLINE_MS = 2000;

const noop = (): void => undefined;

/**
 * The one way forksafe closes a connection: `goodbye` closes it as its library does (pg-pool's
 * _remove, mysql2's _realEnd, knex's and Sequelize's destroy), which writes the protocol's
 * own goodbye; the promise settles once the socket has closed (the server has read the
 * goodbye and closed its side), or once GOODBYE_DEADLINE_MS have passed and the socket has
 * been destroyed. Without a socket to watch, it settles when the promise `goodbye` returns
 * settles, or at the same deadline. It never rejects.
 *
 * The socket is corked while `goodbye` runs, so what it writes is queued now and written on
 * the next tick: on loopback every write that reaches the server wakes its backend inside
 * the syscall (0.1 to 1 ms each, measured), and a fork must not wait for one per connection.
 *
 * A `goodbye` that throws is an error of the agent (the patch checked the library's shape
 * first): it is reported once and the connection is left as it was. One whose promise
 * rejects has failed half-way: the socket is ended after the bytes queued on it.
 */
export function closeConnection(socket: Socket | undefined, goodbye: () => unknown): Promise<void> {
  if (!socket || socket.destroyed) {
    // No socket to watch (pg.native, or already gone): the library's own word is all there
    // is, and it gets the same deadline.
    try {
      const said = Promise.resolve(goodbye()).then(noop, noop);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, GOODBYE_DEADLINE_MS).unref()));
      return Promise.race([said, deadline]).then(() => clearTimeout(timer));
    } catch (err) {
      internalError('close a connection', err);
      return Promise.resolve();
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  // Unreferenced: the open socket keeps the process alive for as long as it matters.
  timer = setTimeout(() => socket.destroy(), GOODBYE_DEADLINE_MS).unref();
  socket.cork();
  let said: unknown;
  try {
    said = goodbye();
  } catch (err) {
    clearTimeout(timer);
    internalError('close a connection', err);
    return Promise.resolve();
  } finally {
    process.nextTick(() => socket.uncork());
  }
  if (said !== null && typeof (said as PromiseLike<unknown>)?.then === 'function') {
    Promise.resolve(said).then(noop, () => {
      if (!socket.destroyed) socket.end();
    });
  }
  return closed;
}
