'use strict';
// One short loop, run once, for an instruction count under callgrind (children are not
// counted): `--loop spawn` spawns `true` `--count` times with 10 idle pooled pg connections
// (as spawn-loop.js), `--loop spawn-env` the same with an environment of the caller's own
// (`{ env: { ...process.env, JOB: i } }`, as job runners pass one), `--loop spawn-sync`
// the same with spawnSync (which takes an env object, not pairs), `--loop send` sends
// `--count` plain objects to a forked child (as ipc-send.js --kind objects). `--count 0` is
// the same process without the loop: the difference between the two is the loop's own count.
const { spawn, spawnSync, fork } = require('node:child_process');
const { join } = require('node:path');
const { once } = require('node:events');
const { pgConfig, arg, fillPgPool, report, fail } = require('./common');

const loop = arg('loop', 'spawn');
const count = arg('count', 20);

function spawnTrue(env) {
  return new Promise((resolve, reject) => {
    const c = spawn('true', [], env ? { stdio: 'ignore', env } : { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', resolve);
  });
}

async function main() {
  if (loop === 'spawn' || loop === 'spawn-env' || loop === 'spawn-sync') {
    const pool = new (require('pg').Pool)({ ...pgConfig, max: 10 });
    await fillPgPool(pool, 10);
    if (loop === 'spawn-sync') for (let i = 0; i < count; i++) spawnSync('true', [], { stdio: 'ignore' });
    else for (let i = 0; i < count; i++) await spawnTrue(loop === 'spawn-env' ? { ...process.env, JOB: String(i) } : undefined);
    await pool.end();
  } else if (loop === 'send') {
    const child = fork(join(__dirname, 'ipc-child.js'));
    await once(child, 'message');
    if (count > 0) {
      child.send({ expect: count });
      const received = once(child, 'message');
      for (let i = 0; i < count; i++) child.send({ i, type: 'job', at: Date.now(), payload: { user: 42, tags: ['a', 'b'], note: 'not a database message' } });
      await received;
    }
    child.send('done');
    await once(child, 'exit');
  } else throw new Error(`--loop ${loop}: accepted values: spawn, spawn-env, spawn-sync, send`);
  report({ loop, count });
}

main().catch(fail);
