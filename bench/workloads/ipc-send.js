'use strict';
// IPC `send()` to a forked child of what is not a database connection: plain objects
// (`--kind objects`), an accepted net.Socket each time (`sockets`: what a primary that
// balances connections over workers hands them; a client socket of this process would be a
// violation at the agent's door, a different path), or a listening net.Server (`servers`). The parent holds 10 pooled pg connections, one of them checked
// out across the fork, so the agent's send and receive doors have sockets to compare with.
// Each block sends `count` and returns the time until the child has received them all.
const { fork } = require('node:child_process');
const net = require('node:net');
const { join } = require('node:path');
const { once } = require('node:events');
const { pgConfig, arg, fillPgPool, serve, performance } = require('./common');

const kind = arg('kind', 'objects');

/** `n` sockets accepted by `server` (their client ends are kept in `clients`, closed later). */
function acceptedSockets(server, clients, n) {
  const { port } = server.address();
  const accepted = [];
  return new Promise((resolve, reject) => {
    const onConnection = (s) => {
      accepted.push(s.on('error', () => {}));
      if (accepted.length === n) {
        server.off('connection', onConnection);
        resolve(accepted);
      }
    };
    server.on('connection', onConnection);
    for (let i = 0; i < n; i++) clients.push(net.connect(port, '127.0.0.1').on('error', reject));
  });
}

async function sendBatch({ child, server, clients }, n) {
  const sockets = kind === 'sockets' ? await acceptedSockets(server, clients, n) : [];
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
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    // A client end closes when the child destroys the accepted socket it was sent.
    const clients = [];
    const state = { pool, held, child, server, clients };
    await sendBatch(state, kind === 'objects' ? 2000 : 20);
    return state;
  },
  async block(state, { count }) {
    return { ms: await sendBatch(state, count) };
  },
  async teardown({ pool, held, child, server, clients }) {
    child.send('done');
    await once(child, 'exit');
    for (const c of clients) c.destroy();
    server.close();
    held.release();
    await pool.end();
  },
});
