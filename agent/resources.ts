import type { Socket } from 'node:net';
import { track, untrack, type Adapter } from './registry';
import { captureStack } from './stacks';

/** Anything else an app wants closed before a fork and watched by the detection doors. */
export interface Resource {
  /** Shown as `driver` and `target` in databases() and in reports. */
  name: string;
  /** Closes what is idle; returns how many connections it closed (or nothing). */
  disconnect(): number | void;
  /** The sockets it holds, for the detection doors. */
  sockets?(): Socket[];
}

const adapter: Adapter<Resource> = {
  driver: 'custom',
  kind: 'pool',
  target: (r) => r.name,
  counts: (r) => {
    const total = r.sockets ? r.sockets().length : 0;
    return { total, idle: 0, active: total };
  },
  disconnectIdle: (r) => {
    const n = r.disconnect();
    return { closed: typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0, settled: [] };
  },
  sockets: (r) => (r.sockets ? r.sockets().map((socket) => ({ socket })) : []),
  ended: () => false,
};

function fail(what: string): never {
  throw new TypeError(`forksafe.register(resource): ${what}; accepted: { name: string, disconnect(): number | void, sockets?(): net.Socket[] }`);
}

export function register(resource: Resource): () => void {
  if (resource === null || typeof resource !== 'object') fail(`resource must be an object, got ${resource === null ? 'null' : typeof resource}`);
  if (typeof resource.name !== 'string' || resource.name === '') fail('resource.name must be a non-empty string');
  if (typeof resource.disconnect !== 'function') fail('resource.disconnect must be a function');
  if (resource.sockets !== undefined && typeof resource.sockets !== 'function') fail('resource.sockets, when given, must be a function');
  // The app keeps no other reference to an inline resource: hold it strongly until unregistered.
  track(resource, adapter, process.pid, captureStack(register), true);
  return () => untrack(resource);
}
