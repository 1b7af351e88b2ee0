'use strict';
// `SELECT 1` through a pool of `--concurrency` connections with as many queries in flight.
// Set-up warms the pool and the JIT with `--warmup` queries; each block runs `queries`
// more and returns their time.
const { pgConfig, mysqlConfig, arg, closedLoop, fillPgPool, fillMysqlPool, serve, performance } = require('./common');

const driver = arg('driver', 'pg');
const concurrency = arg('concurrency', 10);
const warmup = arg('warmup', 20000);

function openPool() {
  if (driver === 'pg') {
    const pool = new (require('pg').Pool)({ ...pgConfig, max: concurrency });
    return { query: () => pool.query('SELECT 1'), fill: () => fillPgPool(pool, concurrency), end: () => pool.end() };
  }
  const pool = require('mysql2/promise').createPool({ ...mysqlConfig, connectionLimit: concurrency });
  return { query: () => pool.query('SELECT 1'), fill: () => fillMysqlPool(pool.pool, concurrency), end: () => pool.end() };
}

serve({
  async setup() {
    const pool = openPool();
    await pool.fill();
    await closedLoop(pool.query, warmup, concurrency);
    return pool;
  },
  async block(pool, { queries }) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await closedLoop(pool.query, queries, concurrency);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  },
  teardown: (pool) => pool.end(),
});
