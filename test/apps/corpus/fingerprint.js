'use strict';
// Loads the corpus entries named on the command line, one after another, and prints one JSON
// line per entry: whether it loaded, and a fingerprint of what it exports (types and keys, two
// levels down). test/compat-corpus.test.ts runs this bare and under the agent and compares.
//
// The fingerprint must not itself do what the agent is being tested for: it reads every value
// through Object.getOwnPropertyDescriptor, so a getter is called once, by us, on purpose, and
// `module.exports` is never read again after `require` returned it (ansi-styles 3-5 define it
// as a getter that builds a new object on each read).
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { types } = require('node:util');

const corpus = JSON.parse(readFileSync(join(__dirname, 'corpus.json'), 'utf8')).packages;
const byName = new Map(corpus.map((entry) => [entry.name, entry]));

/** Keys listed per object; the rest are counted (mime-db has thousands). */
const MAX_KEYS = 200;
const fnToString = Function.prototype.toString;

function label(key) {
  return typeof key === 'symbol' ? `[${key.description ?? ''}]` : key;
}

function tagOf(value) {
  let proto;
  try {
    proto = Object.getPrototypeOf(value);
  } catch (err) {
    return `getPrototypeOf throws ${errorName(err)}`;
  }
  if (proto === null) return 'null';
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor');
  const fn = ctor && 'value' in ctor ? ctor.value : undefined;
  const name = typeof fn === 'function' ? Object.getOwnPropertyDescriptor(fn, 'name') : undefined;
  return name && typeof name.value === 'string' ? name.value || '(anonymous)' : '(no constructor)';
}

function errorName(err) {
  return err instanceof Error ? err.constructor.name : typeof err;
}

/** Type, shape and own keys of a value; `depth` levels of keys below it. */
function describe(value, depth) {
  const type = value === null ? 'null' : typeof value;
  if (type !== 'object' && type !== 'function') return type;
  const out = { type };
  if (types.isProxy(value)) out.proxy = true;
  if (type === 'function') {
    let source = '';
    try {
      source = fnToString.call(value);
    } catch {
      source = '';
    }
    out.kind = source.startsWith('class') ? 'class' : types.isAsyncFunction(value) ? 'async' : types.isGeneratorFunction(value) ? 'generator' : 'function';
    const name = Object.getOwnPropertyDescriptor(value, 'name');
    const length = Object.getOwnPropertyDescriptor(value, 'length');
    out.name = name && 'value' in name ? name.value : '(accessor)';
    out.length = length && 'value' in length ? length.value : '(accessor)';
  } else {
    out.proto = tagOf(value);
  }
  out.state = Object.isFrozen(value) ? 'frozen' : Object.isSealed(value) ? 'sealed' : Object.isExtensible(value) ? 'extensible' : 'non-extensible';
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    // Indexes say nothing about the shape; the length does.
    const length = Object.getOwnPropertyDescriptor(value, 'length');
    out.length = length && 'value' in length ? length.value : '(accessor)';
    return out;
  }
  if (value instanceof Map || value instanceof Set) out.size = value.size;
  if (depth <= 0) return out;
  const keys = Reflect.ownKeys(value).filter((k) => !(type === 'function' && (k === 'length' || k === 'name' || k === 'arguments' || k === 'caller')));
  out.keys = {};
  for (const key of keys.slice(0, MAX_KEYS)) {
    const d = Object.getOwnPropertyDescriptor(value, key);
    if (!d) continue; // a proxy may list a key it then denies
    const flags = `${d.enumerable ? 'e' : ''}${d.configurable ? 'c' : ''}${'value' in d && d.writable ? 'w' : ''}`;
    if ('value' in d) {
      out.keys[label(key)] = { flags, value: describe(d.value, depth - 1) };
    } else {
      const entry = { flags, get: typeof d.get === 'function', set: typeof d.set === 'function' };
      if (d.get) {
        try {
          entry.read = describe(d.get.call(value), depth - 1);
        } catch (err) {
          entry.read = `throws ${errorName(err)}`;
        }
      }
      out.keys[label(key)] = entry;
    }
  }
  if (keys.length > MAX_KEYS) out.moreKeys = keys.length - MAX_KEYS;
  return out;
}

/** What is unusual about how an entry exports: the cases a load hook can trip over. */
function kindsOf(entry, exports, filename) {
  const kinds = [];
  if (entry.how === 'import') kinds.push('esm');
  if (hasExportsMap(entry)) kinds.push('exports map');
  if (filename !== undefined) {
    const d = Object.getOwnPropertyDescriptor(require.cache[filename] ?? {}, 'exports');
    if (d && !('value' in d)) kinds.push('module.exports getter');
  }
  // An ES module namespace is always sealed; what it says about the package is in `default`.
  if (entry.how === 'import' && !('default' in exports)) return kinds;
  const root = entry.how === 'import' ? exports.default : exports;
  if ((typeof root === 'object' && root !== null) || typeof root === 'function') {
    const own = Object.getOwnPropertyDescriptors(root);
    if (Object.values(own).some((d) => !('value' in d))) kinds.push('getters');
    if (Object.isFrozen(root)) kinds.push('frozen');
    else if (!Object.isExtensible(root)) kinds.push('non-extensible');
    if (types.isProxy(root)) kinds.push('proxy');
    if (typeof root === 'function') {
      if (fnToString.call(root).startsWith('class')) kinds.push('class');
      else if (Reflect.ownKeys(own).some((k) => !['length', 'name', 'prototype', 'arguments', 'caller'].includes(k))) kinds.push('function with properties');
    }
  } else {
    kinds.push('primitive');
  }
  return kinds;
}

function hasExportsMap(entry) {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, 'node_modules', entry.name, 'package.json'), 'utf8'));
    return pkg.exports !== undefined;
  } catch {
    return false;
  }
}

async function load(entry) {
  if (entry.how === 'import') return { exports: await import(entry.specifier ?? entry.name), filename: undefined };
  const filename = require.resolve(entry.specifier ?? entry.name);
  return { exports: require(filename), filename };
}

async function main() {
  for (const name of process.argv.slice(2)) {
    const entry = byName.get(name);
    // A marker on stderr before each entry, so the test can tell whose output a line is.
    process.stderr.write(`--- corpus: ${name}\n`);
    let line;
    if (!entry) {
      line = { name, ok: false, error: 'not in corpus.json' };
    } else {
      try {
        const { exports, filename } = await load(entry);
        line = { name, ok: true, kinds: kindsOf(entry, exports, filename), fingerprint: describe(exports, 2) };
      } catch (err) {
        line = { name, ok: false, error: `${errorName(err)}: ${String(err && err.message).split('\n')[0]}` };
      }
    }
    // Let warnings emitted on the next tick land under this entry's marker.
    await new Promise((resolve) => setImmediate(resolve));
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}

main().then(
  // Some packages leave timers or handles behind; the answer is complete, so leave.
  () => process.exit(0),
  (err) => {
    process.stderr.write(`fingerprint.js: ${err && err.stack}\n`);
    process.exit(1);
  },
);
