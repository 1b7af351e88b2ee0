// Mocha under the agent, with no .mocharc and no change to Mocha's config: the real Mocha 10
// and 11 (test/apps/mocha-*), plain (every file in Mocha's own process) and --parallel
// (each file in a workerpool child process), on small projects in temp folders, against
// the real PostgreSQL. These tests prove from outside, through Mocha's exit code, its output
// and the report, that strict mode fails the violating test there and only there.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, PG, uniqueName } from './helpers';
import { LAUNCHES, noSessionsLeft, project, runUnderAgent } from './runner-project';

const MOCHA_FIXTURES = join(FIXTURES, 'mocha');
const VERSIONS = ['10', '11'] as const;

// The violating line of the fixture: Mocha runs test files as they are, so its stack's line is the source's.
const SITE_LINE = readFileSync(join(MOCHA_FIXTURES, 'violating.test.js'), 'utf8').split('\n').findIndex((l) => l.includes('VIOLATION-SITE')) + 1;

function runMocha(dir: string, launch: (typeof LAUNCHES)[number], parallel: boolean, appName: string) {
  const args = [...(parallel ? ['--parallel'] : []), '*.test.js'];
  return runUnderAgent(dir, launch, join(dir, 'node_modules', 'mocha', 'bin', 'mocha.js'), args, appName);
}

for (const version of VERSIONS) {
  for (const parallel of [false, true]) {
    const mode = parallel ? '--parallel' : 'plain';
    for (const launch of LAUNCHES) {
      test(`Mocha ${version}, ${mode}, ${launch}: the violating test fails with ForkSafetyError, the rest pass, the report has its site`, async () => {
        const p = project(`mocha-${version}`, MOCHA_FIXTURES, ['violating.test.js', 'clean.test.js', 'tracked.test.js', 'child.js']);
        const app = uniqueName('fsmocha');
        try {
          const run = await runMocha(p.dir, launch, parallel, app);
          assert.notEqual(run.code, 0, run.output);
          // Mocha's own failure output: the one failing test, its error, at the test file's line.
          assert.deepEqual(run.output.match(/^ {2}\d+\) .*:$/gm), ['  1) hands a pooled socket to a child:'], run.output);
          assert.match(run.output, /ForkSafetyError: A connection's socket was handed to another process: pg connection/, run.output);
          assert.match(run.output, new RegExp(`at Context\\.<anonymous> \\(violating\\.test\\.js:${SITE_LINE}:\\d+\\)`), run.output);
          // The file's other tests, and the other files (tracked: the pg patch applied), pass.
          assert.match(run.output, /5 passing/, run.output);
          assert.match(run.output, /1 failing/, run.output);
          const violations = run.report.filter((r) => r.type === 'violation');
          assert.equal(violations.length, 1, JSON.stringify(run.report));
          const [v] = violations;
          const file = join(p.dir, 'violating.test.js');
          assert.equal(v.kind, 'handle-transfer');
          assert.equal(v.driver, 'pg');
          assert.equal(v.target, `${PG.user}@${PG.host}:${PG.port}/${PG.database}`);
          assert.match(v.site.slice(file.length), new RegExp(`^:${SITE_LINE}:\\d+$`), v.site);
          assert.ok(v.site.startsWith(file), v.site);
          assert.ok(v.message.includes(`at ${v.site};`), v.message);
          // The running test, as Mocha's Runner knows it (patches/mocha.ts): its full title.
          assert.deepEqual(v.test, { file, name: 'hands a pooled socket to a child' });
          // Plain: the test ran in Mocha's own process; --parallel: in a worker, a child of it.
          const where = `violation pid ${v.pid} ppid ${v.ppid}, spawned ${run.pid}`;
          if (launch === 'NODE_OPTIONS') assert.equal(parallel ? v.ppid : v.pid, run.pid, where);
          else if (parallel) assert.ok(v.pid !== run.pid && v.ppid !== run.pid, where);
          else assert.equal(v.ppid, run.pid, where);
          if (launch === 'forksafe run --strict') assert.match(run.output, /1 violation/);
        } finally {
          p.cleanup();
          await noSessionsLeft(app);
        }
      });
    }

    test(`Mocha ${version}, ${mode}, forksafe run --strict: a clean file passes with zero violations`, async () => {
      const p = project(`mocha-${version}`, MOCHA_FIXTURES, ['clean.test.js', 'child.js']);
      const app = uniqueName('fsmocha');
      try {
        const run = await runMocha(p.dir, 'forksafe run --strict', parallel, app);
        assert.equal(run.code, 0, run.output);
        assert.match(run.output, /2 passing/, run.output);
        assert.doesNotMatch(run.output, /failing/, run.output);
        assert.deepEqual(run.report.filter((r) => r.type === 'violation'), []);
        assert.match(run.output, /no violations/);
      } finally {
        p.cleanup();
        await noSessionsLeft(app);
      }
    });
  }
}
