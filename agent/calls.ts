// Which public call is running, for the `api` of a violation: the outermost wrapper of a
// public function (`child_process.exec` calls execFile, which calls spawn) names it, and
// the inner door reads it. Cheaper and surer than reading Node's frame names off a stack.

let current: string | undefined;

/** Runs `fn` as the public call `api`, unless an outer public call is already running. */
export function asCall<T>(api: string, fn: () => T): T {
  return callAs(api, fn, undefined, []) as T;
}

/** `fn.apply(self, args)` as the public call `api`: asCall without a closure to make per call. */
export function callAs(api: string, fn: Function, self: unknown, args: ArrayLike<unknown>): unknown {
  if (current !== undefined) return fn.apply(self, args);
  current = api;
  try {
    return fn.apply(self, args);
  } finally {
    current = undefined;
  }
}

/** The public call running now, or `fallback` when it was reached another way. */
export function currentCall(fallback: string): string {
  return current ?? fallback;
}
