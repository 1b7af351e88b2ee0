// No cliff at scale: a process with thousands of tracked client sockets starts children
// like bare Node does (the child's manifest holds only the sockets let through to it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFixture } from './helpers';

test('a parent holding 2,000 tracked client sockets still starts spawn, spawnSync, fork and execSync children, and inherited-socket still works in them', async () => {
  const run = await runFixture('scale/many-sockets.js', { env: { COUNT: '2000' }, timeoutMs: 120000 });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.json.started, { spawn: 0, spawnSync: 0, fork: 0, execSync: 0 });
  assert.deepEqual(run.json.inherited, ['inherited-socket'], 'the child found the socket it inherited');
  assert.deepEqual(run.json.parentViolations, ['stdio-inherit']);
});
