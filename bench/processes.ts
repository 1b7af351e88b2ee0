// Fresh `node` processes for the workloads: run once and time it, or drive block by block.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';

export interface Launch {
  /** The node binary; default: the one running the bench. */
  execPath?: string;
  /** Node flags before the script, e.g. `['-r', 'forksafe/register']`. */
  node: string[];
  /** The script and its arguments, or `['-e', '0']`. */
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface Once {
  /** From just before spawn to the exit event. */
  wallMs: number;
  /** The last stdout line parsed as JSON, if any. */
  json: any;
}

const TIMEOUT_MS = 120_000;

function describe(l: Launch): string {
  return ['node', ...l.node, ...l.args].join(' ');
}

/** Runs a process to its end; rejects with its stderr if it fails. */
export function runOnce(l: Launch): Promise<Once> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(l.execPath ?? process.execPath, [...l.node, ...l.args], { cwd: l.cwd, env: l.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let wallMs = NaN;
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', () => (wallMs = Number(process.hrtime.bigint() - t0) / 1e6));
    // 'close' comes once the pipes are drained too.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${describe(l)} exited with ${code ?? signal}\n${stderr}`));
      const last = stdout.trim().split('\n').pop();
      resolve({ wallMs, json: last ? JSON.parse(last) : undefined });
    });
  });
}

/** A workload driven block by block over stdin/stdout (see `serve` in workloads/common.js). */
export class Served {
  private readonly child: ChildProcess;
  private readonly lines: Interface;
  private readonly waiting: Array<(line: string) => void> = [];
  private readonly exited: Promise<void>;
  private stderr = '';
  private failure: Error | undefined;

  private constructor(private readonly launch: Launch) {
    this.child = spawn(process.execPath, [...launch.node, ...launch.args], { cwd: launch.cwd, env: launch.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.lines = createInterface({ input: this.child.stdout! });
    this.lines.on('line', (line) => this.waiting.shift()?.(line));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        if (code !== 0) this.failure = new Error(`${describe(this.launch)} exited with ${code ?? signal}\n${this.stderr}`);
        for (const w of this.waiting.splice(0)) w('');
        resolve();
      });
    });
  }

  /** Starts the process and waits until its set-up is done. */
  static async start(launch: Launch): Promise<Served> {
    const served = new Served(launch);
    await served.reply();
    return served;
  }

  private reply(): Promise<any> {
    return new Promise((resolve, reject) => {
      this.waiting.push((line) => {
        if (this.failure || line === '') return reject(this.failure ?? new Error(`${describe(this.launch)} ended early\n${this.stderr}`));
        resolve(JSON.parse(line));
      });
    });
  }

  /** Runs one block and returns its result. */
  block(params: object): Promise<any> {
    this.child.stdin!.write(JSON.stringify({ block: params }) + '\n');
    return this.reply();
  }

  /** Asks the workload to clean up and waits for the process to end on its own. */
  async end(): Promise<void> {
    this.child.stdin!.end(JSON.stringify({ end: true }) + '\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
    if (this.failure) throw this.failure;
  }
}
