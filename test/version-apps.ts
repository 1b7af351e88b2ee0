// The driver versions the version tests run: one fixture app per layout boundary under
// test/apps/ (pg-*, mysql2-*), plus the repository's own devDependencies (the latest).
// Shared by test/versions.test.ts (which runs them) and test/libs-supported.test.ts
// (which checks that they cover the declared ranges).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers';

export type Driver = 'pg' | 'mysql2';

export interface VersionApp {
  /** The folder whose node_modules holds the driver. */
  dir: string;
  /** `pg-8.0`, or `latest` for the repository's own. */
  name: string;
  driver: Driver;
  /** What is installed there: pg and pg-pool, or mysql2. */
  versions: Record<string, string>;
}

const APPS = join(ROOT, 'test', 'apps');

/** Installed versions as the app's lockfile pins them (what `npm ci` installs). */
function lockedVersions(dir: string, packages: string[]): Record<string, string> {
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')).packages as Record<string, { version: string }>;
  const out: Record<string, string> = {};
  for (const p of packages) {
    // pg-pool may sit next to pg or inside it.
    const entry = lock[`node_modules/${p}`] ?? Object.entries(lock).find(([k]) => k.endsWith(`/node_modules/${p}`))?.[1];
    if (entry) out[p] = entry.version;
  }
  return out;
}

const PACKAGES: Record<Driver, string[]> = { pg: ['pg', 'pg-pool'], mysql2: ['mysql2'] };

export function versionApps(): VersionApp[] {
  const apps: VersionApp[] = [];
  for (const name of readdirSync(APPS).sort()) {
    const driver = (['pg', 'mysql2'] as const).find((d) => name.startsWith(`${d}-`));
    if (!driver || !existsSync(join(APPS, name, 'package-lock.json'))) continue;
    apps.push({ dir: join(APPS, name), name, driver, versions: lockedVersions(join(APPS, name), PACKAGES[driver]) });
  }
  for (const driver of ['pg', 'mysql2'] as const) {
    apps.push({ dir: ROOT, name: 'latest', driver, versions: lockedVersions(ROOT, PACKAGES[driver]) });
  }
  return apps;
}
