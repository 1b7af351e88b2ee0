// The agent on the other Node.js majors users run (test/node-versions.ts: 22 and 24), beside
// the one running the suite: a cross-section of what it does, each in fresh processes of
// that Node against the real servers, through the same fixtures as the rest of the suite.
// The whole suite runs under those majors by hand (DEVELOPERS.md); this file keeps the
// cross-section proven on every `npm test`.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FIXTURES, mysqlUser, PG, pgKill, pgSessions, readReport, ROOT, runFixture, spokeRows, stepFixture, tempDir, uniqueName, waitFor } from './helpers';
import { nodeBinary, nodeTestOutput, OTHER_NODE_MAJORS } from './node-versions';
import { serverEnv } from './servers';

const work = tempDir();
after(() => work.cleanup());

/** `forksafe run <args>` under `node`, with its stdout and stderr in one string. */
function forksafeRun(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    // Without the outer runner's NODE_TEST_CONTEXT: the inner `node --test` is a run of its own.
    const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
    const child = spawn(node, [join(ROOT, 'dist', 'cli', 'main.js'), 'run', ...args], { cwd: ROOT, env: { ...outer, ...serverEnv(), NODE_OPTIONS: '', ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

for (const major of OTHER_NODE_MAJORS) {
  describe(`Node ${major}`, () => {
    const node = nodeBinary(major);
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();

    test(`the binary is Node ${major}, and the agent starts under it`, async () => {
      assert.match(version, new RegExp(`^v${major}\\.`));
      const run = await runFixture(join(FIXTURES, 'core', 'app-ran.js'), { node, nodeArgs: ['-r', join(ROOT, 'dist', 'register.js'), '-p', 'process.version'], env: { NODE_DEBUG: 'forksafe' } });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), version);
      assert.match(run.stderr, /FORKSAFE \d+: patched child_process\n/);
    });

    test('pg: a cluster primary with 10 warm connections holds no backend after the forks, counted by pg_stat_activity; each worker tracks and uses its own', async () => {
      const app = uniqueName(`n${major}fork`);
      const { dir, cleanup } = tempDir();
      const report = join(dir, 'r.jsonl');
      try {
        const run = stepFixture('core/cluster-primary.js', { node, env: { PGAPPNAME: app, FORK_API: 'cluster', STEP: '1', FORKSAFE_REPORT: report } });
        const forked = await run.next();
        assert.deepEqual(forked.after, { total: 0, idle: 0 }, 'the first fork closed every idle connection');
        assert.equal(await waitFor(() => pgSessions(app), (n) => n === 0), 0, 'the server sees the primary hold no backend');
        run.go();
        const end = await run.done;
        assert.equal(end.code, 0, end.stderr);
        const r = end.json;
        assert.deepEqual(r.before, { total: 10, idle: 10 });
        assert.equal(r.replies.length, 4);
        assert.equal(new Set(r.replies.map((w: any) => w.backend)).size, 4, 'each worker used a backend of its own');
        for (const w of r.replies) assert.equal(w.databases.length, 1, 'each worker runs the agent and tracks its own pool');
        const forks = readReport(report).filter((l) => l.type === 'fork');
        assert.deepEqual(forks.map((f) => `${f.api} ${f.closed}`), ['cluster.fork 10', 'cluster.fork 0', 'cluster.fork 0', 'cluster.fork 0']);
      } finally {
        cleanup();
        await pgKill(app);
        await pgKill(`${app}_w`);
      }
    });

    test('--import forksafe/register in an ESM app: pg and mysql2 pools tracked, both emptied before child_process.fork', async () => {
      const my = await mysqlUser();
      const app = uniqueName(`n${major}esm`);
      try {
        const run = await runFixture('core/cluster-primary.mjs', { node, nodeArgs: ['--import', join(ROOT, 'dist', 'register.js')], env: { PGAPPNAME: app, FORK_API: 'child_process', MYSQL_USER: my.user, MYSQL_PASSWORD: '' } });
        assert.equal(run.code, 0, run.stderr);
        const idle = (list: any[]) => list.map((d) => `${d.driver}:${d.idle}`).sort();
        assert.deepEqual(idle(run.json.before), ['mysql2:3', 'pg:4']);
        assert.deepEqual(idle(run.json.after), ['mysql2:0', 'pg:0']);
        assert.deepEqual(run.json.reply.databases, [], 'the child runs the agent and has opened nothing');
        assert.equal(await waitFor(my.sessions, (n) => n === 0), 0, 'the server sees no MySQL session left');
      } finally {
        await pgKill(app);
        await my.drop();
      }
    });

    for (const driver of ['pg', 'mysql2'] as const) {
      test(`${driver}, strict: send(msg, socket) throws ForkSafetyError before the socket leaves; the server never sees a child speak in the session`, async () => {
        const my = driver === 'mysql2' ? await mysqlUser() : undefined;
        const app = uniqueName(`n${major}door`);
        const env = my ? { DRIVER: driver, MYSQL_USER: my.user, MYSQL_PASSWORD: '', SPOKE_APP: my.user } : { DRIVER: driver, PGAPPNAME: app, SPOKE_APP: app };
        try {
          const run = await runFixture('detect/door.js', {
            node,
            env: { ...env, DOOR: 'send', FORKSAFE_MODE: 'strict', CHILD_SPEAKS: '1', CHILD_BARE: '1', FORKSAFE_PROPAGATE: '0', CHILD_WAIT_MS: '300' },
          });
          assert.equal(run.code, 0, run.stderr);
          const r = run.json;
          assert.equal(r.threw?.name, 'ForkSafetyError', JSON.stringify(r));
          assert.equal(r.threw.code, 'FORKSAFE_HANDLE_TRANSFER');
          assert.match(r.threw.message, /door\.js:\d+:\d+/, 'names the call site');
          assert.match(r.threw.message, /opened at .*connect\.js:\d+:\d+/, 'names where the connection was opened');
          assert.deepEqual(r.after, { v: 'parent-after-block' }, 'the connection answers after the blocked call');
          assert.equal(r.result, null, 'no child received the socket');
          if (driver === 'pg') assert.equal(await spokeRows(app), 0, 'the server never saw another process speak in this session');
        } finally {
          await pgKill(app);
          await my?.drop();
        }
      });
    }

    test('log: a pg socket in a child\'s stdio is recorded in the parent, and the child\'s agent reports it as inherited-socket, in one report file', async () => {
      const app = uniqueName(`n${major}inh`);
      const { dir, cleanup } = tempDir();
      const report = join(dir, 'r.jsonl');
      try {
        const run = await runFixture('detect/door.js', { node, env: { DRIVER: 'pg', PGAPPNAME: app, SPOKE_APP: app, DOOR: 'spawn-stdio-fd', FORKSAFE_REPORT: report, CHILD_WAIT_MS: '300' } });
        assert.equal(run.code, 0, run.stderr);
        const r = run.json;
        assert.equal(r.threw, null);
        assert.deepEqual(r.violations.map((v: any) => `${v.kind} ${v.api} ${v.driver}`), ['stdio-inherit child_process.spawn pg']);
        const child = r.result.reply;
        assert.equal(child.agent, true, 'the agent reached the child by itself');
        assert.deepEqual(child.violations.map((c: any) => c.kind), ['inherited-socket']);
        const lines = readReport(report).filter((l) => l.type === 'violation');
        assert.deepEqual(lines.map((l) => l.kind).sort(), ['inherited-socket', 'stdio-inherit']);
        assert.equal(new Set(lines.map((l) => l.pid)).size, 2, 'parent and child wrote one file');
        const inherited = lines.find((l) => l.kind === 'inherited-socket')!;
        assert.equal(inherited.target, `${PG.user}@${PG.host}:${PG.port}/${PG.database}`);
        assert.match(inherited.site, /^fd \d+$/);
      } finally {
        cleanup();
        await pgKill(app);
      }
    });

    test('--import of a module.register() hook: the -r preload that Node runs again in the hooks thread (isInternalThread) stays idle there', async () => {
      const run = await runFixture('core/app-ran.js', {
        node,
        nodeArgs: ['--import', join(FIXTURES, 'core', 'async-hook.mjs'), '-r', join(ROOT, 'dist', 'register.js')],
        env: { NODE_DEBUG: 'forksafe', APP_RAN_LINGER_MS: '500' },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.json?.ran, true, run.stdout);
      assert.equal(run.stderr.split('\n').filter((l) => / patched child_process$/.test(l)).length, 1, run.stderr);
      assert.match(run.stderr, /module loader thread: idle/);
    });

    test(`forksafe run --strict -- node --test: the violating test fails with ForkSafetyError, read in Node ${major}'s default reporter`, async () => {
      const out = nodeTestOutput(version);
      const app = uniqueName(`n${major}nt`);
      const { dir, cleanup } = tempDir();
      const report = join(dir, 'r.jsonl');
      try {
        const run = await forksafeRun(node, ['--strict', '--report', report, '--', node, '--test', join(FIXTURES, 'node-test', 'violating.test.js')], { PGAPPNAME: app });
        assert.notEqual(run.code, 0, run.out);
        assert.match(run.out, out.failedTest('hands a pooled socket to a child'));
        assert.match(run.out, out.forkSafetyError);
        assert.match(run.out, out.counts(2, 1));
        const violations = readReport(report).filter((r) => r.type === 'violation');
        assert.deepEqual(violations.map((v) => v.kind), ['handle-transfer'], run.out);
        assert.match(violations[0].site, /test\/fixtures\/node-test\/violating\.test\.js:20:\d+$/);
      } finally {
        cleanup();
        await pgKill(app);
      }
    });

    test('the bundle compiles from its code cache: written at the first start under this Node, used at the next', async () => {
      const dist = join(work.dir, `dist-node-${major}`);
      cpSync(join(ROOT, 'dist'), dist, { recursive: true });
      rmSync(join(dist, 'cache'), { recursive: true, force: true });
      const start = async () => {
        const run = await runFixture(join(FIXTURES, 'core', 'app-ran.js'), { node, nodeArgs: ['-r', join(dist, 'register.js')], env: { NODE_DEBUG: 'forksafe' } });
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.json?.ran, true, run.stdout);
        return run.stderr;
      };
      const first = await start();
      assert.match(first, /code cache .*: none yet/);
      assert.match(first, /code cache written/);
      const caches = readdirSync(join(dist, 'cache')).filter((f) => f.endsWith('.bin'));
      assert.equal(caches.length, 1);
      assert.match(caches[0]!, new RegExp(`^preload-${version.replace(/\./g, '\\.')}-${process.arch}-[0-9a-f]{8}\\.bin$`));
      const second = await start();
      assert.match(second, /code cache .*: used/, 'V8 accepts the cache it made');
      assert.doesNotMatch(second, /code cache written/);
    });
  });
}
