// The environment a child gets stays right while what it depends on changes between spawns
// of one process: process.env, the `env` option, configure(), the sockets in its stdio.
// The agent reuses what it worked out for earlier spawns; this checks it never reuses a
// stale answer. `env` is the child, so each step shows exactly what the parent passed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { REGISTER, runFixture } from './helpers';

test("a child's environment follows process.env, the env option (its own values, its prototype's), configure() and the sockets in stdio from one spawn to the next", async () => {
  const run = await runFixture(join('children', 'env-changes.js'));
  assert.equal(run.code, 0, run.stderr);
  const { pid, steps } = run.json;
  const preload = `--require "${REGISTER}"`;
  const ours = (mode: string, more: string[] = []) => [`FORKSAFE_MODE=${mode}`, 'FORKSAFE_ON_FORK=disconnect', `FORKSAFE_PARENT=${pid}`, 'FORKSAFE_PROPAGATE=1', ...more].sort();
  assert.deepEqual(steps.plain, ours('log', [`NODE_OPTIONS=${preload}`]));
  assert.deepEqual(steps.plainAgain, steps.plain);
  assert.deepEqual(steps.nodeOptionsSet, ours('log', [`NODE_OPTIONS=--no-deprecation ${preload}`]), 'NODE_OPTIONS set in process.env after the first spawns');
  assert.deepEqual(steps.modeInherited, ours('log', [`NODE_OPTIONS=--no-deprecation ${preload}`]), 'FORKSAFE_MODE inherited unchanged from process.env: the setting in force');
  assert.deepEqual(steps.explicitEnv, [...ours('log', [`NODE_OPTIONS=--no-warnings ${preload}`]).filter((l) => !l.startsWith('FORKSAFE_ON_FORK=')), 'FORKSAFE_ON_FORK=keep'].sort(), "the env option's own values are kept");
  assert.deepEqual(steps.explicitEmptyNodeOptions, ours('log', ['NODE_OPTIONS=']), 'an explicitly empty NODE_OPTIONS keeps the child free of preloads');
  assert.deepEqual(steps.staleParent, ours('log', [`NODE_OPTIONS=${preload}`]), "another process's FORKSAFE_PARENT and manifest are not passed on");
  assert.deepEqual(steps.configured, ours('strict', [`NODE_OPTIONS=${preload}`]), 'configure() between spawns');
  assert.deepEqual(steps.valueMentionsUs, ours('strict', [`NODE_OPTIONS=${preload}`]), "another variable's value naming ours changes nothing");
  assert.deepEqual(steps.ownEnv, ours('log', [`NODE_OPTIONS=${preload}`]), 'an env option with none of our variables');
  assert.deepEqual(steps.prototypeNodeOptions, ours('log', [`NODE_OPTIONS=--no-warnings ${preload}`]), "NODE_OPTIONS on the env option's prototype");
  assert.deepEqual(steps.syncPrototype, [...ours('log', [`NODE_OPTIONS=${preload}`]), 'FROM_PROTOTYPE=yes'].sort(), "spawnSync: the env option's prototype values, ours, and no stale manifest");
  const manifest = steps.socketInStdio.find((l: string) => l.startsWith('FORKSAFE_PARENT_SOCKETS='));
  assert.ok(manifest, 'a socket in stdio: the child gets a manifest');
  const sockets = JSON.parse(manifest.slice(manifest.indexOf('=') + 1)).sockets;
  assert.equal(sockets.length, 1);
  assert.match(sockets[0].openedAt, /env-changes\.js:\d+:\d+$/);
  assert.deepEqual(steps.socketInStdio.filter((l: string) => l !== manifest), ours('log', [`NODE_OPTIONS=${preload}`]));
  assert.deepEqual(steps.afterSocket, ours('log', [`NODE_OPTIONS=${preload}`]), 'the next spawn, without the socket, gets no manifest');
  assert.deepEqual(steps.direct, { sameArray: true, pairs: [`PATH=${process.env.PATH}`] }, 'ChildProcess#spawn leaves the caller\'s options as they were');
});
