'use strict';
// Rewrites the `exports` field of every entry of corpus.json: what is unusual about how the
// package exports, as fingerprint.js sees it bare. Run it after changing the corpus:
//   node test/apps/corpus/record-exports.js
// It loads the packages in the batches test/compat-corpus.test.ts uses (`batch` packages a
// process), because a package can change another's exports (ajv adds `code` to
// fast-deep-equal's function).
const { execFileSync } = require('node:child_process');
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const file = join(__dirname, 'corpus.json');
const corpus = JSON.parse(readFileSync(file, 'utf8'));
const BATCH = corpus.batch;
const seen = new Map();
const names = corpus.packages.map((p) => p.name);
for (let i = 0; i < names.length; i += BATCH) {
  const out = execFileSync(process.execPath, [join(__dirname, 'fingerprint.js'), ...names.slice(i, i + BATCH)], { cwd: __dirname, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
  for (const line of out.trim().split('\n')) {
    const r = JSON.parse(line);
    if (!r.ok) throw new Error(`${r.name} does not load bare: ${r.error}`);
    seen.set(r.name, r.kinds.filter((k) => k !== 'esm'));
  }
}
for (const p of corpus.packages) {
  const kinds = seen.get(p.name);
  if (kinds.length > 0) p.exports = kinds;
  else delete p.exports;
}
writeFileSync(file, `${JSON.stringify(corpus, null, 2)}\n`);
console.log(`${corpus.packages.length} packages recorded`);
