// The agent as users get it: `npm pack` of this repository, installed into a throw-away
// app, loaded with `-r forksafe/register` from that app's directory. `--agent dist` loads
// dist/register.js in place instead (faster to set up, same code).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface AgentUnderTest {
  how: 'packed' | 'dist';
  /** What `-r` gets. */
  register: string;
  /** Where every workload runs, bare or not: `-r forksafe/register` resolves from here. */
  cwd: string;
  /** One line for the output: where the agent came from. */
  describe: string;
  cleanup(): void;
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function prepareAgent(root: string, how: 'packed' | 'dist'): AgentUnderTest {
  if (!existsSync(join(root, 'dist', 'register.js'))) {
    throw new Error('dist/register.js is missing: run `npm run build` first (`npm run bench` does)');
  }
  if (how === 'dist') {
    return { how, register: join(root, 'dist', 'register.js'), cwd: root, describe: 'dist/register.js of this checkout (--agent dist)', cleanup() {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'forksafe-bench-'));
  try {
    // dist/ is fresh (npm run bench builds first): skip prepack's second build.
    npm(['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], root);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack wrote no tarball in ${dir}`);
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'forksafe-bench-app', private: true }));
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--silent', join(dir, tarball)], app);
    return {
      how,
      register: 'forksafe/register',
      cwd: app,
      describe: `npm pack → ${tarball}, installed in a throw-away app, loaded with -r forksafe/register`,
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
