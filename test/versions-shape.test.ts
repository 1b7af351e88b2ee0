// A patch that finds another layout than the one it declares throws a TypeError naming what
// it expected, before it touches anything; agent/patching.ts catches it, logs it once
// (NODE_DEBUG=forksafe) and hands the application the module as it was. Here each pg and
// mysql2 entry is given a real export of the wrong file, as an upstream move would do.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ModulePatch } from '../agent/patching';
import { mysql2Patches } from '../patches/mysql2';
import { pgClientPatches, pgPoolPatch } from '../patches/pg';
import { ROOT } from './helpers';

const load = createRequire(join(ROOT, 'package.json'));

function snapshot(o: any): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const target of [o, o?.prototype]) {
    if (!target) continue;
    for (const k of Object.getOwnPropertyNames(target)) {
      const d = Object.getOwnPropertyDescriptor(target, k)!;
      out[`${target === o ? '' : 'prototype.'}${k}`] = d.value ?? d.get;
    }
  }
  return out;
}

function assertRefused(patch: ModulePatch, wrong: any, expected: RegExp): void {
  const before = snapshot(wrong);
  assert.throws(() => patch.patch(wrong), (err: any) => err instanceof TypeError && expected.test(err.message), `${patch.package}/${patch.file} refuses it`);
  assert.deepEqual(snapshot(wrong), before, 'and touches nothing');
}

test('pg-pool/index.js given pg\'s Client (no newClient): TypeError, nothing touched', () => {
  assertRefused(pgPoolPatch, load('pg').Client, /pg-pool\/index\.js exports no Pool class with newClient\(\)/);
});

test('pg/lib/client.js and lib/native/client.js given pg\'s lib/defaults.js (no connect()): TypeError, nothing touched', () => {
  for (const patch of pgClientPatches) assertRefused(patch, load('pg/lib/defaults.js'), new RegExp(`pg/${patch.file.replace(/[./]/g, '\\$&')} exports no Client class with connect\\(\\)`));
});

test('mysql2/index.js given lib/pool.js (a class, no factories), and lib/create_*.js given an object: TypeError, nothing touched', () => {
  const [indexPatch, ...createPatches] = mysql2Patches;
  assertRefused(indexPatch!, load(join(ROOT, 'node_modules', 'mysql2', 'lib', 'pool.js')), /mysql2\/index\.js exports no createPool\(\)/);
  for (const patch of createPatches) assertRefused(patch, load(join(ROOT, 'node_modules', 'mysql2', 'lib', 'pool.js')).prototype, new RegExp(`mysql2/${patch.file.replace(/[./]/g, '\\$&')} does not export a function`));
});
