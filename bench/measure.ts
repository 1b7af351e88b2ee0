// How samples are taken: whole processes timed in turn (start-up, memory), or long-lived
// workload processes driven block by block in turn (throughput), so that every variant of
// a figure sees the same moments of the machine.
import { join } from 'node:path';
import type { AgentUnderTest } from './agent';
import { workloadEnv } from './machine';
import { countInstructions } from './callgrind';
import { runOnce, Served, type Once } from './processes';

export const WORKLOADS = join(__dirname, 'workloads');
export const OTEL = join(__dirname, 'otel');

export interface Variant {
  /** Key in the results: `bare`, `agent`, `otel`, `keep`, … (see `variants` in the results file). */
  name: string;
  node: string[];
  env?: Record<string, string>;
  /** Extra workload arguments for this variant alone. */
  args?: string[];
  /** Another node binary for this variant (another Node major); default: the bench's own. */
  execPath?: string;
}

export interface Context {
  agent: AgentUnderTest;
  quick: boolean;
  /** One progress line on stderr. */
  progress(message: string): void;
}

export const bare: Variant = { name: 'bare', node: [] };

/** The agent, loaded the way users load it; `setting` adds one FORKSAFE_* variable. */
export function withAgent(ctx: Context, setting?: { name: string; env: Record<string, string> }): Variant {
  const node = ['-r', ctx.agent.register];
  return setting ? { name: setting.name, node, env: setting.env } : { name: 'agent', node };
}

export function otel(driver: 'pg' | 'mysql2'): Variant {
  return { name: 'otel', node: ['-r', join(OTEL, `${driver}.js`)] };
}

export function launch(ctx: Context, v: Variant, args: string[], extraNode: string[] = []) {
  return { execPath: v.execPath, node: [...extraNode, ...v.node], args: [...args, ...(v.args ?? [])], cwd: ctx.agent.cwd, env: workloadEnv(v.env) };
}

/** `pairs` rounds of one fresh process per variant, in turn (A B A B …). */
export async function processRounds(
  ctx: Context,
  title: string,
  variants: Variant[],
  args: string[],
  pairs: number,
  pick: (run: Once) => number,
  options: { extraNode?: string[]; coldRound?: boolean } = {},
): Promise<Record<string, number[]>> {
  const { extraNode = [], coldRound = true } = options;
  const out: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
  // One unrecorded round (full runs): the first process start after a pause pays for cold caches.
  if (coldRound && !ctx.quick) for (const v of variants) await runOnce(launch(ctx, v, args, extraNode));
  for (let i = 1; i <= pairs; i++) {
    ctx.progress(`${title}: round ${i}/${pairs}`);
    for (const v of variants) out[v.name]!.push(pick(await runOnce(launch(ctx, v, args, extraNode))));
  }
  return out;
}

export interface BlockPlan {
  /** Fresh sets of processes (one per variant). */
  sets: number;
  /** Recorded runs per set: one sample per variant each. */
  runs: number;
  /** Blocks per run; the variants take turns block by block. */
  blocks: number;
  params: object;
}

/**
 * Starts one process per variant, then runs `runs` × `blocks` blocks in turn; each run's
 * blocks are combined into one sample per variant. Repeated over `sets` fresh processes.
 */
export async function blockRounds<T>(
  ctx: Context,
  title: string,
  variants: Variant[],
  args: string[],
  plan: BlockPlan,
  combine: (blocks: any[]) => T,
): Promise<Record<string, T[]>> {
  const out: Record<string, T[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let set = 1; set <= plan.sets; set++) {
    const procs: Served[] = [];
    let failed = false;
    try {
      // Started one after the other: their warm-ups do not compete.
      for (const v of variants) procs.push(await Served.start(launch(ctx, v, args)));
      for (let run = 1; run <= plan.runs; run++) {
        ctx.progress(`${title}: set ${set}/${plan.sets}, run ${run}/${plan.runs}`);
        const results: any[][] = variants.map(() => []);
        for (let b = 0; b < plan.blocks; b++) {
          for (let i = 0; i < procs.length; i++) results[i]!.push(await procs[i]!.block(plan.params));
        }
        variants.forEach((v, i) => out[v.name]!.push(combine(results[i]!)));
      }
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // Every workload ends its pools; after a failure, the first error is the one to show.
      const ends = Promise.allSettled(procs.map((p) => p.end()));
      const failure = (await ends).find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure && !failed) throw failure.reason;
    }
  }
  return out;
}

export const sumMs = (blocks: { ms: number }[]): number => blocks.reduce((n, b) => n + b.ms, 0);

export function workload(name: string, ...args: (string | number)[]): string[] {
  return [join(WORKLOADS, name), ...args.map(String)];
}

/**
 * `runs` instruction counts (callgrind) per variant, taken in turn. Counts do not depend on
 * the machine's load, so two processes are counted at a time (valgrind is ~50× slower).
 */
export async function countRounds(ctx: Context, title: string, variants: Variant[], args: string[], runs: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
  const jobs = Array.from({ length: runs }, (_, round) => variants.map((v) => ({ round, v }))).flat();
  let next = 0;
  let done = 0;
  const results: number[] = new Array(jobs.length);
  async function worker(): Promise<void> {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await countInstructions(launch(ctx, jobs[i]!.v, args));
      ctx.progress(`${title}: ${++done}/${jobs.length} counted (callgrind)`);
    }
  }
  await Promise.all([worker(), worker()]);
  jobs.forEach((j, i) => out[j.v.name]!.push(results[i]!));
  return out;
}
