import { debug, guard } from './boundary';
import { databases, disconnectAll } from './registry';
import { reportPath, writeRecord } from './report';
import { enabled, settings } from './settings';

export type ForkApi = 'cluster.fork' | 'child_process.fork';

// cluster.fork may or may not go through child_process.fork (Node's cluster primary keeps
// its own reference to fork, taken when cluster loaded), so both are wrapped and the
// outermost call does the work: once per fork.
let forking = false;

/**
 * Runs the pre-fork step (the registry-wide idle disconnect, unless onFork is 'keep'),
 * then the fork itself; its errors reach the caller untouched. `command` is the forked
 * module's path, when the caller knows it.
 */
export function aroundFork<T>(api: ForkApi, command: string | undefined, fork: () => T, childPid: (child: T) => number | undefined): T {
  if (forking || !enabled()) return fork();
  forking = true;
  try {
    const start = process.hrtime.bigint();
    const pre =
      settings().onFork === 'disconnect'
        ? guard('disconnectAll before fork', disconnectAll, undefined)
        : undefined;
    const ms = Math.round(Number(process.hrtime.bigint() - start) / 1e3) / 1e3;
    if (pre) debug('before %s: %d pools, %d closed, %d kept, %d ms', api, pre.pools, pre.closed, pre.kept, ms);
    else debug('before %s: nothing closed (FORKSAFE_ON_FORK=%s)', api, settings().onFork);
    const child = fork();
    if (reportPath() !== undefined) {
      const kept = pre ? pre.kept : guard('fork record', () => databases().reduce((n, d) => n + d.total, 0), 0);
      const pid = guard('fork record', () => childPid(child), undefined);
      writeRecord({ type: 'fork', api, childPid: pid, command, pools: pre?.pools ?? 0, closed: pre?.closed ?? 0, kept, ms, onFork: settings().onFork });
    }
    return child;
  } finally {
    forking = false;
  }
}
