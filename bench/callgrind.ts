// Instruction counts: a workload run once under `valgrind --tool=callgrind`, its total read
// from the `Collected :` line of callgrind's stderr. Left to chance, `node -e 0` counts
// vary by ±5% between runs: address-space layout and V8's random seed steer hashing and
// GC. With ASLR off (`setarch -R`) and `--random-seed=1` they repeat to within 0.02%,
// so a 1–2% target can be judged on a machine whose wall time varies by 10–20%. Not
// --hash-seed or --single-threaded: V8 then refuses Node's built-in code cache and every
// builtin is compiled from source, which is not what a user's process does.
// Children are not traced (callgrind's default): a spawn loop counts the parent's work only.
import { spawn, spawnSync } from 'node:child_process';
import type { Launch } from './processes';

const TIMEOUT_MS = 600_000;

/**
 * NODE_EXTRA_CA_CERTS makes every Node process parse a certificate bundle at start-up
 * (hundreds of millions of instructions of OpenSSL here): unset for bare and agent alike,
 * so that what is counted is Node's start-up and the agent's.
 */
export function countingEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.NODE_EXTRA_CA_CERTS;
  // A variant that counts the machine's own start-up (the certificate bundle included).
  if (out[KEEP_CA_CERTS]) out.NODE_EXTRA_CA_CERTS = out[KEEP_CA_CERTS];
  delete out[KEEP_CA_CERTS];
  return out;
}

/** In a variant's env: count with NODE_EXTRA_CA_CERTS set to this value. */
export const KEEP_CA_CERTS = 'FORKSAFE_BENCH_CA_CERTS';

let setarch: boolean | undefined;
/** `setarch -R` runs a command with address-space randomisation off, where the kernel allows it. */
function canDisableAslr(): boolean {
  setarch ??= spawnSync('setarch', ['-R', 'true']).status === 0;
  return setarch;
}

/** The flags every counted process gets, bare and agent alike. */
export const COUNTING_FLAGS = ['--random-seed=1'];

/** Runs `node <l.node> <l.args>` under callgrind and returns the instructions it executed. */
export function countInstructions(l: Launch): Promise<number> {
  return new Promise((resolve, reject) => {
    const valgrind = ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null', l.execPath ?? process.execPath, ...COUNTING_FLAGS, ...l.node, ...l.args];
    const argv = canDisableAslr() ? ['setarch', '-R', ...valgrind] : valgrind;
    const child = spawn(argv[0]!, argv.slice(1), { cwd: l.cwd, env: countingEnv(l.env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', (err) => reject(new Error(`valgrind: ${err.message} (the instruction counts need valgrind on PATH)`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = /Collected\s*:\s*(\d+)/.exec(stderr);
      if (code !== 0 || !m) return reject(new Error(`${argv.join(' ')} exited with ${code ?? signal}\n${stderr.slice(-4000)}`));
      resolve(Number(m[1]));
    });
  });
}
