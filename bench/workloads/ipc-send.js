'use strict';
// IPC `send()` to a forked child of what is not a database connection: plain objects
// (`--kind objects`), a connected net.Socket each time (`sockets`), or a listening
// net.Server (`servers`). The parent holds 10 pooled pg connections, one of them checked
// out across the fork, so the agent's send and receive doors have sockets to compare with.
// Each block sends `count` and returns the time until the child has received them all.
const { fork } = require('node:child_process');
const net = require('node:net');
const { join } = require('node:path');
const { once } = require('node:events');
const { pgConfig, arg, fillPgPool, serve, performance } = require('./common');

const kind = arg('kind', 'objects');

function connectedSockets(server, n) {
  const { port } = server.address();
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  })));
}

async function sendBatch({ child, server }, n) {
  const sockets = kind === 'sockets' ? await connectedSockets(server, n) : [];
  child.send({ expect: n });
  const received = once(child, 'message');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (kind === 'objects') child.send({ i, type: 'job', at: Date.now(), payload: { user: 42, tags: ['a', 'b'], note: 'not a database message' } });
    else if (kind === 'sockets') child.send('socket', sockets[i]);
    else child.send('server', server);
  }
  await received;
  return performance.now() - t0;
}

serve({
  async setup() {
    const pool = new (require('pg').Pool)({ ...pgConfig, max: 10 });
    await fillPgPool(pool, 10);
    const held = await pool.connect();
    const child = fork(join(__dirname, 'ipc-child.js'));
    await once(child, 'message');
    await fillPgPool(pool, 9);
    // An accepted socket closes when the child destroys the peer it was sent.
    const server = net.createServer((s) => s.on('error', () => {}).on('end', () => s.destroy()).resume());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const state = { pool, held, child, server };
    await sendBatch(state, kind === 'objects' ? 2000 : 20);
    return state;
  },
  async block(state, { count }) {
    return { ms: await sendBatch(state, count) };
  },
  async teardown({ pool, held, child, server }) {
    child.send('done');
    await once(child, 'exit');
    server.close();
    held.release();
    await pool.end();
  },
});
