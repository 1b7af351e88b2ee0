// Whatever loads the application's code: TypeScript loaders (tsx, ts-node, esbuild-register,
// @babel/register, @swc-node/register, jiti), each before and after the agent's preload, ESM
// apps, packages installed under another name, and a package whose module.exports is a getter.
// The loaders are pinned in test/apps/loaders; the fixtures in test/fixtures/loaders reach them
// through a node_modules symlink made here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { FIXTURES, pgKill, pgSessions, REGISTER, ROOT, runFixture, uniqueName, waitFor } from './helpers';

const APP = join(ROOT, 'test', 'apps', 'loaders');
const DIR = join(FIXTURES, 'loaders');
const MODULES = join(APP, 'node_modules');
const VENDORED = join(DIR, 'vendor', 'pg');
const INDEX = join(ROOT, 'dist', 'index.js');
const EXPECTED = ['mysql2:pool', 'pg:connection', 'pg:pool'];

before(() => {
  assert.ok(existsSync(join(MODULES, 'tsx')), 'test/apps/loaders is installed (npm ci there)');
  rmSync(join(DIR, 'node_modules'), { force: true });
  symlinkSync(join('..', '..', 'apps', 'loaders', 'node_modules'), join(DIR, 'node_modules'));
  // A vendored pg: its own files outside every node_modules folder, found by its package.json.
  rmSync(join(DIR, 'vendor'), { recursive: true, force: true });
  cpSync(join(MODULES, 'pg', 'package.json'), join(VENDORED, 'package.json'));
  cpSync(join(MODULES, 'pg', 'lib'), join(VENDORED, 'lib'), { recursive: true });
});

interface Case {
  name: string;
  /** Node flags before the script. */
  nodeArgs: string[];
  script: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs one fixture in strict mode; it prints the registry's view and what the door did. */
async function check(c: Case): Promise<void> {
  const app = uniqueName('loader');
  try {
    const run = await runFixture(join(DIR, c.script), {
      cwd: DIR,
      nodeArgs: c.nodeArgs,
      env: { PGAPPNAME: app, FORKSAFE_MODE: 'strict', FORKSAFE_INDEX: INDEX, ...c.env },
      timeoutMs: 120000,
    });
    assert.equal(run.code, 0, `${c.name}: exit code\n${run.stderr}`);
    assert.ok(run.json, `${c.name}: no JSON on stdout\n${run.stdout}\n${run.stderr}`);
    assert.equal(run.json.agent, true, `${c.name}: the agent runs in the app`);
    assert.deepEqual(run.json.databases, EXPECTED, `${c.name}: databases() sees the pool, the client and the mysql2 pool`);
    assert.equal(run.json.door, 'FORKSAFE_HANDLE_TRANSFER', `${c.name}: the client's socket over IPC throws ForkSafetyError`);
    assert.equal(await waitFor(() => pgSessions(app), (n) => n === 0), 0, `${c.name}: every session closed`);
  } finally {
    await pgKill(app);
  }
}

const bin = (pkg: string, file: string) => join(MODULES, pkg, file);
const preload = ['-r', REGISTER];
/** The agent through NODE_OPTIONS, as `forksafe run -- tsx app.ts` gives it to a CLI. */
const viaNodeOptions = { NODE_OPTIONS: `-r ${REGISTER}` };

// Each CommonJS-style loader, before and after the agent's preload.
const requireLoaders: [string, string][] = [
  ['ts-node', 'ts-node/register'],
  ['esbuild-register', 'esbuild-register'],
  ['@babel/register', './babel-register.js'],
  ['@swc-node/register', '@swc-node/register'],
  ['tsx (CommonJS hook)', 'tsx/cjs'],
];

for (const [name, hook] of requireLoaders) {
  test(`${name}: drivers patched and the door closed, with the loader before or after the agent`, async () => {
    await check({ name: `-r agent -r ${hook}`, nodeArgs: [...preload, '-r', hook], script: 'app.ts' });
    await check({ name: `-r ${hook} -r agent`, nodeArgs: ['-r', hook, ...preload], script: 'app.ts' });
  });
}

test('tsx: `tsx app.ts`, `node --import tsx` either side of the preload, CommonJS and ESM apps', async () => {
  for (const script of ['app.ts', 'app.mts']) {
    await check({ name: `tsx ${script}`, nodeArgs: [bin('tsx', 'dist/cli.mjs')], script, env: viaNodeOptions });
    await check({ name: `--import tsx -r agent ${script}`, nodeArgs: ['--import', 'tsx', ...preload], script });
    await check({ name: `-r agent --import tsx ${script}`, nodeArgs: [...preload, '--import', 'tsx'], script });
  }
});

test('jiti: the `jiti app.ts` CLI, and --import jiti/register (its ESM hooks hand Node the CommonJS source) either side of the preload', async () => {
  // jiti 2 has no CommonJS `jiti/register`: its package.json exports it for `import` only.
  const exported = JSON.parse(readFileSync(join(MODULES, 'jiti', 'package.json'), 'utf8')).exports['./register'];
  assert.equal(exported.require, undefined);
  await check({ name: 'jiti app.ts', nodeArgs: [bin('jiti', 'lib/jiti-cli.mjs')], script: 'app.ts', env: viaNodeOptions });
  for (const script of ['app.ts', 'app.mts']) {
    await check({ name: `-r agent --import jiti/register ${script}`, nodeArgs: [...preload, '--import', 'jiti/register'], script });
    await check({ name: `--import jiti/register -r agent ${script}`, nodeArgs: ['--import', 'jiti/register', ...preload], script });
  }
});

test("Node's own type stripping: run where this Node has it; Node 20 rejects the flag", async () => {
  const probe = spawnSync(process.execPath, ['--experimental-strip-types', '-e', '0'], { encoding: 'utf8' });
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    assert.notEqual(probe.status, 0, 'Node 20 has no --experimental-strip-types');
    assert.match(probe.stderr, /bad option/);
    return;
  }
  assert.equal(probe.status, 0, probe.stderr);
  await check({ name: 'node --experimental-strip-types app.mts', nodeArgs: [...preload, '--experimental-strip-types'], script: 'app.mts' });
});

test('pg installed under another name: an npm alias (pg-legacy = npm:pg@8.11.3) and a vendored copy outside node_modules', async () => {
  assert.equal(JSON.parse(readFileSync(join(MODULES, 'pg-legacy', 'package.json'), 'utf8')).version, '8.11.3');
  await check({ name: 'alias pg-legacy', nodeArgs: preload, script: 'identity.js', env: { PG_MODULE: 'pg-legacy' } });
  await check({ name: 'vendored pg', nodeArgs: preload, script: 'identity.js', env: { PG_MODULE: VENDORED } });
});

test('chalk 4 (ansi-styles: module.exports is a getter without a setter): silent, exit 0, the same output as bare Node', () => {
  const script = "const chalk = require('chalk'); console.log(JSON.stringify([chalk.red('x'), chalk.bold.blue('y'), Object.keys(require('ansi-styles')).length]))";
  const run = (args: string[]) => spawnSync(process.execPath, [...args, '-e', script], { cwd: APP, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', FORCE_COLOR: '1' } });
  const bare = run([]);
  const agent = run(preload);
  assert.equal(bare.status, 0, bare.stderr);
  assert.equal(agent.status, 0, agent.stderr);
  assert.equal(agent.stderr, '');
  assert.equal(agent.stdout, bare.stdout);
  assert.match(agent.stdout, /\\u001b\[31mx/);
});
