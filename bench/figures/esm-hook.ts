// What the module hook for the drivers' ES-module builds costs (agent/esm-hook.ts): an ESM
// app's start-up on Node 22 and 24, counted with and without the hook. The hook is called
// for every module the process loads, so it is counted on an app of some size: pg, mysql2,
// knex and postgres.js imported from an ES module, about 540 modules. The Node binaries are
// those the tests use (test/apps/node-22, test/apps/node-24).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bare, countRounds, withAgent, WORKLOADS, type Variant } from '../measure';
import { seriesOf, ratiosOf, pick } from './compare';
import { countRow, warmCodeCache } from './instructions';
import type { Figure, Row } from './types';
import { nodeBinary, OTHER_NODE_MAJORS } from '../../test/node-versions';

const ROOT = resolve(__dirname, '..', '..');


/** A throwaway ESM app whose node_modules holds postgres.js, as an app's would. */
function esmApp(): { entry: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'forksafe-bench-esm-'));
  mkdirSync(dir, { recursive: true });
  symlinkSync(join(ROOT, 'test', 'apps', 'postgres-latest', 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-esm-app', private: true, type: 'module' }));
  // pg, mysql2 and knex from the repository's own node_modules, by their resolved files.
  const rootRequire = createRequire(join(ROOT, 'package.json'));
  const imports = ['pg', 'mysql2', 'knex'].map((p) => `import ${JSON.stringify(pathToFileURL(rootRequire.resolve(p)).href)};`);
  writeFileSync(join(dir, 'main.js'), [...imports, "import 'postgres';", ''].join('\n'));
  return { entry: join(dir, 'main.js'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const instructionsEsmHook: Figure = {
  id: 'instructions-esm-hook',
  title: 'instructions: ESM app start-up, Node 22 and 24',
  group: 'instructions',
  async run(ctx) {
    const runs = pick(ctx, 1, 3);
    const app = esmApp();
    try {
      const variants: Variant[] = [];
      for (const major of OTHER_NODE_MAJORS) {
        const execPath = nodeBinary(major);
        warmCodeCache(ctx, execPath);
        const agent = withAgent(ctx);
        variants.push(
          { ...bare, name: `bare${major}`, execPath, args: [app.entry] },
          { ...agent, name: `agent${major}`, execPath, args: [app.entry] },
          // No ESM build left to hook: the agent as a CommonJS app, or an ESM app without those drivers, has it.
          { ...agent, name: `noHook${major}`, execPath, env: { FORKSAFE_DISABLE: 'postgres,mariadb' }, args: [app.entry] },
          { name: `passThrough${major}`, node: ['-r', join(WORKLOADS, 'pass-through-hook.js')], execPath, args: [app.entry] },
        );
      }
      const samples = await countRounds(ctx, this.title, variants, [], runs);
      const rows: Row[] = OTHER_NODE_MAJORS.flatMap((major) => [
        countRow(`instructions: ESM app start-up, Node ${major} · agent`, samples, `agent${major}`, `bare${major}`, '(report)', () => ''),
        countRow(`instructions: ESM app start-up, Node ${major} · agent without the hook`, samples, `noHook${major}`, `bare${major}`, '(report)', () => ''),
        countRow(`instructions: ESM app start-up, Node ${major} · the hook's share`, samples, `agent${major}`, `noHook${major}`, '(report)', () => ''),
        countRow(`instructions: ESM app start-up, Node ${major} · a pass-through hook, no agent`, samples, `passThrough${major}`, `bare${major}`, "(Node's own cost of a hook)", () => ''),
      ]);
      return {
        id: this.id,
        title: this.title,
        settings: { runs, app: 'an ES module importing pg, mysql2, knex and postgres (about 540 modules)', measured: 'instructions of the whole process (callgrind), ASLR off and --random-seed=1, NODE_EXTRA_CA_CERTS unset; "without the hook" is FORKSAFE_DISABLE=postgres,mariadb' },
        variants: seriesOf(samples),
        // Each Node's variants against its own bare run.
        ratios: Object.fromEntries(OTHER_NODE_MAJORS.flatMap((major) => {
          const own = Object.fromEntries(Object.entries(samples).filter(([k]) => k.endsWith(String(major))).map(([k, v]) => [k === `bare${major}` ? 'bare' : k, v]));
          return Object.entries(ratiosOf(own));
        })),
        rows,
      };
    } finally {
      app.cleanup();
    }
  },
};
