// Vitest under the agent, with no config file and no change to Vitest's config: the real
// Vitest 2, 3 and 4 (test/apps/vitest-*), its forks, threads and vmThreads pools chosen by
// the --pool flag, on small projects in temp folders, against the real PostgreSQL. These
// tests prove from outside, through Vitest's exit code, its output and the report, that
// strict mode fails the violating test there and only there.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, PG, uniqueName } from './helpers';
import { LAUNCHES, noSessionsLeft, project, runUnderAgent } from './runner-project';

const VITEST_FIXTURES = join(FIXTURES, 'vitest');
const VERSIONS = ['2', '3', '4'] as const;
const POOLS = ['forks', 'threads', 'vmThreads'] as const;

// The violating line of the fixture, as Vitest prints it (mapped through Vite's source map).
const SITE_LINE = readFileSync(join(VITEST_FIXTURES, 'violating.test.js'), 'utf8').split('\n').findIndex((l) => l.includes('VIOLATION-SITE')) + 1;

function runVitest(dir: string, launch: (typeof LAUNCHES)[number], pool: string, appName: string) {
  return runUnderAgent(dir, launch, join(dir, 'node_modules', 'vitest', 'vitest.mjs'), ['run', `--pool=${pool}`], appName);
}

for (const version of VERSIONS) {
  for (const pool of POOLS) {
    // vmThreads loads node_modules through Vitest's own CommonJS executor (a Module class of
    // its own, compiled with vm.Script in the test's context): the driver patches are not
    // applied there, so the tracked file (databases() lists the pool) runs in the other pools only.
    const patched = pool !== 'vmThreads';
    for (const launch of LAUNCHES) {
      test(`Vitest ${version}, --pool=${pool}, ${launch}: the violating test fails with ForkSafetyError, the rest pass, the report has its site`, async () => {
        const files = ['violating.test.js', 'clean.test.js', 'child.cjs', ...(patched ? ['tracked.test.js'] : [])];
        const p = project(`vitest-${version}`, VITEST_FIXTURES, files);
        const app = uniqueName('fsvitest');
        try {
          const run = await runVitest(p.dir, launch, pool, app);
          assert.notEqual(run.code, 0, run.output);
          // Vitest's own failure output: the one failing test, its error, at the test file's line.
          assert.deepEqual(run.output.match(/FAIL .*/g), ['FAIL  violating.test.js > pool > hands a pooled socket to a child'], run.output);
          assert.match(run.output, /ForkSafetyError: A connection's socket was handed to another process: pg connection/, run.output);
          // vmThreads: Vitest prints the frame of the code it ran, unmapped.
          assert.match(run.output, new RegExp(`❯ violating\\.test\\.js:${patched ? SITE_LINE : '\\d+'}:\\d+`), run.output);
          // The file's other tests, and the other files, pass.
          assert.match(run.output, patched ? /Tests\s+1 failed \| 5 passed \(6\)/ : /Tests\s+1 failed \| 4 passed \(5\)/, run.output);
          // One violation, the violating file's: the clean file adds none.
          const violations = run.report.filter((r) => r.type === 'violation');
          assert.equal(violations.length, 1, JSON.stringify(run.report));
          const [v] = violations;
          const file = join(p.dir, 'violating.test.js');
          assert.equal(v.kind, 'handle-transfer');
          assert.equal(v.driver, 'pg');
          // The test file's own line, mapped through the source map Vitest keeps of the file
          // (patches/vitest.ts), and the test by the name Vitest prints. vmThreads runs the
          // test in a vm context whose worker state the agent does not reach: the line is
          // that of the code Vite's transform produced, and the test is not named.
          assert.ok(v.site.startsWith(file), v.site);
          assert.match(v.site.slice(file.length), patched ? new RegExp(`^:${SITE_LINE}:\\d+$`) : /^:\d+:\d+$/, v.site);
          assert.ok(v.message.includes(`at ${v.site};`), v.message);
          if (patched) assert.deepEqual(v.test, { file, name: 'pool > hands a pooled socket to a child' });
          assert.ok(v.openedSite.startsWith(`${file}:`), v.openedSite);
          // Where the pg patch applied, the target is the driver's own (user@host:port/db);
          // in vmThreads only the socket's watch saw it, and knows the address alone.
          assert.equal(v.target, patched ? `${PG.user}@${PG.host}:${PG.port}/${PG.database}` : `${PG.host}:${PG.port}`);
          // threads and vmThreads run the test in Vitest's own process; forks in a child of it.
          // Under `forksafe run`, Vitest is the spawned process's child.
          const where = `violation pid ${v.pid} ppid ${v.ppid}, spawned ${run.pid}`;
          if (launch === 'NODE_OPTIONS') assert.equal(pool === 'forks' ? v.ppid : v.pid, run.pid, where);
          else if (pool === 'forks') assert.ok(v.pid !== run.pid && v.ppid !== run.pid, where);
          else assert.equal(v.ppid, run.pid, where);
          if (launch === 'forksafe run --strict') assert.match(run.output, /1 violation/);
        } finally {
          p.cleanup();
          await noSessionsLeft(app);
        }
      });
    }

    test(`Vitest ${version}, --pool=${pool}, forksafe run --strict: a clean file passes with zero violations`, async () => {
      const p = project(`vitest-${version}`, VITEST_FIXTURES, ['clean.test.js', 'child.cjs']);
      const app = uniqueName('fsvitest');
      try {
        const run = await runVitest(p.dir, 'forksafe run --strict', pool, app);
        assert.equal(run.code, 0, run.output);
        assert.match(run.output, /Tests\s+2 passed \(2\)/, run.output);
        assert.deepEqual(run.report.filter((r) => r.type === 'violation'), []);
        assert.match(run.output, /no violations/);
      } finally {
        p.cleanup();
        await noSessionsLeft(app);
      }
    });
  }
}
