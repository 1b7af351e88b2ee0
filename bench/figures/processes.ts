// Child processes that carry no database connection: spawn() and IPC send().
import { bare, blockRounds, sumMs, withAgent, workload } from '../measure';
import { atMost, compare, pick, ratiosOf, seriesOf } from './compare';
import type { Figure } from './types';

export const spawnLoop: Figure = {
  id: 'spawn',
  title: "spawn('true'), one after another",
  async run(ctx) {
    const plan = { sets: pick(ctx, 1, 2), runs: pick(ctx, 2, 8), blocks: pick(ctx, 2, 10), params: { count: 20 } };
    const total = plan.blocks * plan.params.count;
    const samples = await blockRounds(ctx, this.title, [bare, withAgent(ctx)], workload('spawn-loop.js'), plan, sumMs);
    return {
      id: this.id,
      title: this.title,
      settings: { ...plan, total, measured: `ms for ${total} spawns, in blocks of ${plan.params.count} taken in turn` },
      variants: seriesOf(samples),
      ratios: ratiosOf(samples),
      rows: [compare(`${this.title} ×${total}`, 'ms', samples, 'agent', '≤ 1.02', atMost(1.02))],
    };
  },
};

export function ipcSend(kind: 'objects' | 'sockets' | 'servers'): Figure {
  const what = { objects: 'objects', sockets: 'net.Socket handles', servers: 'net.Server handles' }[kind];
  return {
    id: `ipc-${kind}`,
    title: `IPC send() of ${what}`,
    async run(ctx) {
      const per = pick(ctx, kind === 'objects' ? 2000 : 20, kind === 'objects' ? 5000 : 100);
      const plan = { sets: pick(ctx, 1, 2), runs: pick(ctx, 2, 6), blocks: pick(ctx, 2, 5), params: { count: per } };
      const total = plan.blocks * per;
      const samples = await blockRounds(ctx, this.title, [bare, withAgent(ctx)], workload('ipc-send.js', '--kind', kind), plan, sumMs);
      return {
        id: this.id,
        title: this.title,
        settings: { ...plan, total, measured: `ms until the child has received ${total} messages, in blocks of ${per} taken in turn` },
        variants: seriesOf(samples),
        ratios: ratiosOf(samples),
        rows: [compare(`${this.title} ×${total}`, 'ms', samples, 'agent', kind === 'objects' ? '≤ 1.01' : '≤ 1.02', atMost(kind === 'objects' ? 1.01 : 1.02))],
      };
    },
  };
}

