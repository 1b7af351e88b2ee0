'use strict';
// `spawn('true')`, one after the other, with 10 idle pooled pg connections in the parent
// (what the agent looks at on every spawn) and, with `--sockets n`, n more real idle client
// sockets tracked through forksafe.register() (pools of 10; see sockets.js). Each block
// spawns `count` times.
const { spawn } = require('node:child_process');
const { pgConfig, arg, fillPgPool, serve, performance } = require('./common');

const extra = arg('sockets', 0);

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
    let tracked;
    if (extra > 0) {
      const { startSink, openSockets, registerPools } = require('./sockets');
      const sink = await startSink();
      tracked = { sink, pools: registerPools(await openSockets(sink.port, extra), 10) };
    }
    await spawnMany(20);
    return { pool, tracked };
  },
  async block(_state, { count }) {
    return { ms: await spawnMany(count) };
  },
  async teardown({ pool, tracked }) {
    if (tracked) {
      for (const p of tracked.pools) {
        p.untrack();
        p.disconnect();
      }
      await Promise.all(tracked.pools.map((p) => p.closed));
      await tracked.sink.stop();
    }
    await pool.end();
  },
});
