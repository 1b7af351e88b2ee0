import type { Cluster, Worker } from 'node:cluster';
import { asCall } from '../agent/calls';
import { aroundFork } from '../agent/fork-policy';
import type { BuiltinPatch } from '../agent/patching';
import { unwrapMethod, wrapMethod } from '../agent/wrap';

// Node's cluster primary took its own reference to child_process.fork when it loaded, so
// whether cluster.fork reaches our child_process.fork depends on load order: cluster.fork
// is wrapped by itself, and the fork policy makes the pre-fork step run once per fork.
// worker.send() delegates to the child's send, which the child_process patch watches; it
// is wrapped only to name the call.
export const clusterPatch: BuiltinPatch = {
  builtin: 'cluster',
  patch(cluster: Cluster & { Worker?: { prototype: Worker } }) {
    // Only a primary forks; in a worker, cluster.fork does not exist.
    if (typeof cluster.fork === 'function') wrapMethod(cluster, 'fork', (original) =>
      function fork(this: unknown) {
        const command = (cluster.settings as { exec?: string } | undefined)?.exec ?? process.argv[1];
        return asCall('cluster.fork', () =>
          aroundFork('cluster.fork', command, () => original.apply(this, arguments as any), (w: Worker) => w?.process?.pid),
        );
      },
    );
    if (cluster.Worker?.prototype) {
      wrapMethod(cluster.Worker.prototype, 'send', (original) =>
        function send(this: Worker) {
          return asCall('Worker.send', () => original.apply(this, arguments as any));
        },
      );
    }
  },
  unpatch(cluster: Cluster & { Worker?: { prototype: Worker } }) {
    unwrapMethod(cluster, 'fork');
    if (cluster.Worker?.prototype) unwrapMethod(cluster.Worker.prototype, 'send');
  },
};
