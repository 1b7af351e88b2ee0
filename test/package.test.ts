// The tarball: `npm pack`, installed into a throw-away app, loaded the two ways users load
// it, against the real servers. The only proof that `exports`, `bin` and the build are right.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FIXTURES, mysqlUser, pgKill, ROOT, runFixture, tempDir, uniqueName } from './helpers';

const work = tempDir();
const app = join(work.dir, 'app');

before(() => {
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', work.dir], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'throwaway-app', version: '1.0.0', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', join(work.dir, packed)], { cwd: app, stdio: 'pipe' });
  // The drivers are the app's own: linked from this repo's devDependencies.
  for (const dep of ['pg', 'mysql2']) symlinkSync(join(ROOT, 'node_modules', dep), join(app, 'node_modules', dep));
  copyFileSync(join(FIXTURES, 'package', 'app.js'), join(app, 'app.js'));
  copyFileSync(join(FIXTURES, 'package', 'app.mjs'), join(app, 'app.mjs'));
});

after(() => work.cleanup());

test('the tarball holds the build, the types and the bin, and nothing else', () => {
  const pkg = join(app, 'node_modules', 'forksafe');
  // docs/shared-connection-symptoms.md is the page every violation message points to.
  for (const f of ['dist/register.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'package.json', 'README.md', 'LICENSE', 'docs/shared-connection-symptoms.md', 'dist/cli/report-page/page.html']) assert.ok(existsSync(join(pkg, f)), f);
  const shipped = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  assert.equal(shipped.license, 'MIT');
  assert.ok(shipped.repository?.url, 'a repository to link to');
  for (const f of ['agent', 'test', 'node_modules/pg']) assert.ok(!existsSync(join(pkg, f)), `${f} is not shipped`);
  const help = spawnSync(join(app, 'node_modules', '.bin', 'forksafe'), ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /forksafe report/);
});

for (const [how, script, nodeArgs] of [
  ['node -r forksafe/register app.js', 'app.js', ['-r', 'forksafe/register']],
  ['node --import forksafe/register app.mjs', 'app.mjs', ['--import', 'forksafe/register']],
] as const) {
  test(`installed from the tarball: ${how}`, async () => {
    const my = await mysqlUser();
    const appName = uniqueName('pack');
    try {
      const run = await runFixture(join(app, script), { cwd: app, nodeArgs: [...nodeArgs], env: { PGAPPNAME: appName, MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.json.before, ['mysql2:pool:2', 'pg:pool:3']);
      assert.deepEqual(run.json.after, ['mysql2:pool:0', 'pg:pool:0'], 'cluster.fork closed the idle connections');
      assert.deepEqual(run.json.reply, { agent: true });
      assert.equal(run.json.isError, true);
    } finally {
      await my.drop();
      await pgKill(appName);
    }
  });
}
