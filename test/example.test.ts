// The README's main command: the example app under the agent, against the PostgreSQL of
// this machine, and against the embedded one a fresh machine falls back to.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { PG, ROOT } from './helpers';

function example(env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [join(ROOT, 'examples', 'cluster-app', 'start.js')], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', ...env }, encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout + r.stderr;
}

function assertStory(out: string) {
  assert.match(out, /warmed the pool: 10 connections, 10 idle/);
  assert.match(out, /before cluster\.fork: 1 pools, 10 closed, 0 kept/);
  assert.match(out, /after the forks the primary's pool holds 0 connections \(0 idle\)/);
  assert.match(out, /pg_stat_activity: primary 0 backends, workers 2 backends/);
  assert.match(out, /no violations; 2 forks \(closed 10, kept 0/);
}

test('npm run example, against this machine\'s PostgreSQL', () => {
  const out = example({ PGHOST: PG.host, PGPORT: String(PG.port), PGUSER: PG.user, PGDATABASE: PG.database });
  assert.match(out, /Using PostgreSQL at /);
  assertStory(out);
});

test('npm run example, with no PostgreSQL reachable: an embedded one', () => {
  const out = example({ PGHOST: '127.0.0.1', PGPORT: '1' });
  assert.match(out, /Starting an embedded PostgreSQL/);
  assertStory(out);
});
