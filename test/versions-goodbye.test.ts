// Clean goodbyes: the idle connections disconnectAll() closes leave with their protocol's
// own goodbye (PostgreSQL Terminate, MySQL COM_QUIT), so the server counts none of them as
// lost, exactly as after the library's own pool.end(); and against a server that has stopped
// answering, every socket is destroyed after GOODBYE_DEADLINE_MS and `settled` resolves.
// Run for every layout's fixture app (test/version-apps.ts).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { satisfies } from '../agent/versions';
import { SUPPORTED } from '../patches/shared/supported';
import { MYSQL, PG, mysqlUser, pgKill, pgSessions, stepFixture, uniqueName, waitFor } from './helpers';
import { versionApps, type VersionApp } from './version-apps';

const inRange = (app: VersionApp): boolean => Object.entries(app.versions).every(([p, v]) => satisfies(v, SUPPORTED[p as keyof typeof SUPPORTED]));
const apps = versionApps().filter(inRange);
const label = (app: VersionApp): string => `${Object.entries(app.versions).map(([p, v]) => `${p} ${v}`).join(', ')} (${app.name})`;

const N = 10;

// MariaDB counts a connection that ends without COM_QUIT in the global Aborted_clients. It
// is server-wide, so another client aborting at the same moment would count too: a run is
// tried again (up to 3 times) before the test says the goodbye was missing. Without the
// goodbye every try counts N.
async function abortedClients(): Promise<number> {
  const admin = await mysql.createConnection(MYSQL);
  try {
    const [rows] = await admin.query("SHOW GLOBAL STATUS LIKE 'Aborted_clients'");
    return Number((rows as any)[0].Value);
  } finally {
    await admin.end();
  }
}

async function mysqlAborted(app: VersionApp, how: 'forksafe' | 'library'): Promise<number> {
  let delta = -1;
  for (let attempt = 0; attempt < 3 && delta !== 0; attempt++) {
    const my = await mysqlUser();
    try {
      const run = stepFixture('versions/goodbye.js', { env: { DRIVER: 'mysql2', APP_DIR: app.dir, HOW: how, N: String(N), MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
      await run.next();
      assert.equal(await my.sessions(), N);
      const before = await abortedClients();
      run.go();
      const closed = await run.next();
      if (how === 'forksafe') assert.equal(closed.closed, N);
      // The server has finished with every session (and counted any abort) once it lists none.
      assert.equal(await waitFor(() => my.sessions(), (n) => n === 0), 0);
      delta = (await abortedClients()) - before;
      run.go();
      const end = await run.done;
      assert.equal(end.code, 0, end.stderr);
    } finally {
      await my.drop();
    }
  }
  return delta;
}

test(`mysql2 ${label(apps.find((a) => a.driver === 'mysql2' && a.name === 'latest')!)}: pool.end() of ${N} idle connections adds no Aborted_clients (the measure can read 0)`, async () => {
  assert.equal(await mysqlAborted(apps.find((a) => a.driver === 'mysql2' && a.name === 'latest')!, 'library'), 0);
});

for (const app of apps.filter((a) => a.driver === 'mysql2')) {
  test(`mysql2 ${label(app)}: disconnectAll() of ${N} idle connections sends COM_QUIT: no Aborted_clients, like pool.end()`, async () => {
    assert.equal(await mysqlAborted(app, 'forksafe'), 0);
  });
}

// PostgreSQL counts a session that ends without Terminate in pg_stat_database.sessions_abandoned
// (PostgreSQL 14 and later): per database, so this file has a database of its own.
const db = uniqueName('fsgoodbye');

async function pgAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...PG, application_name: 'forksafe_test_observer' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const abandoned = (): Promise<number> =>
  pgAdmin(async (c) => {
    const r = await c.query('SELECT sessions_abandoned::int AS n FROM pg_stat_database WHERE datname = $1', [db]);
    return r.rows[0]?.n ?? 0;
  });

before(() => pgAdmin((c) => c.query(`CREATE DATABASE ${db}`)));
after(() => pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)));

for (const app of apps.filter((a) => a.driver === 'pg')) {
  for (const how of app.name === 'latest' ? (['library', 'forksafe'] as const) : (['forksafe'] as const)) {
    test(`pg ${label(app)}: ${how === 'forksafe' ? 'disconnectAll()' : 'pool.end()'} of ${N} idle clients sends Terminate: no session abandoned`, async () => {
      const name = uniqueName('pgbye');
      try {
        const run = stepFixture('versions/goodbye.js', { env: { DRIVER: 'pg', APP_DIR: app.dir, HOW: how, N: String(N), PGAPPNAME: name, PGDATABASE: db } });
        await run.next();
        assert.equal(await pgSessions(name), N);
        const before = await abandoned();
        run.go();
        const closed = await run.next();
        if (how === 'forksafe') assert.equal(closed.closed, N);
        // A backend leaves pg_stat_activity as it exits, just after it has closed its socket
        // (which is what settles the close): a second at most.
        assert.equal(await waitFor(() => pgSessions(name), (n) => n === 0, 1000), 0, 'once settled, the backends are gone');
        // A backend counts its session when it exits; give the counter the same time as a lost one would take.
        assert.equal(await waitFor(abandoned, (n) => n !== before, 500), before, 'no session abandoned');
        run.go();
        const end = await run.done;
        assert.equal(end.code, 0, end.stderr);
      } finally {
        await pgKill(name);
      }
    });
  }
}

/** A TCP proxy to a real server that, once told, forwards nothing more and closes nothing: a server gone silent. */
class BlackHole {
  readonly server: net.Server;
  private forwarding = true;
  /** Client connections whose far end has not closed yet. */
  private readonly clients = new Set<net.Socket>();
  /** Every socket, closed or half-open, for close(). */
  private readonly sockets = new Set<net.Socket>();

  constructor(target: { host: string; port: number }) {
    // Half-open sockets: a client's FIN must not be answered by one of ours.
    this.server = net.createServer({ allowHalfOpen: true }, (client) => {
      const up = net.connect({ ...target, allowHalfOpen: true });
      this.clients.add(client);
      this.sockets.add(client).add(up);
      client.on('data', (d) => this.forwarding && up.write(d));
      up.on('data', (d) => this.forwarding && client.write(d));
      client.on('end', () => this.forwarding && up.end());
      up.on('end', () => this.forwarding && client.end());
      // Half-open, our side never closes by itself: the client's FIN (or RST) is its close.
      client.on('end', () => this.clients.delete(client));
      client.on('close', () => this.clients.delete(client));
      client.on('error', () => undefined);
      up.on('error', () => undefined);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port)));
  }

  goSilent(): void {
    this.forwarding = false;
  }

  /** Client connections the proxy still holds open (their far end has not closed). */
  get open(): number {
    return this.clients.size;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

for (const app of apps) {
  test(`${app.driver} ${label(app)}: against a server gone silent, disconnectAll() settles with every socket destroyed`, async () => {
    const target = app.driver === 'pg' ? { host: PG.host, port: PG.port } : { host: MYSQL.host, port: MYSQL.port };
    const hole = new BlackHole(target);
    const port = await hole.listen();
    const name = uniqueName('pghole');
    const my = app.driver === 'mysql2' ? await mysqlUser() : undefined;
    try {
      const env = app.driver === 'pg' ? { PGPORT: String(port), PGAPPNAME: name } : { MYSQL_PORT: String(port), MYSQL_USER: my!.user, MYSQL_PASSWORD: '' };
      const run = stepFixture('versions/black-hole.js', { env: { ...env, DRIVER: app.driver, APP_DIR: app.dir, N: '3' }, timeoutMs: 30000 });
      const warm = await run.next();
      assert.equal(warm.sockets, 3);
      assert.equal(hole.open, 3);
      hole.goSilent();
      run.go();
      const end = await run.done;
      assert.equal(end.code, 0, end.stderr);
      assert.deepEqual({ closed: end.json.closed, destroyed: end.json.destroyed }, { closed: 3, destroyed: 3 }, 'settled resolved, with every socket destroyed');
      assert.equal(end.json.databases[0].total, 0);
      assert.equal(await waitFor(async () => hole.open, (n) => n === 0), 0, 'the proxy saw every connection close');
    } finally {
      await hole.close();
      await my?.drop();
      await pgKill(name);
    }
  });
}
