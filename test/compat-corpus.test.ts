// The agent is invisible to packages no patch names: each package of a corpus of popular ones
// (test/apps/corpus/corpus.json) loads bare and under the agent in fresh processes, and must
// load under the agent exactly as it does bare: no throw, the same stderr, the same exports
// (types and keys, two levels down). Issue 8: chalk 4 died under `-r forksafe/register`
// because the load hook read `module.exports` twice and ansi-styles defines it as a getter.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REGISTER, ROOT, runFixture, type RunResult } from './helpers';

const APP = join(ROOT, 'test', 'apps', 'corpus');
const LOADER = join(APP, 'fingerprint.js');

interface Entry {
  name: string;
  version: string;
  how: 'require' | 'import';
  specifier?: string;
  source: 'top' | 'named' | 'dependency';
  /** What is unusual about its exports, as fingerprint.js sees it bare. */
  exports?: string[];
}

interface Outcome {
  ok: boolean;
  error?: string;
  /** How its process ended, when it ended before answering for this package. */
  died?: string;
  kinds?: string[];
  fingerprint?: unknown;
  /** What the process wrote to stderr while this package loaded. */
  stderr: string;
}

interface Run {
  outcomes: Map<string, Outcome>;
  /** Wall time of every process of the run, added up. */
  processMs: number;
  processes: number;
}

// `batch`: packages per process; few processes keep the run short, the loader reports each one.
const corpus = JSON.parse(readFileSync(join(APP, 'corpus.json'), 'utf8')) as { batch: number; packages: Entry[] };
const BATCH = corpus.batch;
const dependencies = (JSON.parse(readFileSync(join(APP, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
const ALL = corpus.packages.map((p) => p.name);
const ESM = corpus.packages.filter((p) => p.how === 'import').map((p) => p.name);

const MARKER = /^--- corpus: (.+)$/;

/** One process loading `names` in order; whatever it reported, even if it died half-way. */
async function runBatch(names: string[], nodeArgs: string[]): Promise<{ outcomes: Map<string, Outcome>; ms: number; died?: string }> {
  const started = process.hrtime.bigint();
  // The agent reads FORKSAFE_* from the environment: the corpus runs on its defaults.
  const env = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('FORKSAFE_')).map((k) => [k, undefined]));
  let run: RunResult;
  try {
    run = await runFixture(LOADER, { nodeArgs, args: names, cwd: APP, env, timeoutMs: 60_000 });
  } catch (err) {
    // Hung (runFixture killed it): no answer for any of its packages, so each is run alone.
    return { outcomes: new Map(), ms: Number(process.hrtime.bigint() - started) / 1e6, died: String(err).split('\n')[0] };
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const stderrOf = new Map<string, string>();
  let current = '(before the first package)';
  for (const line of run.stderr.split('\n')) {
    const marker = MARKER.exec(line);
    if (marker) current = marker[1]!;
    // Node's warnings start with the pid: the one thing two runs never share.
    else if (line !== '') stderrOf.set(current, `${stderrOf.get(current) ?? ''}${line.replace(/^\(node:\d+\)/, '(node:<pid>)')}\n`);
  }
  const outcomes = new Map<string, Outcome>();
  for (const line of run.stdout.split('\n')) {
    if (line === '') continue;
    const { name, ...rest } = JSON.parse(line) as { name: string } & Omit<Outcome, 'stderr'>;
    outcomes.set(name, { ...rest, stderr: stderrOf.get(name) ?? '' });
  }
  const preamble = stderrOf.get('(before the first package)');
  if (preamble !== undefined) outcomes.set('(before the first package)', { ok: true, stderr: preamble });
  const died = run.code === 0 ? undefined : `exit code ${run.code}, signal ${run.signal}: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  return { outcomes, ms, died };
}

/**
 * Runs `names` in batches, bare and with `agentArgs`, a few processes at a time (both runs
 * of one batch side by side, so they share the machine's load). A package that
 * killed its process must not hide the ones after it: every package some process did not
 * answer for is run again alone, in every mode, so both sides compare like with like.
 */
async function runCorpus(names: string[], agentArgs: string[]): Promise<{ bare: Run; agent: Run }> {
  assert.ok(existsSync(join(APP, 'node_modules')), 'the corpus is not installed: npm ci in test/apps/corpus (.ci/run does it)');
  const modes = [[], agentArgs];
  const runs: Run[] = modes.map(() => ({ outcomes: new Map(), processMs: 0, processes: 0 }));
  const runQueue = async (jobs: { batch: string[]; mode: number }[], onDone: (job: { batch: string[]; mode: number }, r: Awaited<ReturnType<typeof runBatch>>) => void) => {
    const workers = Array.from({ length: Math.max(2, Math.min(4, availableParallelism())) }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) {
        const r = await runBatch(job.batch, modes[job.mode]!);
        runs[job.mode]!.processMs += r.ms;
        runs[job.mode]!.processes += 1;
        onDone(job, r);
      }
    });
    await Promise.all(workers);
  };
  const jobs: { batch: string[]; mode: number }[] = [];
  for (let i = 0; i < names.length; i += BATCH) modes.forEach((_, mode) => jobs.push({ batch: names.slice(i, i + BATCH), mode }));
  const unanswered = new Set<string>();
  await runQueue(jobs, ({ batch, mode }, r) => {
    for (const [name, outcome] of r.outcomes) runs[mode]!.outcomes.set(name, outcome);
    for (const name of batch) if (!r.outcomes.has(name)) unanswered.add(name);
  });
  const alone = [...unanswered].flatMap((name) => modes.map((_, mode) => ({ batch: [name], mode })));
  await runQueue(alone, ({ batch: [name], mode }, r) => {
    runs[mode]!.outcomes.set(name!, r.outcomes.get(name!) ?? { ok: false, died: r.died ?? 'exit code 0 without an answer', stderr: '' });
  });
  return { bare: runs[0]!, agent: runs[1]! };
}

/** The first place two JSON values differ, as a path and both sides (short). */
function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const d = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`);
      if (d) return d;
    }
  }
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v).slice(0, 160));
  return `${path || '(root)'}: bare ${show(a)}, agent ${show(b)}`;
}

function said(o: Outcome): string {
  return o.ok ? 'loads' : o.died ? `gives no answer (${o.died})` : `throws ${o.error}`;
}

/** Every package whose outcome under the agent is not the one it has bare, with how. */
function differences(bare: Run, agent: Run, names: string[]): string[] {
  const out: string[] = [];
  for (const name of ['(before the first package)', ...names]) {
    const b = bare.outcomes.get(name);
    const a = agent.outcomes.get(name);
    if (!b && !a) continue;
    if (!a || !b) out.push(`${name}: ${a ? 'no answer bare' : 'no answer under the agent'}`);
    else if (a.ok !== b.ok || a.error !== b.error || a.died !== b.died) out.push(`${name}: ${said(b)} bare, ${said(a)} under the agent`);
    else if (a.stderr !== b.stderr) out.push(`${name}: stderr bare ${JSON.stringify(b.stderr)}, under the agent ${JSON.stringify(a.stderr)}`);
    else {
      const d = firstDifference(b.fingerprint, a.fingerprint);
      if (d) out.push(`${name}: exports differ at ${d}`);
    }
  }
  return out;
}

function timing(label: string, bare: Run, agent: Run): string {
  const ms = (n: number) => `${Math.round(n)} ms`;
  const extra = agent.processMs - bare.processMs;
  return `${label}: ${bare.processes} processes each, bare ${ms(bare.processMs)}, agent ${ms(agent.processMs)} (${extra >= 0 ? '+' : ''}${ms(extra)}, ${ms(extra / agent.processes)} a process)`;
}

// One run of the whole corpus, bare and under -r, shared by the tests that read it.
let corpusRun: Promise<{ bare: Run; agent: Run }> | undefined;
const bareAndRequire = () => (corpusRun ??= runCorpus(ALL, ['-r', REGISTER]));

test('the corpus: at least 150 packages, each pinned exactly in the fixture app, with every kind of unusual exports', () => {
  assert.ok(ALL.length >= 150, `${ALL.length} packages`);
  assert.equal(new Set(ALL).size, ALL.length, 'no package twice');
  for (const p of corpus.packages) {
    assert.equal(dependencies[p.name], p.version, `${p.name}: corpus.json and package.json pin the same version`);
    assert.match(p.version, /^(npm:[^@]+@)?\d+\.\d+\.\d+(-[\w.]+)?$/, `${p.name}: an exact version`);
  }
  assert.deepEqual(Object.keys(dependencies).filter((n) => !ALL.includes(n)), [], 'every dependency of the app is in the corpus');
  const kinds = new Set(corpus.packages.flatMap((p) => p.exports ?? []));
  for (const kind of ['module.exports getter', 'getters', 'frozen', 'function with properties', 'class', 'exports map']) assert.ok(kinds.has(kind), kind);
  assert.ok(ESM.length > 0, 'ESM-only packages');
  for (const name of ['chalk', 'chalk-v2', 'chalk-v5', 'ansi-styles', 'ansi-styles-v3', 'ansi-styles-v5', 'pretty-format', 'node-fetch', 'execa', 'p-limit', 'nanoid', 'mocha', 'eslint', 'expect']) assert.ok(ALL.includes(name), name);
});

test('bare, every package of the corpus loads, and its exports are of the kinds corpus.json says', async () => {
  const run = (await bareAndRequire()).bare;
  const failed = ALL.filter((n) => !run.outcomes.get(n)?.ok).map((n) => `${n}: ${run.outcomes.get(n)?.error}`);
  assert.deepEqual(failed, [], 'a package that cannot load bare does not belong in the corpus');
  // The kinds are what make the corpus worth running: a version bump that loses them shows here.
  const drift = corpus.packages
    .map((p) => ({ name: p.name, recorded: p.exports ?? [], seen: (run.outcomes.get(p.name)?.kinds ?? []).filter((k) => k !== 'esm') }))
    .filter((p) => JSON.stringify(p.recorded) !== JSON.stringify(p.seen));
  assert.deepEqual(drift, [], 'after changing the corpus: node test/apps/corpus/record-exports.js');
  const esm = corpus.packages.filter((p) => run.outcomes.get(p.name)?.kinds?.includes('esm')).map((p) => p.name);
  assert.deepEqual(esm, ESM, 'the packages loaded through import() are the ESM-only ones');
});

test('under -r dist/register.js every package loads as it does bare: no throw, same stderr, same exports', async (t) => {
  const { bare: bareRun, agent } = await bareAndRequire();
  t.diagnostic(timing(`${ALL.length} packages, require and import()`, bareRun, agent));
  assert.deepEqual(differences(bareRun, agent, ALL), []);
});

test('under --import dist/register.js the ESM-only packages load as they do bare', async (t) => {
  const { bare: bareRun, agent } = await runCorpus(ESM, ['--import', REGISTER]);
  t.diagnostic(timing(`${ESM.length} ESM-only packages`, bareRun, agent));
  assert.deepEqual(differences(bareRun, agent, ESM), []);
});
