'use strict';
// Real idle client sockets for the scale figures: `n` net.connect sockets to a sink process
// (sink.js), registered with the agent as pools of `perPool` through forksafe.register(), as
// an app registers an in-house pool. Under bare Node the same sockets are opened, unregistered.
const { fork } = require('node:child_process');
const net = require('node:net');
const { join } = require('node:path');
const { once } = require('node:events');

// The copy of forksafe installed where the process runs (see disconnect-curve.js).
const forksafe = require('node:module').createRequire(join(process.cwd(), 'bench.js'))('forksafe');

/** Starts the sink without the agent; resolves with its port and a function that stops it. */
async function startSink() {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = fork(join(__dirname, 'sink.js'), { execArgv: [], env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const [{ port }] = await once(child, 'message');
  return { port, stop: () => { child.disconnect(); return once(child, 'exit'); } };
}

/** `n` connected sockets, opened 500 at a time (the sink's backlog is 4096). */
async function openSockets(port, n) {
  const out = [];
  while (out.length < n) {
    const batch = Math.min(500, n - out.length);
    out.push(...(await Promise.all(Array.from({ length: batch }, () => new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    })))));
  }
  return out;
}

/** True when the agent runs in this process (forksafe.register() refuses otherwise). */
function agentLoaded() {
  try {
    forksafe.register({ name: 'probe', disconnect: () => 0 })();
    return true;
  } catch (err) {
    if (/agent is not loaded/.test(err.message)) return false;
    throw err;
  }
}

/**
 * Pools of `perPool` of `sockets`: each registered (under the agent) with a disconnect()
 * that closes its sockets, as a pool closes idle connections: like pg's client.end(), it
 * queues the close (on the next turn of the event loop) and returns at once how many it
 * closes. Returns the pools; `pool.closed` settles when its sockets are closed.
 */
function registerPools(sockets, perPool, register = agentLoaded()) {
  const pools = [];
  for (let i = 0; i < sockets.length; i += perPool) {
    const pool = { sockets: sockets.slice(i, i + perPool), untrack: () => {}, closed: Promise.resolve() };
    pool.disconnect = () => {
      const idle = pool.sockets;
      pool.sockets = [];
      pool.closed = new Promise((resolve) => setImmediate(() => {
        for (const s of idle) s.destroy();
        resolve();
      }));
      return idle.length;
    };
    if (register) pool.untrack = forksafe.register({ name: `bench-pool-${i / perPool}`, disconnect: () => pool.disconnect(), sockets: () => pool.sockets });
    pools.push(pool);
  }
  return pools;
}

module.exports = { startSink, openSockets, registerPools, agentLoaded, forksafe };
