// What the MySQL/MariaDB server itself says about a test's connections: which are open, and
// how the closed ones ended.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import mysql from 'mysql2/promise';
import { MYSQL } from './helpers';

/**
 * Connections of `user` the server counted as aborted (closed without a COM_QUIT). The global
 * Aborted_clients grows with every other client of a shared server; the server logs the same
 * event per connection, with its user, in its error log (log_warnings >= 2).
 */
export async function abortedFor(user: string): Promise<number> {
  const admin = await mysql.createConnection(MYSQL);
  try {
    const [rows] = await admin.query('SELECT @@log_error AS file, @@log_warnings AS warnings, @@datadir AS datadir');
    const { file, warnings, datadir } = (rows as any)[0];
    assert.ok(Number(warnings) >= 2, 'the server logs aborted connections only with log_warnings >= 2');
    const text = readFileSync(isAbsolute(file) ? file : join(datadir, file), 'utf8');
    return text.split('\n').filter((l) => l.includes('Aborted connection') && l.includes(`user: '${user}'`)).length;
  } finally {
    await admin.end();
  }
}

/** The processlist ids of `user`'s sessions: to follow given connections, whatever else opens. */
export async function sessionIds(user: string): Promise<number[]> {
  const admin = await mysql.createConnection(MYSQL);
  try {
    const [rows] = await admin.query('SELECT id FROM information_schema.processlist WHERE user = ? ORDER BY id', [user]);
    return (rows as any[]).map((r) => Number(r.id));
  } finally {
    await admin.end();
  }
}
