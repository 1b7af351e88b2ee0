'use strict';
// Sequential pg connections: `new pg.Client()`, `connect()`, `end()`, one after the other
// (what the agent adds to a connection's life: its tracking at connect, its untracking at
// end). Served block by block (`{ count }`), or once with `--once n` for an instruction count.
const { pgConfig, arg, serve, report, fail, performance } = require('./common');

async function connectMany(count) {
  const { Client } = require('pg');
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const c = new Client(pgConfig);
    await c.connect();
    await c.end();
  }
  return performance.now() - t0;
}

const once = arg('once', -1);
if (once >= 0) {
  connectMany(once).then((ms) => report({ ms }), fail);
} else {
  serve({
    async setup() {
      await connectMany(20);
    },
    async block(_state, { count }) {
      return { ms: await connectMany(count) };
    },
  });
}
