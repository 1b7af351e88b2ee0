'use strict';
// `spawn('true')`, one after the other, with 10 idle pooled pg connections in the parent
// (what the agent looks at on every spawn). Each block spawns `count` times.
const { spawn } = require('node:child_process');
const { pgConfig, fillPgPool, serve, performance } = require('./common');

function spawnTrue() {
  return new Promise((resolve, reject) => {
    const c = spawn('true', [], { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', resolve);
  });
}

async function spawnMany(count) {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await spawnTrue();
  return performance.now() - t0;
}

serve({
  async setup() {
    const pool = new (require('pg').Pool)({ ...pgConfig, max: 10 });
    await fillPgPool(pool, 10);
    await spawnMany(20);
    return pool;
  },
  async block(_pool, { count }) {
    return { ms: await spawnMany(count) };
  },
  teardown: (pool) => pool.end(),
});
