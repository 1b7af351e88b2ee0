// Each patched library declares its versions as data (patches/supported.ts); the tests read
// the same data: the installed copies are inside the ranges, and the patches apply, from
// CommonJS and from ES modules alike (NODE_DEBUG=forksafe prints `patched <module> <version>`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { satisfies } from '../agent/versions';
import { knexPatch } from '../patches/knex';
import { ioredisPatch, nodeRedisPatch } from '../patches/redis';
import { sequelizePatch } from '../patches/sequelize';
import { SUPPORTED } from '../patches/supported';
import { REGISTER, ROOT, runFixture } from './helpers';

const LIBRARY_PATCHES = [knexPatch, sequelizePatch, ioredisPatch, nodeRedisPatch];

const installed = (pkg: string): string => JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;

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
