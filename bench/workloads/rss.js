'use strict';
// Resident memory after gc of an app holding 100 warmed pooled connections: `--pg-pools`
// pg pools and `--mysql-pools` mysql2 pools of `--per-pool` each. Run with --expose-gc.
// (PostgreSQL allows 100 connections in all, so half are MariaDB's.)
const { pgConfig, mysqlConfig, arg, fillPgPool, fillMysqlPool, report, fail } = require('./common');

const pgPools = arg('pg-pools', 5);
const mysqlPools = arg('mysql-pools', 5);
const perPool = arg('per-pool', 10);

async function settleGc() {
  for (let i = 0; i < 4; i++) {
    global.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const pg = require('pg');
  const mysql = require('mysql2');
  const pools = [];
  for (let i = 0; i < pgPools; i++) pools.push({ pool: new pg.Pool({ ...pgConfig, max: perPool }), fill: fillPgPool, end: (p) => p.end() });
  for (let i = 0; i < mysqlPools; i++) {
    pools.push({ pool: mysql.createPool({ ...mysqlConfig, connectionLimit: perPool }), fill: fillMysqlPool, end: (p) => new Promise((r) => p.end(r)) });
  }
  await Promise.all(pools.map((p) => p.fill(p.pool, perPool)));
  await settleGc();
  const m = process.memoryUsage();
  await Promise.all(pools.map((p) => p.end(p.pool)));
  report({ connections: pools.length * perPool, rssMB: m.rss / 2 ** 20, heapUsedMB: m.heapUsed / 2 ** 20 });
}

main().catch(fail);
