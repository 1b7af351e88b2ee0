'use strict';
// disconnectAll() at scale: `--points` numbers of real idle client sockets (to a sink
// process, see sockets.js) in pools of 10 registered with forksafe.register(), each pool's
// disconnect() queueing the close of its sockets (as pg's end() does). Every sample re-opens them. Samples alternate with the
// app's own loop over the same pools' disconnect() (`direct`): the work any closing costs,
// so that the agent's share is the difference. Prints every point with its samples (ms).
const { arg, median, report, fail, performance } = require('./common');
const { startSink, openSockets, registerPools, forksafe } = require('./sockets');

const points = String(arg('points', '10,100,1000,10000')).split(',').map(Number);
const samples = arg('samples', 5);
const warmup = arg('warmup', 1);

async function measure(port, n) {
  const agent = [];
  const direct = [];
  for (let i = 0; i < warmup + samples; i++) {
    for (const viaAgent of [true, false]) {
      const pools = registerPools(await openSockets(port, n), 10, true);
      const t0 = performance.now();
      let closed = 0;
      if (viaAgent) closed = forksafe.disconnectAll().closed;
      else for (const p of pools) closed += p.disconnect();
      const ms = performance.now() - t0;
      for (const p of pools) p.untrack();
      await Promise.all(pools.map((p) => p.closed));
      if (closed !== n) throw new Error(`${viaAgent ? 'disconnectAll()' : 'the pools'} closed ${closed} connections, expected ${n}: is the agent loaded?`);
      if (i >= warmup) (viaAgent ? agent : direct).push(ms);
    }
  }
  return { n, pools: n / 10, median: median(agent), samples: agent, direct };
}

async function main() {
  const sink = await startSink();
  const out = [];
  for (const n of points) out.push(await measure(sink.port, n));
  await sink.stop();
  report({ points: out });
}

main().catch(fail);
