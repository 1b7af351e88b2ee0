import { debuglog } from 'node:util';

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
