// Start-up: an empty program, and an app that loads both drivers, with and without `-r`.
import type { Once } from '../processes';
import { bare, processRounds, withAgent, workload } from '../measure';
import { difference, paired } from '../stats';
import { atMost, compare, pick, ratiosOf, seriesOf } from './compare';
import type { Figure } from './types';

export const startupEmpty: Figure = {
  id: 'startup-empty',
  title: 'start-up: node -e 0',
  async run(ctx) {
    const pairs = pick(ctx, 5, 40);
    const samples = await processRounds(ctx, this.title, [bare, withAgent(ctx)], ['-e', '0'], pairs, (r: Once) => r.wallMs);
    const delta = paired(samples.agent!, samples.bare!, difference);
    const row = compare(this.title, 'ms', samples, 'agent', '≤ +3 ms', () => (delta.median <= 3 ? 'PASS' : 'MISS'));
    return { id: this.id, title: this.title, settings: { pairs, measured: 'wall time from spawn to exit, in the orchestrator' }, variants: seriesOf(samples), ratios: ratiosOf(samples), extra: { delta }, rows: [{ ...row, delta }] };
  },
};

export const startupDrivers: Figure = {
  id: 'startup-drivers',
  title: 'start-up: require pg + mysql2, exit',
  async run(ctx) {
    const pairs = pick(ctx, 3, 30);
    const samples = await processRounds(ctx, this.title, [bare, withAgent(ctx)], workload('require-drivers.js'), pairs, (r: Once) => r.wallMs);
    const row = compare(this.title, 'ms', samples, 'agent', '≤ 1.02', atMost(1.02));
    return { id: this.id, title: this.title, settings: { pairs, measured: 'wall time from spawn to exit, in the orchestrator' }, variants: seriesOf(samples), ratios: ratiosOf(samples), rows: [row] };
  },
};

