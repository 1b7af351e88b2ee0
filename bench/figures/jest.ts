// A Jest run of 50 small test files (Jest 29 from test/apps/jest-29, --runInBand so that one
// process holds the whole run), bare and under the agent, in turn: wall time and peak RSS.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WORKLOADS } from '../measure';
import { median, paired, ratio, series } from '../stats';
import type { Figure, Row } from './types';

const ROOT = resolve(__dirname, '..', '..');
const FILES = 50;

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'forksafe-bench-jest-'));
  const modules = join(ROOT, 'test', 'apps', 'jest-29', 'node_modules');
  mkdirSync(join(dir, 'node_modules'));
  for (const name of readdirSync(modules)) symlinkSync(join(modules, name), join(dir, 'node_modules', name));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-jest', private: true }));
  for (let i = 0; i < FILES; i++) {
    writeFileSync(
      join(dir, `t${i}.test.js`),
      `const pg = require('pg');\ntest('works ${i}', () => { expect(typeof pg.Pool).toBe('function'); expect([${i}, 1].sort()).toHaveLength(2); });\n`,
    );
  }
  return dir;
}

function runJest(dir: string, node: string[], rssFile: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const env = { ...process.env, NODE_OPTIONS: '', CI: 'true', MAX_RSS_FILE: rssFile };
    const child = spawn(process.execPath, [...node, join(dir, 'node_modules', 'jest', 'bin', 'jest.js'), '--runInBand', '--silent'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`jest exited with ${code}\n${stderr.slice(-2000)}`))));
  });
}

export const jestSuite: Figure = {
  id: 'jest-suite',
  title: `Jest run, ${FILES} small test files`,
  async run(ctx) {
    const pairs = ctx.quick ? 1 : 5;
    const dir = project();
    try {
      const register = ctx.agent.how === 'dist' ? join(ROOT, 'dist', 'register.js') : join(ctx.agent.cwd, 'node_modules', 'forksafe', 'dist', 'register.js');
      const variants = { bare: ['-r', join(WORKLOADS, 'max-rss.js')], agent: ['-r', join(WORKLOADS, 'max-rss.js'), '-r', register] };
      const ms: Record<string, number[]> = { bare: [], agent: [] };
      const mb: Record<string, number[]> = { bare: [], agent: [] };
      // One unrecorded round: the first runs fill Jest's transform cache and the file cache.
      for (const [name, node] of Object.entries(variants)) await runJest(dir, node, join(dir, `${name}.rss`));
      for (let i = 1; i <= pairs; i++) {
        for (const [name, node] of Object.entries(variants)) {
          ctx.progress(`${this.title}: ${name}, round ${i}/${pairs}`);
          const rss = join(dir, `${name}.rss`);
          ms[name]!.push(await runJest(dir, node, rss));
          mb[name]!.push(Number(readFileSync(rss, 'utf8')) / 2 ** 20);
        }
      }
      const wall = paired(ms.agent!, ms.bare!, ratio);
      const memory = paired(mb.agent!, mb.bare!, ratio);
      const rows: Row[] = [
        { label: `${this.title}, --runInBand: wall time`, unit: 'ms', baseline: median(ms.bare!), measured: median(ms.agent!), ratio: wall, target: '≤ 1.10', verdict: wall.median <= 1.1 ? 'PASS' : 'MISS' },
        { label: `${this.title}, --runInBand: peak RSS`, unit: 'MB', baseline: median(mb.bare!), measured: median(mb.agent!), ratio: memory, target: '≤ 1.10', verdict: memory.median <= 1.1 ? 'PASS' : 'MISS' },
      ];
      return { id: this.id, title: this.title, settings: { files: FILES, pairs, jest: '29 (test/apps/jest-29)', inBand: true }, variants: { ...Object.fromEntries(Object.entries(ms).map(([k, v]) => [`${k} ms`, series(v)])), ...Object.fromEntries(Object.entries(mb).map(([k, v]) => [`${k} MB`, series(v)])) }, ratios: { wall, memory }, rows };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
