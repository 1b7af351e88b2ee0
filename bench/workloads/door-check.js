'use strict';
// The send door at scale: `subprocess.send('socket', handle, { keepOpen: true })` of an
// accepted socket (no client socket of this process, so the door lets it through), with
// `--sockets` real idle client sockets tracked by the agent (pools of 10, forksafe.register).
// Only the first send of a block goes out at once; Node queues the others until the child
// acknowledges each handle, so the synchronous loop times the patched send() with its door
// check and a queue push: under bare Node, the push alone. Each block returns the median
// µs of its calls (the first, which writes, left out).
const { fork } = require('node:child_process');
const net = require('node:net');
const { join } = require('node:path');
const { once } = require('node:events');
const { arg, median, serve, performance } = require('./common');
const { startSink, openSockets, registerPools } = require('./sockets');

const count = arg('sockets', 10);

async function sendBatch({ child, peer }, n) {
  child.send({ expect: n });
  const received = once(child, 'message');
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    child.send('socket', peer, { keepOpen: true });
    times[i] = performance.now() - t0;
  }
  await received;
  // The median call: on a loaded machine a few calls are preempted, and a mean would be theirs.
  return median(Array.from(times.subarray(1))) * 1000;
}

serve({
  async setup() {
    const sink = await startSink();
    const sockets = await openSockets(sink.port, count);
    const pools = registerPools(sockets, 10);
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    const client = net.connect(server.address().port, '127.0.0.1');
    const [peer] = await accepted;
    const child = fork(join(__dirname, 'ipc-child.js'));
    await once(child, 'message');
    const state = { sink, sockets, pools, server, client, peer, child };
    await sendBatch(state, 200);
    return state;
  },
  async block(state, { count: n }) {
    return { us: await sendBatch(state, n) };
  },
  async teardown({ sink, pools, server, client, peer, child }) {
    child.send('done');
    await once(child, 'exit');
    peer.destroy();
    client.destroy();
    server.close();
    for (const p of pools) {
      p.untrack();
      p.disconnect();
    }
    await Promise.all(pools.map((p) => p.closed));
    await sink.stop();
  },
});
