'use strict';
// Shared by the workloads: the servers (from the environment, with the defaults of the
// test servers), helpers that fill pools with idle connections, and the one JSON line
// each workload prints for the orchestrator.
const { performance } = require('node:perf_hooks');

const pgConfig = {
  host: process.env.PGHOST || '127.0.0.1',
  port: Number(process.env.PGPORT || 5432),
  user: process.env.PGUSER || 'postgres',
  database: process.env.PGDATABASE || 'test',
  // The orchestrator counts sessions with this name before and after the run.
  application_name: 'forksafe-bench',
};

const mysqlConfig = {
  host: process.env.MYSQL_HOST || '127.0.0.1',
  port: Number(process.env.MYSQL_PORT || 3306),
  user: process.env.MYSQL_USER || 'root',
  password: process.env.MYSQL_PASSWORD || '',
  database: process.env.MYSQL_DATABASE || 'test',
};

/** `--name value` from argv, as a number when it looks like one. */
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1 || i + 1 >= process.argv.length) return fallback;
  const v = process.argv[i + 1];
  return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}

/**
 * Opens `n` connections in a pg pool at once and releases them: `n` idle connections.
 * The servers are shared (tests may run beside the benchmark): when PostgreSQL has no slot
 * left (53300 too_many_connections), everything is released and the fill retried later.
 */
async function fillPgPool(pool, n) {
  for (let attempt = 1; ; attempt++) {
    const results = await Promise.allSettled(Array.from({ length: n }, () => pool.connect()));
    for (const r of results) if (r.status === 'fulfilled') r.value.release();
    const failed = results.find((r) => r.status === 'rejected');
    if (!failed) return;
    if (failed.reason.code !== '53300' || attempt === 60) throw failed.reason;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The same for a mysql2 (callback API) pool. */
function fillMysqlPool(pool, n) {
  const one = () => new Promise((resolve, reject) => pool.getConnection((err, c) => (err ? reject(err) : resolve(c))));
  return Promise.all(Array.from({ length: n }, one)).then((conns) => conns.forEach((c) => c.release()));
}

/** Runs `total` calls of `query()` with `concurrency` in flight; returns per-call latencies (ms). */
async function closedLoop(query, total, concurrency, latencies) {
  let started = 0;
  async function worker() {
    while (started < total) {
      started++;
      const t0 = performance.now();
      await query();
      if (latencies) latencies.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One JSON line on stdout, read by the orchestrator. */
function report(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

/**
 * Runs a workload that the orchestrator drives block by block, so that the processes it
 * compares (bare, agent, …) take turns at a fine grain and share the machine's weather:
 * `setup()` once (warm-up included), then `{ ready: true }`; then for every stdin line
 * `{ "block": params }` one `block(state, params)` and its JSON result; `{ "end": true }`
 * (or the end of stdin) runs `teardown(state)` and lets the process exit on its own.
 */
function serve({ setup, block, teardown }) {
  (async () => {
    const state = await setup();
    report({ ready: true });
    const lines = require('node:readline').createInterface({ input: process.stdin });
    for await (const line of lines) {
      const command = JSON.parse(line);
      if (command.end) break;
      report(await block(state, command.block || {}));
    }
    lines.close();
    process.stdin.destroy();
    if (teardown) await teardown(state);
  })().catch(fail);
}

/** The workload's own failure: one stderr line and a non-zero exit, so the orchestrator stops. */
function fail(err) {
  process.stderr.write(`workload ${process.argv[1]}: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}

module.exports = { pgConfig, mysqlConfig, arg, fillPgPool, fillMysqlPool, closedLoop, median, report, serve, fail, performance };
