// The versions each patch supports: data, read by the patches and by the tests alike.
// A version outside its range is left alone, with one debug line.
export const SUPPORTED = {
  pg: '>=8 <9',
  'pg-pool': '>=3 <4',
  mysql2: '>=3 <4',
  // Three layouts inside (3.0; 3.1 to 3.4; the ESM package with CJS bundles from 3.5): patches/mariadb.ts.
  mariadb: '>=3 <4',
  // index.js's factories and lib/Pool.js's arrays (2.18.0 and 2.18.1, the latest, differ only in TLS profiles).
  mysql: '>=2.18 <3',
  // postgres.js: its CommonJS build (cjs/src/index.js, cjs/src/connection.js); verified on 3.3.0 and 3.4.
  postgres: '>=3.3 <4',
  // Client#initializePool and a tarn Pool in client.pool (knex 2 and 3); verified on 3.3.
  knex: '>=2 <4',
  // The abstract ConnectionManager's initPools/_connect and sequelize-pool (Sequelize 6;
  // Sequelize 7 is @sequelize/core, another layout).
  sequelize: '>=6 <7',
  // built/Redis.js since the TypeScript rewrite in 5.0; verified on 6.0.
  ioredis: '>=5 <7',
  // The client of `redis` 6 (redis@6 ships @redis/client@6); verified on 6.3.
  '@redis/client': '>=6 <7',
} as const;
