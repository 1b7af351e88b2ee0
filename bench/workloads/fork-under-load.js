'use strict';
// A parent serving pg queries at full speed (pool of 10, 10 in flight) that forks a child
// every `--interval` ms. Each block runs for `seconds` and returns the number of queries,
// the time, and a histogram of their latencies (10 µs buckets) for the percentiles.
// `--child bare` starts the children without the parent's execArgv (a child inherits `-r`).
const { fork } = require('node:child_process');
const { join } = require('node:path');
const { pgConfig, arg, fillPgPool, closedLoop, serve, performance } = require('./common');

const interval = arg('interval', 100);
const warmup = arg('warmup', 20000);
const child = join(__dirname, 'exit-child.js');
const execArgv = arg('child', 'inherit') === 'bare' ? [] : process.execArgv;

async function loadBlock(pool, seconds) {
  const children = [];
  const timer = setInterval(() => {
    const c = fork(child, { execArgv });
    children.push(new Promise((resolve) => c.on('exit', resolve)));
  }, interval);
  const histogram = {};
  let queries = 0;
  let stop = false;
  const t0 = performance.now();
  const stopTimer = setTimeout(() => (stop = true), seconds * 1000);
  async function worker() {
    while (!stop) {
      const q0 = performance.now();
      await pool.query('SELECT 1');
      const bucket = Math.round((performance.now() - q0) * 100);
      histogram[bucket] = (histogram[bucket] || 0) + 1;
      queries++;
    }
  }
  await Promise.all(Array.from({ length: 10 }, worker));
  const ms = performance.now() - t0;
  clearInterval(timer);
  clearTimeout(stopTimer);
  await Promise.all(children);
  return { queries, ms, forks: children.length, histogram };
}

serve({
  async setup() {
    const pool = new (require('pg').Pool)({ ...pgConfig, max: 10 });
    await fillPgPool(pool, 10);
    await closedLoop(() => pool.query('SELECT 1'), warmup, 10);
    return pool;
  },
  block: (pool, { seconds }) => loadBlock(pool, seconds),
  teardown: (pool) => pool.end(),
});
