// A clustered HTTP service on PostgreSQL, written as if forksafe did not exist: the primary
// warms a pool at start-up (migrations, a cache, a health check), then forks its workers.
// Run under the agent (`node -r forksafe/register server.js`), the primary's idle
// connections are closed just before each fork.
const cluster = require('node:cluster');
const http = require('node:http');
const pg = require('pg');

const WORKERS = Number(process.env.WORKERS || 2);
const say = (...args) => console.log(`[${cluster.isPrimary ? 'primary' : `worker ${cluster.worker.id}`} ${process.pid}]`, ...args);

async function backendsOf(pool) {
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [process.env.PGAPPNAME]);
  return rows[0].n;
}

if (cluster.isPrimary) {
  (async () => {
    const pool = new pg.Pool({ max: 10, application_name: process.env.PGAPPNAME });
    // Warm-up: ten queries at once open ten backends, left idle in the pool.
    await Promise.all(Array.from({ length: 10 }, () => pool.query('SELECT pg_sleep(0.05)')));
    say(`warmed the pool: ${pool.totalCount} connections, ${pool.idleCount} idle`);
    let forksafe;
    try {
      forksafe = require('forksafe');
    } catch {
      forksafe = undefined;
    }
    if (forksafe) say('forksafe.databases():', JSON.stringify(forksafe.databases()));

    say(`forking ${WORKERS} workers`);
    for (let i = 0; i < WORKERS; i++) cluster.fork();
    say(`after the forks the primary's pool holds ${pool.totalCount} connections (${pool.idleCount} idle)`);

    let listening = 0;
    cluster.on('listening', (_worker, address) => {
      if (++listening === WORKERS) process.send?.({ listening: address.port });
    });
    process.on('SIGTERM', async () => {
      for (const w of Object.values(cluster.workers)) w.kill();
      await pool.end();
    });
  })();
} else {
  // Each worker opens its own pool, lazily, on its first request.
  const pool = new pg.Pool({ max: 4, application_name: `${process.env.PGAPPNAME}-worker` });
  http
    .createServer(async (_req, res) => {
      const { rows } = await pool.query('SELECT pg_backend_pid() AS backend');
      res.end(JSON.stringify({ worker: process.pid, backend: rows[0].backend }) + '\n');
    })
    .listen(Number(process.env.PORT || 0), '127.0.0.1', () => say('listening'));
  process.on('SIGTERM', () => pool.end().then(() => process.exit(0)));
}

module.exports = { backendsOf };
