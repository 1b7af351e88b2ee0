import { readlinkSync } from 'node:fs';

// `process.pid` is read once at start-up, so after a real fork(2) (from a native addon or
// FFI) the child still reports its parent's pid. `process.ppid` asks the kernel on every
// read: in such a child it is the parent's pid, that is, the very value `process.pid`
// holds. That makes the common case one cheap getppid() call.

let knownPpid = process.ppid;

function kernelPid(): number | undefined {
  try {
    return Number(readlinkSync('/proc/self'));
  } catch {
    return undefined; // no procfs: the ppid test alone decides
  }
}

/** True when this code runs in a process made by a real fork(2) of the one that started Node. */
export function isForkedCopy(): boolean {
  const ppid = process.ppid;
  if (ppid === knownPpid) return false;
  if (ppid === process.pid) return true;
  // Re-parented (our parent exited) or forked from a process whose parent has exited.
  const real = kernelPid();
  if (real === undefined || real === process.pid) {
    knownPpid = ppid;
    return false;
  }
  return true;
}

/** The pid of the running process, right even in a raw fork(2) child. */
export function currentPid(): number {
  if (!isForkedCopy()) return process.pid;
  return kernelPid() ?? -1;
}
