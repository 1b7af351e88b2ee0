// forksafe/esbuild: an app bundled with esbuild, its drivers inlined, is tracked, closed
// before a fork and watched at the doors as if it loaded the drivers from node_modules.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { mysqlUser, pgKill, REGISTER, ROOT, runFixture, tempDir, uniqueName } from './helpers';

const esbuild = require(join(ROOT, 'node_modules', 'esbuild')) as typeof import('esbuild');
const work = tempDir();
after(() => work.cleanup());

async function bundle(withPlugin: boolean): Promise<string> {
  const outfile = join(work.dir, withPlugin ? 'with-plugin.js' : 'without.js');
  await esbuild.build({
    entryPoints: [join(__dirname, 'fixtures', 'esbuild', 'app.js')],
    bundle: true,
    platform: 'node',
    outfile,
    logLevel: 'silent',
    // pg's optional native binding is never bundled.
    external: ['pg-native'],
    plugins: withPlugin ? [require(join(ROOT, 'dist', 'esbuild.js'))] : [],
  });
  return outfile;
}

async function run(file: string) {
  const my = await mysqlUser();
  const appName = uniqueName('bundle');
  try {
    return await runFixture(file, { nodeArgs: ['-r', REGISTER], cwd: work.dir, env: { FORKSAFE_MODE: 'strict', PGAPPNAME: appName, MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
  } finally {
    await my.drop();
    await pgKill(appName);
  }
}

test('with forksafe/esbuild, the bundled pg and mysql2 pools are tracked, closed before a fork, and their sockets caught', async () => {
  const r = await run(await bundle(true));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json.before, ['mysql2:pool:1', 'pg:pool:2']);
  assert.deepEqual(r.json.afterFork, ['mysql2:pool:0', 'pg:pool:0'], 'the idle connections were closed before the fork');
  assert.equal(r.json.childExit, 0);
  assert.equal(r.json.door, 'ForkSafetyError pg');
});

test('without it nothing in the bundle is tracked (which is why the plugin exists), though the socket is still caught as a client socket', async () => {
  const r = await run(await bundle(false));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json.before, []);
  assert.match(r.json.door, /^ForkSafetyError /);
});
