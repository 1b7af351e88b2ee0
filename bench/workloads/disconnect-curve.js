'use strict';
// The pre-fork step alone: `disconnectAll()` timed in a process under the agent, against the
// number of tracked idle pg connections (`--axis connections`: pools of 10) or of tracked pg
// pools (`--axis pools`: one idle connection each, at most 90 connections in all, since
// PostgreSQL allows 100). Every sample re-fills the pools first; `--warmup` unrecorded
// samples warm each point up. Prints every point with its samples: wall time (the figure), and the
// CPU time and involuntary context switches of the call, which tell this process's own work
// from the time it lost to the database backends it woke (on a small machine, the servers
// and this process share the cores).
const { pgConfig, arg, fillPgPool, median, report, fail, performance } = require('./common');

const axis = arg('axis', 'connections');
const points = String(arg('points', '1,10,30,60,90')).split(',').map(Number);
const samples = arg('samples', 15);
const warmup = arg('warmup', 3);
const MAX_CONNECTIONS = 90;

// The copy of forksafe installed where the process runs (the packed one in the bench app);
// a plain require('forksafe') from here would resolve this checkout by self-reference.
const forksafe = require('node:module').createRequire(require('node:path').join(process.cwd(), 'bench.js'))('forksafe');

/** How many idle connections each pool holds at one point of the curve. */
function layout(n) {
  if (axis === 'pools') return Array.from({ length: n }, (_, i) => (i < MAX_CONNECTIONS ? 1 : 0));
  const sizes = [];
  for (let left = n; left > 0; left -= 10) sizes.push(Math.min(10, left));
  return sizes;
}

async function measure(n) {
  const sizes = layout(n);
  const { Pool } = require('pg');
  // No idle timeout: on a loaded machine, filling 90 pools can take longer than pg's default 10 s.
  const pools = sizes.map((size) => new Pool({ ...pgConfig, max: Math.max(size, 1), idleTimeoutMillis: 0 }));
  const expected = sizes.reduce((a, b) => a + b, 0);
  const times = [];
  const cpu = [];
  const preempted = [];
  for (let i = 0; i < samples + warmup; i++) {
    await Promise.all(pools.map((p, j) => fillPgPool(p, sizes[j])));
    const switches = process.resourceUsage().involuntaryContextSwitches;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const result = forksafe.disconnectAll();
    const ms = performance.now() - t0;
    const used = process.cpuUsage(cpu0);
    const lost = process.resourceUsage().involuntaryContextSwitches - switches;
    await result.settled;
    if (result.closed !== expected) throw new Error(`disconnectAll() closed ${result.closed} connections, expected ${expected}: is the agent loaded?`);
    if (i < warmup) continue;
    times.push(ms);
    cpu.push((used.user + used.system) / 1000);
    preempted.push(lost);
  }
  await Promise.all(pools.map((p) => p.end()));
  return { n, pools: pools.length, connections: expected, median: median(times), samples: times, cpu, preempted };
}

async function main() {
  const out = [];
  for (const n of points) out.push(await measure(n));
  report({ axis, points: out });
}

main().catch(fail);
