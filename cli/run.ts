import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileErrorReason, ReportReadError, summarizeFile } from './report';
import { formatSummary } from './summary';
import { withPreload } from '../agent/propagate';

export const RUN_USAGE = 'forksafe run [--strict] [--report <file>] -- <command> [args...]';

export interface RunOptions {
  strict: boolean;
  /** As given; undefined for a new file in the temp directory. */
  report: string | undefined;
  command: string;
  args: string[];
}

/** What was wrong with the command line, in one line naming what is accepted. */
export class UsageError extends Error {}

export function parseRunArgs(argv: readonly string[]): RunOptions {
  let strict = false;
  let report: string | undefined;
  const dashes = argv.indexOf('--');
  const flags = dashes === -1 ? argv : argv.slice(0, dashes);
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    if (flag === '--strict') strict = true;
    else if (flag === '--report' || flag.startsWith('--report=')) {
      const value = flag === '--report' ? flags[++i] : flag.slice('--report='.length);
      if (value === undefined || value === '' || value.startsWith('-')) throw new UsageError(`--report needs a file path (usage: ${RUN_USAGE})`);
      report = value;
    } else if (flag.startsWith('-')) {
      throw new UsageError(`unknown option '${flag}' (accepted: --strict, --report <file>; usage: ${RUN_USAGE})`);
    } else {
      throw new UsageError(`missing '--' before the command '${flag}' (usage: ${RUN_USAGE})`);
    }
  }
  if (dashes === -1) throw new UsageError(`missing '--' and the command to run (usage: ${RUN_USAGE})`);
  const [command, ...args] = argv.slice(dashes + 1);
  if (command === undefined || command === '') throw new UsageError(`no command after '--' (usage: ${RUN_USAGE})`);
  return { strict, report, command, args };
}

/**
 * NODE_OPTIONS with the agent preloaded. Node splits NODE_OPTIONS on spaces except inside
 * double quotes, where a backslash escapes the next character
 * (https://github.com/nodejs/node/blob/v20.x/src/node_options.cc, ParseNodeOptionsEnvVar).
 */
export function agentEnv(
  env: NodeJS.ProcessEnv,
  settings: { registerPath: string; reportPath: string; strict: boolean },
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, NODE_OPTIONS: withPreload(env.NODE_OPTIONS, settings.registerPath), FORKSAFE_REPORT: settings.reportPath };
  if (settings.strict) out.FORKSAFE_MODE = 'strict';
  return out;
}

function defaultReportPath(): string {
  return join(tmpdir(), `forksafe-${process.pid}-${Date.now()}.jsonl`);
}

const FORWARDED = ['SIGINT', 'SIGTERM'] as const;

/** `forksafe run`: returns the exit code. Messages go to stderr, the command keeps stdout. */
export async function runCommand(options: RunOptions, registerPath: string): Promise<number> {
  const say = (line: string): void => void process.stderr.write(`forksafe run: ${line}\n`);
  if (!existsSync(registerPath)) {
    say(`the agent is missing at ${registerPath} (is forksafe built? npm run build)`);
    return 2;
  }
  const reportPath = options.report === undefined ? defaultReportPath() : resolve(options.report);
  try {
    // A fresh report per run: the summary and the exit code are about this run only.
    writeFileSync(reportPath, '');
  } catch (err) {
    say(`cannot write the report ${reportPath}: ${fileErrorReason(err)}`);
    return 2;
  }

  const cannotStart = (error: NodeJS.ErrnoException): number => {
    if (options.report === undefined) unlinkSync(reportPath);
    const shown = `'${options.command}'`;
    if (error.code === 'ENOENT') {
      say(`cannot start ${shown}: command not found`);
      return 127;
    }
    if (error.code === 'EACCES') {
      say(`cannot start ${shown}: permission denied`);
      return 126;
    }
    say(`cannot start ${shown}: ${error.message}`);
    return 127;
  };

  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      stdio: 'inherit',
      env: agentEnv(process.env, { registerPath, reportPath, strict: options.strict }),
    });
  } catch (err) {
    // Arguments spawn() rejects outright, such as a NUL byte in the command.
    return cannotStart(err as NodeJS.ErrnoException);
  }
  const forward = (signal: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException }>((done) => {
    child.once('error', (error) => done({ error }));
    child.once('exit', (code, signal) => done({ code, signal }));
  });
  for (const signal of FORWARDED) process.off(signal, forward);
  if ('error' in ended) return cannotStart(ended.error);

  const commandCode = ended.signal !== null ? 128 + (constants.signals[ended.signal] ?? 0) : (ended.code ?? 0);
  let violations: number;
  try {
    const summary = await summarizeFile(reportPath);
    process.stderr.write('\n' + formatSummary(summary));
    violations = summary.violations.count;
  } catch (err) {
    if (!(err instanceof ReportReadError)) throw err;
    say(`the report was not left readable: ${err.message}`);
    return commandCode !== 0 ? commandCode : 2;
  }
  if (commandCode !== 0) return commandCode;
  return violations > 0 ? 1 : 0;
}
