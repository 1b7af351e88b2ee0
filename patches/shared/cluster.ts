import type { Adapter, Closing, TrackedSocket } from '../../agent/registry';
import { sumCounts } from './driver-sockets';

/**
 * The adapter of a cluster of pools (mysql2's and mysql's PoolCluster): its pools'
 * targets, counts, idle connections and sockets, together. `ended`: closed for good.
 */
export function clusterOf<C extends object, P extends object>(pool: Adapter<P>, poolsOf: (cluster: C) => P[], ended: (cluster: C) => boolean): Adapter<C> {
  return {
    driver: pool.driver,
    kind: 'cluster',
    target: (cluster) => [...new Set(poolsOf(cluster).map((p) => pool.target(p)))].join(',') || '(no nodes)',
    counts: (cluster) => sumCounts(poolsOf(cluster).map((p) => pool.counts(p))),
    disconnectIdle: (cluster): Closing => {
      const all = ended(cluster) || !pool.disconnectIdle ? [] : poolsOf(cluster).map((p) => pool.disconnectIdle!(p));
      return { closed: all.reduce((n, c) => n + c.closed, 0), settled: all.flatMap((c) => c.settled) };
    },
    sockets: (cluster): TrackedSocket[] => poolsOf(cluster).flatMap((p) => [...pool.sockets(p)]),
    ended,
  };
}
