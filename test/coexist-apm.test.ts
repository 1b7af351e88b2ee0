// Coexistence with APM agents, loaded before and after forksafe's preload: OpenTelemetry's
// auto-instrumentations (`-r @opentelemetry/auto-instrumentations-node/register`), its pg
// and mysql2 instrumentations alone, and dd-trace (`-r dd-trace/init`). In every order
// forksafe tracks every pool and connection and every door catches in strict mode (before
// and after configure() switches it off and on), and the agent records a span for every
// query. Then the rules of our wrappers, in fresh processes.
// One fixture run per agent and order: OpenTelemetry's auto-instrumentations load slowly.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, mysqlUser, pgKill, pgSessions, REGISTER, ROOT, runFixture, uniqueName, waitFor } from './helpers';

const APP = join(ROOT, 'test', 'apps', 'apm');

interface Agent {
  /** What `-r` is given, resolved from the fixture app (the run's working directory). */
  preload: string;
  env: NodeJS.ProcessEnv;
  /** Where the spans are read: the app's in-memory exporter, or dd-trace's log exporter on stdout. */
  spans: 'otel' | 'dd-log';
}

const AGENTS: Record<string, Agent> = {
  'OpenTelemetry auto-instrumentations (register)': {
    preload: '@opentelemetry/auto-instrumentations-node/register',
    // No exporter of the SDK's own and no cloud resource detectors (they would reach for the
    // network): the app registers a tracer provider with an in-memory exporter instead.
    env: {
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_NODE_RESOURCE_DETECTORS: 'none',
      APM_SPANS: 'app',
      APM_APP: APP,
    },
    spans: 'otel',
  },
  'OpenTelemetry instrumentation-pg and instrumentation-mysql2 alone': {
    preload: join(FIXTURES, 'apm', 'otel-alone.js'),
    env: {},
    spans: 'otel',
  },
  'dd-trace': {
    preload: 'dd-trace/init',
    // Spans as JSON lines on stdout (its log exporter); everything that would talk to an
    // agent is off, and the agent address is a closed loopback port.
    env: {
      DD_TRACE_EXPERIMENTAL_EXPORTER: 'log',
      DD_TRACE_AGENT_URL: 'http://127.0.0.1:9',
      DD_REMOTE_CONFIGURATION_ENABLED: 'false',
      DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false',
      DD_TRACE_STARTUP_LOGS: 'false',
      DD_CRASHTRACKING_ENABLED: 'false',
      DD_RUNTIME_METRICS_ENABLED: 'false',
      DD_SERVICE: 'forksafe-test',
    },
    spans: 'dd-log',
  },
};

const MARKER = /m:(?:pg|mysql2):[a-z0-9-]+/g;

/** The query markers in dd-trace's spans, by the component that made them. */
function ddSpans(stdout: string): { pg: string[]; mysql2: string[] } {
  const seen: Record<string, Set<string>> = { pg: new Set(), mysql2: new Set() };
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{"traces":')) continue;
    for (const trace of JSON.parse(line).traces) {
      for (const span of trace) {
        const set = seen[span.meta?.component];
        for (const m of JSON.stringify(span).match(MARKER) ?? []) set?.add(m);
      }
    }
  }
  return { pg: [...seen.pg!].sort(), mysql2: [...seen.mysql2!].sort() };
}

function resultOf(stdout: string): any {
  const line = stdout.split('\n').find((l) => l.startsWith('{"app":"apm"'));
  return line ? JSON.parse(line) : undefined;
}

const TRACKED = ['mysql2 connection', 'mysql2 connection', 'mysql2 pool', 'mysql2 pool', 'pg connection', 'pg pool'];
const DOORS = ['pgPooled', 'pgClient', 'mysql2Pooled', 'mysql2Conn', 'mysql2PromiseConn'];

for (const [label, agent] of Object.entries(AGENTS)) {
  for (const order of ['before', 'after'] as const) {
    test(`${label} loaded ${order} forksafe: every pool and connection tracked, every door caught, a span for every query`, async () => {
      const app = uniqueName('apm');
      const my = await mysqlUser();
      try {
        const preloads = order === 'before' ? ['-r', agent.preload, '-r', REGISTER] : ['-r', REGISTER, '-r', agent.preload];
        const run = await runFixture('apm/app.js', {
          nodeArgs: preloads,
          cwd: APP,
          env: { ...agent.env, FORKSAFE_MODE: 'strict', FORKSAFE_PROPAGATE: '0', PGAPPNAME: app, MYSQL_USER: my.user, MYSQL_PASSWORD: '' },
        });
        assert.equal(run.code, 0, run.stderr);
        const r = resultOf(run.stdout);
        assert.ok(r, `no result line\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
        assert.deepEqual(r.tracked, TRACKED, 'pg.Pool, a standalone pg.Client, mysql2 createPool / createConnection and mysql2/promise');
        assert.deepEqual(r.doors, Object.fromEntries(DOORS.map((d) => [d, 'FORKSAFE_HANDLE_TRANSFER'])), 'strict: subprocess.send(msg, socket) throws for every connection');
        assert.deepEqual(r.again, {
          tracked: [...TRACKED, 'mysql2 connection', 'pg connection'].sort(),
          doors: { pgClient: 'FORKSAFE_HANDLE_TRANSFER', mysql2PromiseConn: 'FORKSAFE_HANDLE_TRANSFER' },
          recorded: 2,
        }, 'after configure() off and on: opened connections tracked, doors caught, each violation recorded once');
        assert.equal(r.violations, DOORS.length + 2);
        assert.equal(r.queries.pg.length, 5);
        assert.equal(r.queries.mysql2.length, 8);
        const spans = agent.spans === 'otel' ? r.spans : ddSpans(run.stdout);
        assert.deepEqual(spans.pg, r.queries.pg, 'the agent recorded a pg span for every pg query');
        assert.deepEqual(spans.mysql2, r.queries.mysql2, 'the agent recorded a mysql2 span for every mysql2 query');
        assert.equal(await waitFor(() => pgSessions(app), (n) => n === 0), 0, 'the app closed its sessions');
      } finally {
        await pgKill(app);
        await my.drop();
      }
    });
  }
}

test('our wrappers (dist/agent/wrap.js): no marks another agent acts on, unwrap only where ours is on top, never applied twice', async () => {
  const run = await runFixture('apm/wrap-units.js', { nodeArgs: [] });
  assert.equal(run.code, 0, run.stderr);
  const r = run.json;
  assert.deepEqual(r.seen, {
    replaced: true,
    name: 'method',
    length: 2,
    promisifyCustom: true,
    extra: 42,
    marks: [],
    looksWrapped: false,
    enumerable: true,
    thisAndArgs: true,
  }, 'looks like the original, carries no shimmer marks (OpenTelemetry would unwrap it)');
  assert.equal(r.firstWrap, 'wrapped');
  assert.equal(r.wrapAgainWhileOn, 'unchanged');
  assert.equal(r.restored, true, 'ours on top: the original property is back as it was');
  assert.equal(r.wrapAfterRestore, 'wrapped');
  assert.deepEqual(r.afterRestore, { original: 1, inner: 1, factory: 2 });
  assert.equal(r.inheritedRestored, true, 'a method found on the prototype: the own property is removed');
  for (const key of ['underMarked', 'underPlain']) {
    assert.deepEqual(r[key].off, { original: 1, inner: 0, factory: 1, foreign: 1, stillForeign: true }, `${key}: stepped aside, calls straight through, the other agent's wrapper stays`);
    assert.equal(r[key].again, 'reactivated', `${key}: switched back on, not wrapped a second time`);
    assert.deepEqual(r[key].on, { original: 2, inner: 1, factory: 1, foreign: 2, stillForeign: true }, `${key}: one call runs ours once`);
  }
  assert.deepEqual(r.foreignLeft, { again: 'reactivated', calls: { original: 1, inner: 1, factory: 1 } });
  assert.deepEqual(r.putBack, { again: 'wrapped', calls: { original: 1, inner: 1, factory: 2, foreign: 0 } }, 'the function from before us was put back: a new wrapper');
  assert.equal(r.constructs, true);
  assert.equal(r['missing undefined'], 'TypeError: forksafe cannot wrap method: it is undefined, not a function');
  assert.equal(r['missing 42'], 'TypeError: forksafe cannot wrap method: it is number, not a function');
});

test('configure() off and on again with another agent wrapped on top of ours: one violation per call, not two', async () => {
  const app = uniqueName('onoffon');
  try {
    const run = await runFixture('apm/on-off-on.js', { env: { PGAPPNAME: app } });
    assert.equal(run.code, 0, run.stderr);
    for (const door of ['spawnSync', 'execFileSync']) {
      const s = run.json[door];
      assert.deepEqual(s.on, { result: 'ran', recorded: 1 }, door);
      assert.deepEqual(s.off, { result: 'ran', recorded: 0 }, `${door}: off, ours calls straight through`);
      assert.deepEqual(s.onAgain, { result: 'ran', recorded: 1 }, `${door}: on again, recorded once`);
      assert.deepEqual(s.strictAgain, { result: 'FORKSAFE_STDIO_INHERIT', recorded: 1 }, door);
      assert.equal(s.foreignCalls, 4, `${door}: the other agent's wrapper ran every time`);
      assert.equal(s.foreignOnTop, true, `${door}: and is still on top`);
    }
  } finally {
    await pgKill(app);
  }
});
