// The database servers the tests and the benchmark talk to: the usual variables, with this
// machine's defaults. One place, shared by test/helpers.ts and bench/machine.ts.

export const PG = {
  host: process.env.PGHOST || '127.0.0.1',
  port: Number(process.env.PGPORT || 5432),
  user: process.env.PGUSER || 'postgres',
  database: process.env.PGDATABASE || 'test',
};

export const MYSQL = {
  host: process.env.MYSQL_HOST || '127.0.0.1',
  port: Number(process.env.MYSQL_PORT || 3306),
  user: process.env.MYSQL_USER || 'root',
  password: process.env.MYSQL_PASSWORD || '',
  database: process.env.MYSQL_DATABASE || 'test',
};

/** The same settings as variables for a child process (fixtures and workloads read these). */
export function serverEnv(): Record<string, string> {
  return {
    PGHOST: PG.host,
    PGPORT: String(PG.port),
    PGUSER: PG.user,
    PGDATABASE: PG.database,
    MYSQL_HOST: MYSQL.host,
    MYSQL_PORT: String(MYSQL.port),
    MYSQL_USER: MYSQL.user,
    MYSQL_PASSWORD: MYSQL.password,
    MYSQL_DATABASE: MYSQL.database,
  };
}
