// Shared by the tests: run fixtures under the agent in fresh processes, and ask the
// database servers themselves what they see.
import { spawn, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { MYSQL, PG, serverEnv } from './servers';

export const ROOT = resolve(__dirname, '..');
export const REGISTER = join(ROOT, 'dist', 'register.js');
export const FIXTURES = join(__dirname, 'fixtures');

export { PG, MYSQL };

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout parsed as JSON, when it is JSON. */
  json: any;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Node flags before the script; default: `-r dist/register.js`. */
  nodeArgs?: string[];
  /** The node binary; default: the one running the tests (see test/node-versions.ts for others). */
  node?: string;
  args?: string[];
  cwd?: string;
  timeoutMs?: number;
  /** Called with the child as soon as it starts (to watch it from the server side). */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
}

/** Unique per fixture run: pg sessions carry it as application_name (PGAPPNAME). */
export function uniqueName(prefix = 'fs'): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Runs `node -r dist/register.js <fixture>` with the database settings in its environment. */
export function runFixture(script: string, options: RunOptions = {}): Promise<RunResult> {
  const path = script.startsWith('/') ? script : join(FIXTURES, script);
  const nodeArgs = options.nodeArgs ?? ['-r', REGISTER];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...serverEnv(),
    NODE_OPTIONS: '',
    ...options.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const spawnOptions: SpawnOptions = { env, cwd: options.cwd ?? ROOT, stdio: [options.onSpawn ? 'pipe' : 'ignore', 'pipe', 'pipe'] };
  return new Promise((resolvePromise, reject) => {
    const child = spawn(options.node ?? process.execPath, [...nodeArgs, path, ...(options.args ?? [])], spawnOptions);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fixture ${script} timed out after ${options.timeoutMs ?? 60000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60000);
    options.onSpawn?.(child);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      let json: any;
      try {
        json = JSON.parse(last);
      } catch {
        json = undefined;
      }
      resolvePromise({ code, signal, stdout, stderr, json });
    });
  });
}

/** A fresh directory for a test's report files; removed by the returned function. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'forksafe-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function readReport(file: string): any[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

/** The server's own count of sessions carrying this application_name. */
export async function pgSessions(appName: string): Promise<number> {
  const client = new pg.Client({ ...PG, application_name: 'forksafe_test_observer' });
  await client.connect();
  try {
    const r = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [appName]);
    return r.rows[0].n;
  } finally {
    await client.end();
  }
}

/** Waits until the server's count matches (closing is asynchronous on the server side). */
export async function waitFor<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}

/**
 * A MySQL user of its own for one test, so the server's processlist can be counted for
 * that test alone. Call `drop()` when done.
 */
export async function mysqlUser(): Promise<{ user: string; sessions: () => Promise<number>; drop: () => Promise<void> }> {
  const user = uniqueName('fsu').slice(0, 32);
  const admin = await mysql.createConnection(MYSQL);
  await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY ''`);
  await admin.query(`CREATE USER '${user}'@'localhost' IDENTIFIED BY ''`);
  await admin.query(`GRANT ALL ON \`${MYSQL.database}\`.* TO '${user}'@'%'`);
  await admin.query(`GRANT ALL ON \`${MYSQL.database}\`.* TO '${user}'@'localhost'`);
  return {
    user,
    sessions: async () => {
      const [rows] = await admin.query('SELECT count(*) AS n FROM information_schema.processlist WHERE user = ?', [user]);
      return Number((rows as any)[0].n);
    },
    drop: async () => {
      const [rows] = await admin.query('SELECT id FROM information_schema.processlist WHERE user = ?', [user]);
      for (const r of rows as any[]) await admin.query(`KILL ${Number(r.id)}`).catch(() => undefined);
      await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
      await admin.query(`DROP USER IF EXISTS '${user}'@'localhost'`);
      await admin.end();
    },
  };
}

/** Terminates any session a failed test left behind. */
export async function pgKill(appName: string): Promise<void> {
  const client = new pg.Client({ ...PG, application_name: 'forksafe_test_observer' });
  await client.connect();
  try {
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
  } finally {
    await client.end();
  }
}

/** Runs `fn` with a fresh pg application_name (see uniqueName), and kills that name's sessions after. */
export async function withPgApp<T>(prefix: string, fn: (name: string) => Promise<T>): Promise<T> {
  const name = uniqueName(prefix);
  try {
    return await fn(name);
  } finally {
    await pgKill(name);
  }
}

export interface Stepper {
  /** The next JSON line the fixture printed (it prints one per step, then waits). */
  next(): Promise<any>;
  /** Lets the fixture go on to its next step. */
  go(): void;
  /** The whole run, once the fixture has exited. */
  done: Promise<RunResult>;
}

/**
 * Runs a fixture that stops at each step: it prints a JSON line and waits for a line on
 * stdin. Between steps the test asks the server what it sees.
 */
export function stepFixture(script: string, options: RunOptions = {}): Stepper {
  const lines: any[] = [];
  const waiting: Array<(v: any) => void> = [];
  let child!: ReturnType<typeof spawn>;
  let buffered = '';
  let exited: RunResult | undefined;
  const done = runFixture(script, {
    ...options,
    onSpawn: (c) => {
      child = c;
      c.stdout!.on('data', (d) => {
        buffered += d;
        let i;
        while ((i = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, i);
          buffered = buffered.slice(i + 1);
          let value: any;
          try {
            value = JSON.parse(line);
          } catch {
            continue;
          }
          const w = waiting.shift();
          if (w) w(value);
          else lines.push(value);
        }
      });
    },
  }).then((r) => {
    exited = r;
    for (const w of waiting.splice(0)) w(Promise.reject(new Error(`fixture exited (code ${r.code}) before its next step\nstderr: ${r.stderr}`)));
    return r;
  });
  return {
    next: () => {
      if (lines.length) return Promise.resolve(lines.shift());
      if (exited) return Promise.reject(new Error(`fixture exited (code ${exited.code})\nstderr: ${exited.stderr}`));
      return new Promise((r) => waiting.push(r));
    },
    go: () => child.stdin!.write('\n'),
    done,
  };
}

/** A table a child writes to if it ever runs SQL in its parent's session. */
export async function spokeRows(app: string): Promise<number> {
  const client = new pg.Client({ ...PG, application_name: 'forksafe_test_observer' });
  await client.connect();
  try {
    await client.query('CREATE TABLE IF NOT EXISTS forksafe_spoke (app text, at timestamptz DEFAULT now())');
    const r = await client.query('SELECT count(*)::int AS n FROM forksafe_spoke WHERE app = $1', [app]);
    return r.rows[0].n;
  } finally {
    await client.end();
  }
}
