// The agent's bundle loads from V8's code cache (agent/code-cache.ts). Whatever the cache
// holds, or whether it can be written at all, the agent starts and tracks as without one.
// Each test works on its own copy of dist/, so the cache files are its own.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT, runFixture, tempDir, uniqueName } from './helpers';

const work = tempDir();
after(() => work.cleanup());

let copies = 0;
function distCopy(): { dist: string; caches: () => string[] } {
  const dist = join(work.dir, `dist-${++copies}`);
  cpSync(join(ROOT, 'dist'), dist, { recursive: true });
  rmSync(join(dist, 'cache'), { recursive: true, force: true });
  return { dist, caches: () => readdirSync(join(dist, 'cache')).filter((f) => f.endsWith('.bin')) };
}

// A pg pool that ran a query, and what the agent's registry says of it.
const APP = join(work.dir, 'app.js');
writeFileSync(
  APP,
  `const { Pool } = require(${JSON.stringify(join(ROOT, 'node_modules', 'pg'))});
const forksafe = require(process.env.DIST + '/index.js');
const pool = new Pool({ max: 2 });
pool.query('select 1').then(async () => {
  const pools = forksafe.databases().filter((d) => d.driver === 'pg').length;
  await pool.end();
  console.log(JSON.stringify({ pools }));
});
`,
);

async function start(dist: string, nodeFlags: string[] = []) {
  const r = await runFixture(APP, {
    nodeArgs: [...nodeFlags, '-r', join(dist, 'register.js')],
    env: { DIST: dist, NODE_DEBUG: 'forksafe', PGAPPNAME: uniqueName('cache') },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json, { pools: 1 }, `the pool is tracked\n${r.stderr}`);
  return r.stderr;
}

test('the first start writes the code cache, the next one uses it', async () => {
  const { dist, caches } = distCopy();
  const first = await start(dist);
  assert.match(first, /code cache .*: none yet/);
  assert.match(first, /code cache written/);
  assert.equal(caches().length, 1);
  assert.match(caches()[0]!, new RegExp(`^preload-${process.version}-${process.arch}-[0-9a-f]{8}\\.bin$`));
  const second = await start(dist);
  assert.match(second, /code cache .*: used/);
  assert.doesNotMatch(second, /code cache written/);
});

test('a damaged cache is refused by V8, the bundle compiles as usual and the cache is written again', async () => {
  const { dist, caches } = distCopy();
  await start(dist);
  const file = join(dist, 'cache', caches()[0]!);
  const size = readFileSync(file).length;
  writeFileSync(file, randomBytes(size));
  const damaged = await start(dist);
  assert.match(damaged, /code cache .*: refused by V8/);
  assert.match(damaged, /code cache written/);
  assert.match(await start(dist), /code cache .*: used/);
});

test('a rebuilt bundle of the same length never runs from the old build\'s cache', async () => {
  const { dist, caches } = distCopy();
  await start(dist);
  const bundle = join(dist, 'preload.js');
  const source = readFileSync(bundle, 'utf8');
  assert.ok(source.includes('integrations: %s'));
  // V8 compares only the source's length: same length, other code.
  writeFileSync(bundle, source.replace('integrations: %s', 'INTEGRATIONS: %s'));
  const rebuilt = await start(dist);
  assert.match(rebuilt, /INTEGRATIONS: /, 'the new code runs');
  assert.match(rebuilt, /code cache .*: none yet/);
  assert.equal(caches().length, 2);
});

test('a cache that cannot be written costs the try and nothing else', async () => {
  const { dist } = distCopy();
  // A file where the cache folder would go: mkdir fails, as on a read-only install.
  writeFileSync(join(dist, 'cache'), 'not a folder');
  const out = await start(dist);
  assert.match(out, /code cache not written \((EEXIST|ENOTDIR)\)/);
  assert.equal(readFileSync(join(dist, 'cache'), 'utf8'), 'not a folder', 'what was there is left alone');
});

test('one cache per set of compiler flags, at most eight kept; other preloads and the title share one', async () => {
  const { dist, caches } = distCopy();
  for (let i = 0; i < 10; i++) await start(dist, [`--stack-size=${900 + i}`]);
  assert.equal(caches().length, 8);
  const { dist: other, caches: otherCaches } = distCopy();
  const preload = join(work.dir, 'other-preload.js');
  writeFileSync(preload, '');
  await start(other);
  await start(other, ['-r', preload]);
  await start(other, [`--require=${preload}`, '--title=one']);
  assert.match(await start(other, ['--title', 'two']), /code cache .*: used/);
  assert.equal(otherCaches().length, 1);
});
