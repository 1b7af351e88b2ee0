import { debuglog } from 'node:util';

// The agent's error boundary: nothing the agent does wrong reaches the application.

/** `NODE_DEBUG=forksafe` lines. */
export const debug = debuglog('forksafe');

const reported = new Set<string>();

/**
 * An error of the agent itself: never reaches the application. It is logged once per
 * place through the debug log, and the caller carries on as if the agent were absent.
 */
export function internalError(where: string, err: unknown): void {
  if (reported.has(where)) return;
  reported.add(where);
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  debug('internal error in %s, ignored (the application is not affected): %s', where, text);
}

/** Runs `fn`, turning any throw into an internal error and `fallback`. */
export function guard<T>(where: string, fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (err) {
    internalError(where, err);
    return fallback;
  }
}

const said = new Set<string>();

/**
 * Something the user must know even without NODE_DEBUG (a report that cannot be written):
 * one line on stderr, once per `key` in this process.
 */
export function sayOnce(key: string, line: string): void {
  if (said.has(key)) return;
  said.add(key);
  try {
    process.stderr.write(`forksafe: ${line}\n`);
  } catch {
    // stderr itself is gone: nothing more can be said
  }
}

/** Why a system call failed, in a few words: `ENOSPC`, `EACCES`, … */
export function reasonOf(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? (err instanceof Error ? err.message : String(err));
}
