// forksafe.register(): anything else an app holds (an in-house pool of connections to an
// internal service) closed before forks and watched by the doors. The fixture is the
// README's example, run for real against a TCP server (Redis, spoken to with PING).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readReport, runFixture, tempDir } from './helpers';

test("register(): an in-house pool's idle connections close before a fork, the one in use is kept and watched", async () => {
  const { dir, cleanup } = tempDir();
  const report = join(dir, 'report.jsonl');
  try {
    const run = await runFixture('libs/register.js', { env: { FORKSAFE_REPORT: report } });
    assert.equal(run.code, 0, run.stderr);
    const r = run.json;
    assert.deepEqual(r.pongs, ['+PONG', '+PONG', '+PONG']);
    assert.deepEqual(r.listed, [{ driver: 'custom', kind: 'pool', target: 'billing-service', total: 3 }]);
    assert.deepEqual(r.afterFork, { idle: 0, busy: 1, stillServes: '+PONG' }, 'the fork closed the 2 idle connections, not the one in use');
    assert.deepEqual(r.refused, { code: 'FORKSAFE_HANDLE_TRANSFER', driver: 'custom', target: 'billing-service' });
    assert.equal(r.afterUnregister, 0);
    const records = readReport(report);
    assert.deepEqual(records.filter((l) => l.type === 'fork').map((f) => [f.pools, f.closed, f.kept]), [[1, 2, 1]]);
  } finally {
    cleanup();
  }
});
