// The versions each patch supports: data, read by the patches and by the tests alike
// (test/libs-supported.test.ts checks that the fixture apps the version tests run cover
// each range: its lower bound, the first version of every layout, and the latest).
// A version outside its range is left alone, with one debug line.

// Where a package changed a file or a field a patch relies on, each layout gets its own
// patch entry with its own range; the package's range is their union.
export const LAYOUTS = {
  pg: {
    // lib/client.js keeps the running query in `activeQuery` and the waiting ones in `queryQueue`.
    // 8.0.0 to 8.0.2 never finish connecting on Node 14 and later (fixed in 8.0.3), so
    // they cannot run under Node 20 and are not declared.
    plainQueryFields: '>=8.0.3 <8.17.0',
    // 8.17.0 renamed them `_activeQuery` / `_queryQueue`; the old names became getters that
    // print a deprecation warning (https://github.com/brianc/node-postgres/blob/pg%408.17.0/packages/pg/lib/client.js).
    underscoredQueryFields: '>=8.17.0 <9',
  },
  mysql2: {
    // createConnection / createPool / createPoolCluster are defined in index.js, and
    // mysql2/promise calls them there (https://github.com/sidorares/node-mysql2/blob/v3.11.4/index.js).
    factoriesInIndex: '>=3.0.0 <3.11.5',
    // 3.11.5 moved them to lib/create_*.js, which index.js and promise.js both require
    // (https://github.com/sidorares/node-mysql2/blob/v3.11.5/promise.js).
    factoriesInCreateFiles: '>=3.11.5 <4',
  },
} as const;

// Upstream changes to what the patches read that need no entry of their own (the patches
// work the same on both sides); the version tests run a version on each side all the same.
export const HARMLESS_CHANGES = [
  // `_remove(client, callback)`: a close settles on the socket's close instead.
  { package: 'pg-pool', version: '3.10.1' },
  // `_ended` appears; `ended` reads `_ending` too, set by end() in every 8.x.
  { package: 'pg', version: '8.10.0' },
  // The pool queues move from denque to lib/ring_queue.js, with the same `length` and `toArray()`.
  { package: 'mysql2', version: '3.23.3' },
] as const;

export const SUPPORTED = {
  pg: '>=8.0.3 <9',
  // Every 3.x keeps `_clients`, `_idle` (items `{ client }`), `_remove(client)`,
  // `_pulseQueue()` and `newClient()`. 3.10.1 added a callback to `_remove`; it is not used:
  // a close settles when the client's socket closes, in every 3.x.
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
  // Jest's module runtime, one range per layout (patches/jest-runtime.ts); verified on 29.7 and 30.5.
  'jest-runtime@29': '>=29 <30',
  'jest-runtime@30': '>=30 <31',
  // Runner#run and Runner#currentRunnable in lib/runner.js (patches/mocha.ts); verified on 10.8 and 11.8.
  mocha: '>=10 <12',
} as const;
