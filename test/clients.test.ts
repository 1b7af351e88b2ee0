// Any client socket, not only the tracked drivers': a connection of amqplib to RabbitMQ or
// of nats to NATS handed to a child is caught, named by the package that opened it (its own
// package.json name, even under an npm alias); a socket accepted by a server and a server
// are never flagged; FORKSAFE_ALLOW lets a package or a target through; an APM agent's
// wrapper of connect does not take the name.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { REGISTER, ROOT, runFixture } from './helpers';

const door = (client: string, env: NodeJS.ProcessEnv = {}) => runFixture('clients/door.js', { env: { CLIENT: client, FORKSAFE_MODE: 'strict', ...env } });

for (const [client, driver, target] of [
  ['amqplib', 'amqplib', '127.0.0.1:5672'],
  ['amqp-alias', 'amqplib', '127.0.0.1:5672'],
  ['nats', 'nats', '127.0.0.1:4222'],
] as const) {
  test(`strict: a ${client} client's socket sent to a child throws ForkSafetyError, named ${driver} ${target}`, async () => {
    const run = await door(client);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.json.threw, { name: 'ForkSafetyError', code: 'FORKSAFE_HANDLE_TRANSFER' });
    const [v] = run.json.violations;
    assert.equal(v.driver, driver);
    assert.equal(v.target, target);
    assert.match(v.site, /test\/fixtures\/clients\/door\.js:\d+:\d+$/);
    assert.doesNotMatch(JSON.stringify(run.json), /guest/, 'no credential of the URL reaches the violation');
  });
}

// OpenTelemetry's net instrumentation wraps net.Socket#connect: its frame sits between the
// client library and Node, and must not be taken for the package that opened the socket.
const OTEL_REGISTER = createRequire(join(ROOT, 'test', 'apps', 'apm', 'package.json')).resolve('@opentelemetry/auto-instrumentations-node/register');
const OTEL_ENV = { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_NODE_RESOURCE_DETECTORS: 'none' };
for (const [order, nodeArgs] of [
  ['after', ['-r', REGISTER, '-r', OTEL_REGISTER]],
  ['before', ['-r', OTEL_REGISTER, '-r', REGISTER]],
] as const) {
  for (const [client, driver] of [['amqplib', 'amqplib'], ['nats', 'nats']] as const) {
    test(`OpenTelemetry's auto-instrumentations loaded ${order} the agent: a ${client} socket at the door is still named ${driver}, not by the instrumentation that wraps connect`, async () => {
      const run = await runFixture('clients/door.js', { nodeArgs: [...nodeArgs], env: { CLIENT: client, FORKSAFE_MODE: 'strict', ...OTEL_ENV } });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.json.threw?.name, 'ForkSafetyError');
      assert.equal(run.json.violations[0].driver, driver);
    });
  }
}

test('log: the nats socket goes through, is recorded here, and the child finds it was its parent\'s', async () => {
  const run = await door('nats', { FORKSAFE_MODE: 'log' });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.json.threw, null);
  assert.deepEqual(run.json.violations.map((v: any) => v.kind), ['handle-transfer']);
  assert.deepEqual(run.json.childViolations, ['inherited-socket']);
});

test('a socket accepted by a server, and the server itself, are never flagged', async () => {
  const run = await door('accepted');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.json.threw, null);
  assert.deepEqual(run.json.violations, []);
  assert.deepEqual(run.json.childViolations, []);
});

test('FORKSAFE_ALLOW names a package or a target whose client sockets may be handed over', async () => {
  for (const [client, allow] of [['amqplib', 'amqplib'], ['nats', '127.0.0.1:4222']] as const) {
    const run = await door(client, { FORKSAFE_ALLOW: allow });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json.threw, null, `${client} with FORKSAFE_ALLOW=${allow}`);
    assert.deepEqual(run.json.violations, []);
  }
});

test('FORKSAFE_ALLOW with something that is neither a package name nor host:port stops the first process', async () => {
  const run = await runFixture('core/app-ran.js', { env: { FORKSAFE_ALLOW: 'amqplib,host:port' } });
  assert.equal(run.code, 9);
  assert.match(run.stderr, /^forksafe: FORKSAFE_ALLOW="amqplib,host:port" has "host:port", which is neither a package name nor host:port/);
});
