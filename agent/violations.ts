import type { Mode } from './config';

// `foreign-pid-use` (a connection used after a real fork(2)) is in the contract but not
// detected: a fork(2) of a Node 20 process could not be made to survive here, so the
// door could not be proven (see README, "What forksafe does not catch").
export type ViolationKind = 'handle-transfer' | 'stdio-inherit' | 'inherited-socket';

/** The test that was running, where a test runner's patch can tell (patches/jest-runtime.ts). */
export interface TestRef {
  file: string;
  /** The test's full name; absent outside a test (a file's top level, beforeAll). */
  name?: string;
}

export interface Violation {
  kind: ViolationKind;
  /** `FORKSAFE_<KIND>`, e.g. `FORKSAFE_HANDLE_TRANSFER`. */
  code: string;
  mode: Exclude<Mode, 'off'>;
  message: string;
  /** The call that let the socket reach another process, e.g. `ChildProcess.send`. */
  api: string;
  driver: string;
  target: string;
  socket: { local: string; remote: string };
  /** The violating call's first frame in user code, `file:line:col`. */
  site: string;
  /** Stack of the violating call. */
  stack: string;
  /** Stack where the connection (or its pool) was opened. */
  openedAt: string;
  /** Its first frame in user code, `file:line:col`. */
  openedSite: string;
  /** The test running when it happened: only under a runner whose patch names it. */
  test?: TestRef;
  pid: number;
  time: string;
}

export function codeOf(kind: ViolationKind): string {
  return 'FORKSAFE_' + kind.toUpperCase().replace(/-/g, '_');
}

/** Thrown in strict mode by the call that would let a database socket reach another process. */
export class ForkSafetyError extends Error {
  override name = 'ForkSafetyError';
  readonly code: string;
  readonly violation: Violation;
  constructor(violation: Violation) {
    super(violation.message);
    this.code = violation.code;
    this.violation = violation;
  }
}

export type ViolationListener = (violation: Violation) => void;

// Looked up when there is something to publish: loading diagnostics_channel costs start-up,
// and a channel found by name is the one subscribers hold.
function violationChannel(): import('node:diagnostics_channel').Channel {
  return (require('node:diagnostics_channel') as typeof import('node:diagnostics_channel')).channel('forksafe:violation');
}

// What this process recorded: bounded, so a loop that violates forever cannot grow memory.
const MAX_KEPT = 1000;
const recorded: Violation[] = [];
const listeners = new Set<ViolationListener>();

export function remember(v: Violation): void {
  if (recorded.length >= MAX_KEPT) recorded.shift();
  recorded.push(v);
}

export function violations(): Violation[] {
  return recorded.slice();
}

export function onViolation(listener: ViolationListener): () => void {
  if (typeof listener !== 'function') {
    throw new TypeError(`onViolation(listener) takes a function, got ${listener === null ? 'null' : typeof listener}`);
  }
  // A wrapper per call, so the same function added twice is removed once per unsubscribe.
  const entry: ViolationListener = (v) => listener(v);
  listeners.add(entry);
  return () => void listeners.delete(entry);
}

/** Listeners are the app's code: an error of theirs is thrown on the next tick, as diagnostics_channel does. */
export function publish(v: Violation): void {
  for (const listener of listeners) {
    try {
      listener(v);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }
  const ch = violationChannel();
  if (ch.hasSubscribers) ch.publish(v);
}
