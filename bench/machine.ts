// What the results were measured on, and the servers' view of the benchmark's sessions.
import { cpus, loadavg, totalmem, platform, release } from 'node:os';
import * as pg from 'pg';
import * as mysql from 'mysql2/promise';
import { MYSQL, PG, serverEnv } from '../test/servers';

export { PG, MYSQL };

/** The workloads' environment: the servers, and nothing of the caller's NODE_OPTIONS or FORKSAFE_*. */
export function workloadEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k === 'NODE_DEBUG' || k.startsWith('NODE_TEST') || k.startsWith('FORKSAFE_')) continue;
    env[k] = v;
  }
  return {
    ...env,
    ...serverEnv(),
    ...extra,
  };
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryMB: number;
  platform: string;
  node: string;
  postgres: string;
  mysql: string;
  /** 1-minute load average when the run started: other work on the machine widens every range. */
  loadAverage: number;
}

async function withPg<T>(f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(PG);
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

async function withMysql<T>(f: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection(MYSQL);
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

export async function machine(): Promise<Machine> {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryMB: Math.round(totalmem() / 2 ** 20),
    platform: `${platform()} ${release()}`,
    node: process.version,
    postgres: await withPg(async (c) => (await c.query('SHOW server_version')).rows[0].server_version),
    mysql: await withMysql(async (c) => ((await c.query('SELECT VERSION() AS v')) as any)[0][0].v),
    loadAverage: loadavg()[0]!,
  };
}

export interface Sessions {
  /** PostgreSQL sessions named forksafe-bench (every workload's pg connection). */
  pg: number;
  /** MariaDB connections of the benchmark's user, other than the one counting. */
  mysql: number;
}

export async function sessions(): Promise<Sessions> {
  return {
    pg: await withPg(async (c) => Number((await c.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'forksafe-bench'")).rows[0].n)),
    mysql: await withMysql(async (c) => Number(((await c.query('SELECT count(*) AS n FROM information_schema.processlist WHERE user = ? AND id <> CONNECTION_ID()', [MYSQL.user])) as any)[0][0].n)),
  };
}

/** Sessions close asynchronously on the server side: wait a little for the count to fall back. */
export async function sessionsSettled(before: Sessions, waitMs = 3000): Promise<Sessions> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = await sessions();
    if ((now.pg <= before.pg && now.mysql <= before.mysql) || Date.now() > deadline) return now;
    await new Promise((r) => setTimeout(r, 200));
  }
}
