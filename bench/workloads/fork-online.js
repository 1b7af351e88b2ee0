'use strict';
// Time from `child_process.fork()` / `cluster.fork()` (`--api`) to the child's ready
// message, with `--idle` idle pooled pg connections in the parent, refilled before every
// fork (the agent closes them). Set-up forks once, unrecorded; each block forks once.
// `--child bare` starts the child without the parent's execArgv (a child inherits `-r`), to
// tell the parent's share of the cost from the child's (run it with FORKSAFE_PROPAGATE=0).
const childProcess = require('node:child_process');
const cluster = require('node:cluster');
const { join } = require('node:path');
const { pgConfig, arg, fillPgPool, serve, performance } = require('./common');

const api = arg('api', 'child_process');
const idle = arg('idle', 0);
const child = join(__dirname, 'online-child.js');
const execArgv = arg('child', 'inherit') === 'bare' ? [] : process.execArgv;

function forkOnce() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let online;
    const c = api === 'cluster' ? cluster.fork() : childProcess.fork(child, { execArgv });
    const proc = api === 'cluster' ? c.process : c;
    c.on('message', (m) => {
      if (m && m.ready) online = performance.now() - t0;
    });
    proc.on('error', reject);
    proc.on('exit', (code) => (online === undefined ? reject(new Error(`child exited with ${code} before it was ready`)) : resolve(online)));
  });
}

async function refillAndFork(pool) {
  if (pool) {
    await fillPgPool(pool, idle);
    // Idle connections in an app have been idle a while: let the new backends finish starting.
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return forkOnce();
}

serve({
  async setup() {
    if (api === 'cluster') cluster.setupPrimary({ exec: child, execArgv });
    const pool = idle > 0 ? new (require('pg').Pool)({ ...pgConfig, max: idle }) : undefined;
    await refillAndFork(pool);
    return pool;
  },
  async block(pool) {
    return { ms: await refillAndFork(pool) };
  },
  teardown: (pool) => pool && pool.end(),
});
