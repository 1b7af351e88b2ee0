import type { Patch } from '../agent/patching';
import { childProcessPatch } from './child-process';
import { clusterPatch } from './cluster';
import { mariadbPatches } from './mariadb';
import { mysqlPatch } from './mysql';
import { mysql2Patches } from './mysql2';
import { netPatch } from './net';
import { pgClientPatches, pgPoolPatch } from './pg';
import { postgresPatches } from './postgres';
import { processPatch } from './process';
import { jestRuntimePatches } from './jest-runtime';
import { knexPatch } from './knex';
import { mochaPatch } from './mocha';
import { ioredisPatch, nodeRedisPatch } from './redis';
import { sequelizePatch } from './sequelize';
import { vitestPatch } from './vitest';

/** Everything forksafe patches, one file per module. */
export const patches: readonly Patch[] = [netPatch, childProcessPatch, clusterPatch, processPatch, vitestPatch, pgPoolPatch, ...pgClientPatches, ...mysql2Patches, ...mariadbPatches, mysqlPatch, ...postgresPatches, knexPatch, sequelizePatch, ioredisPatch, nodeRedisPatch, ...jestRuntimePatches, mochaPatch];
