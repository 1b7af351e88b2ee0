// Resident memory of an app holding 100 pooled connections.
import type { Once } from '../processes';
import { bare, processRounds, withAgent, workload } from '../measure';
import { difference, paired } from '../stats';
import { compare, pick, ratiosOf, seriesOf } from './compare';
import type { Figure } from './types';

export const residentMemory: Figure = {
  id: 'rss',
  title: 'RSS after gc, 100 pooled conns',
  async run(ctx) {
    const pairs = pick(ctx, 1, 10);
    const samples = await processRounds(
      ctx, this.title, [bare, withAgent(ctx)],
      workload('rss.js', '--pg-pools', 5, '--mysql-pools', 5, '--per-pool', 10), pairs,
      (r: Once) => r.json.rssMB, { extraNode: ['--expose-gc'] },
    );
    const delta = paired(samples.agent!, samples.bare!, difference);
    const row = compare(`${this.title} (5 pg + 5 mysql2 pools × 10)`, 'MB', samples, 'agent', '≤ +1 MB', () => (delta.median <= 1 ? 'PASS' : 'MISS'));
    return {
      id: this.id,
      title: this.title,
      settings: { pairs, pools: '5 pg + 5 mysql2 pools of 10, all connections open and idle', measured: 'process.memoryUsage().rss after global.gc(), in MB' },
      variants: seriesOf(samples),
      ratios: ratiosOf(samples),
      extra: { delta },
      rows: [{ ...row, delta }],
    };
  },
};

