// Each patched library declares its versions as data (patches/shared/supported.ts); the tests read
// the same data. pg, pg-pool and mysql2: the fixture apps the version tests run
// (test/version-apps.ts, test/versions*.test.ts) are inside the ranges and cover each one:
// its lower bound, the first version of every layout, both sides of every other upstream
// change, and the latest; the apps outside the ranges are outside. The other libraries:
// the installed copies are inside their ranges, and the patches apply, from CommonJS and
// from ES modules alike (NODE_DEBUG=forksafe prints `patched <module> <version>`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ModulePatch } from '../agent/patching';
import { satisfies } from '../agent/versions';
import { patches } from '../patches';
import { knexPatch } from '../patches/knex';
import { ioredisPatch, nodeRedisPatch } from '../patches/redis';
import { sequelizePatch } from '../patches/sequelize';
import { HARMLESS_CHANGES, LAYOUTS, SUPPORTED } from '../patches/shared/supported';
import { REGISTER, ROOT, runFixture } from './helpers';
import { versionApps } from './version-apps';

const LIBRARY_PATCHES = [knexPatch, sequelizePatch, ioredisPatch, nodeRedisPatch];
const DRIVERS = ['pg', 'pg-pool', 'mysql2'] as const;

const installed = (pkg: string): string => JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const modulePatches = patches.filter((p): p is ModulePatch => 'package' in p);
const layoutsOf = (pkg: string): string[] => Object.values((LAYOUTS as Record<string, Record<string, string>>)[pkg] ?? {});
/** `>=8.0.3 <9` → `8.0.3`. */
const lowerBound = (range: string): string => /^>=(\d+(?:\.\d+){0,2})/.exec(range)![1]!.split('.').concat('0', '0').slice(0, 3).join('.');

/** Every version of each driver package the version tests run, inside or outside the ranges. */
function testedVersions(): Record<string, string[]> {
  const out: Record<string, string[]> = { pg: [], 'pg-pool': [], mysql2: [] };
  for (const app of versionApps()) for (const [p, v] of Object.entries(app.versions)) out[p]!.push(v);
  return out;
}

// The packages whose entries take their ranges from supported.ts (mariadb.ts still writes
// its three layouts inline).
const FROM_SUPPORTED = new Set(['pg', 'pg-pool', 'mysql2', 'knex', 'sequelize', 'ioredis', '@redis/client']);

test('every pg, pg-pool, mysql2, knex, sequelize and redis entry reads its range from supported.ts: the package\'s range, or one of its layouts', () => {
  for (const p of modulePatches.filter((p) => FROM_SUPPORTED.has(p.package))) {
    const declared = [SUPPORTED[p.package as keyof typeof SUPPORTED], ...layoutsOf(p.package)];
    assert.ok(declared.includes(p.versions), `${p.package}/${p.file}: ${p.versions} is declared in supported.ts`);
  }
});

test('pg and mysql2: each tested version in range falls in exactly one layout, and the entries for one file never overlap', () => {
  const tested = testedVersions();
  for (const pkg of ['pg', 'mysql2'] as const) {
    for (const v of tested[pkg]!.filter((v) => satisfies(v, SUPPORTED[pkg]))) {
      assert.equal(layoutsOf(pkg).filter((r) => satisfies(v, r)).length, 1, `${pkg} ${v} is in one layout`);
      const byFile = new Map<string, number>();
      for (const p of modulePatches.filter((p) => p.package === pkg && satisfies(v, p.versions))) byFile.set(p.file, (byFile.get(p.file) ?? 0) + 1);
      for (const [file, n] of byFile) assert.equal(n, 1, `${pkg} ${v}: one entry patches ${file}`);
      assert.ok(byFile.size > 0, `${pkg} ${v}: some entry applies`);
    }
  }
});

test('pg, pg-pool and mysql2: the version tests run the lower bound, the first version of every layout, both sides of every other change, and the latest', () => {
  const tested = testedVersions();
  for (const pkg of DRIVERS) {
    const range = SUPPORTED[pkg];
    const inside = tested[pkg]!.filter((v) => satisfies(v, range));
    assert.ok(inside.includes(lowerBound(range)), `${pkg}: the lower bound ${lowerBound(range)} is tested (${inside.join(', ')})`);
    for (const layout of layoutsOf(pkg)) assert.ok(inside.includes(lowerBound(layout)), `${pkg}: the first version of ${layout} is tested`);
    for (const change of HARMLESS_CHANGES.filter((c) => c.package === pkg)) {
      assert.ok(inside.includes(change.version), `${pkg} ${change.version} is tested`);
      assert.ok(inside.some((v) => satisfies(v, `>=${lowerBound(range)} <${change.version}`)), `${pkg} before ${change.version} is tested`);
    }
    assert.ok(satisfies(installed(pkg), range), `${pkg}: the latest, ${installed(pkg)}, is inside ${range}`);
    assert.ok(inside.includes(installed(pkg)), `${pkg}: the latest is tested`);
    assert.ok(tested[pkg]!.some((v) => !satisfies(v, range)), `${pkg}: a version outside ${range} is tested too`);
  }
});

test('the installed knex, sequelize, ioredis and @redis/client are inside their declared ranges', () => {
  for (const p of LIBRARY_PATCHES) {
    assert.equal(p.versions, SUPPORTED[p.package as keyof typeof SUPPORTED], `${p.package}: the patch reads its range from supported.ts`);
    assert.ok(satisfies(installed(p.package), p.versions), `${p.package} ${installed(p.package)} is inside ${p.versions}`);
  }
});

for (const [format, nodeArgs, script] of [
  ['CommonJS', ['-r', REGISTER], 'libs/load.js'],
  ['ES modules', ['--import', REGISTER], 'libs/load.mjs'],
] as const) {
  test(`${format}: each library patch applies once, and its pools are listed without a password`, async () => {
    const run = await runFixture(script, { nodeArgs: [...nodeArgs], env: { NODE_DEBUG: 'forksafe' } });
    assert.equal(run.code, 0, run.stderr);
    for (const p of LIBRARY_PATCHES) {
      const line = ` patched ${p.package}/${p.file} ${installed(p.package)}`;
      assert.equal(run.stderr.split('\n').filter((l) => l.endsWith(line)).length, 1, `one "${line.trim()}" line`);
    }
    assert.deepEqual(run.json.databases, [
      { driver: 'knex', kind: 'pool', target: 'nobody@127.0.0.1:5432/none' },
      { driver: 'sequelize', kind: 'pool', target: 'nobody@127.0.0.1:5432/none' },
    ]);
    assert.doesNotMatch(run.stdout + run.stderr, /secret/);
  });
}
