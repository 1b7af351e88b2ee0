// Instruction counts: a workload run once under `valgrind --tool=callgrind`, its total read
// from the `Collected :` line of callgrind's stderr. Counts repeat to within a few million
// where wall time on this machine varies by 10–20%, so a 1–2% target can be judged.
// Children are not traced (callgrind's default): a spawn loop counts the parent's work only.
import { spawn } from 'node:child_process';
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
  return out;
}

/** Runs `node <l.node> <l.args>` under callgrind and returns the instructions it executed. */
export function countInstructions(l: Launch): Promise<number> {
  return new Promise((resolve, reject) => {
    const argv = ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, ...l.node, ...l.args];
    const child = spawn('valgrind', argv, { cwd: l.cwd, env: countingEnv(l.env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', (err) => reject(new Error(`valgrind: ${err.message} (the instruction counts need valgrind on PATH)`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = /Collected\s*:\s*(\d+)/.exec(stderr);
      if (code !== 0 || !m) return reject(new Error(`valgrind ${argv.slice(2).join(' ')} exited with ${code ?? signal}\n${stderr.slice(-4000)}`));
      resolve(Number(m[1]));
    });
  });
}
