import type { Cluster, Worker } from 'node:cluster';
import { aroundFork } from '../agent/fork-policy';
import type { BuiltinPatch } from '../agent/patching';
import { unwrapMethod, wrapMethod } from '../agent/wrap';

// Node's cluster primary took its own reference to child_process.fork when it loaded, so
// whether cluster.fork reaches our child_process.fork depends on load order: cluster.fork
// is wrapped by itself, and the fork policy makes the pre-fork step run once per fork.
export const clusterPatch: BuiltinPatch = {
  builtin: 'cluster',
  patch(cluster: Cluster) {
    // Only a primary forks; in a worker, cluster.fork does not exist.
    wrapMethod(cluster, 'fork', (original) =>
      function fork(this: unknown) {
        return aroundFork('cluster.fork', () => original.apply(this, arguments as any), (w: Worker) => w?.process?.pid);
      },
    );
  },
  unpatch(cluster: Cluster) {
    unwrapMethod(cluster, 'fork');
  },
};
