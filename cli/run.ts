import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatValue, optionValue, UsageError } from './args';
import { fileErrorReason, ReportReadError } from './report';
import { writeOut } from './report-command';
import { type Format, FORMATS, render } from './render';
import { withPreload } from '../agent/propagate';

export { UsageError } from './args';

export const RUN_USAGE = 'forksafe run [--strict] [--report <file> | --keep-report] [--format <format>] [--out <path>] -- <command> [args...]';
const RUN_OPTIONS = `--strict, --report <file>, --keep-report, --format <${FORMATS.join('|')}>, --out <path>`;

export interface RunOptions {
  strict: boolean;
  /** As given; undefined for a new file in the temp directory. */
  report: string | undefined;
  /** Keep the default report instead of deleting it once summarised. */
  keepReport: boolean;
  format: Format;
  out: string | undefined;
  command: string;
  args: string[];
}

export function parseRunArgs(argv: readonly string[]): RunOptions {
  let strict = false;
  let keepReport = false;
  let report: string | undefined;
  let format: Format = 'text';
  let out: string | undefined;
  const dashes = argv.indexOf('--');
  const flags = dashes === -1 ? argv : argv.slice(0, dashes);
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    let option;
    if (flag === '--strict') strict = true;
    else if (flag === '--keep-report') keepReport = true;
    else if ((option = optionValue(flags, i, '--report', 'a file path', RUN_USAGE)) !== undefined) {
      report = option.value;
      i = option.next;
    } else if ((option = optionValue(flags, i, '--format', 'a format', RUN_USAGE)) !== undefined) {
      format = formatValue(option.value, RUN_USAGE);
      i = option.next;
    } else if ((option = optionValue(flags, i, '--out', 'a file path', RUN_USAGE)) !== undefined) {
      out = option.value;
      i = option.next;
    } else if (flag.startsWith('-')) {
      throw new UsageError(`unknown option '${flag}' (accepted: ${RUN_OPTIONS}; usage: ${RUN_USAGE})`);
    } else {
      throw new UsageError(`missing '--' before the command '${flag}' (usage: ${RUN_USAGE})`);
    }
  }
  if (dashes === -1) throw new UsageError(`missing '--' and the command to run (usage: ${RUN_USAGE})`);
  const [command, ...args] = argv.slice(dashes + 1);
  if (command === undefined || command === '') throw new UsageError(`no command after '--' (usage: ${RUN_USAGE})`);
  if (report !== undefined && keepReport) throw new UsageError(`--keep-report is for the default report; a --report file is always kept (usage: ${RUN_USAGE})`);
  return { strict, report, keepReport, format, out, command, args };
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
    writeFileSync(reportPath, '', { mode: 0o600 });
  } catch (err) {
    say(`cannot write the report ${reportPath}: ${fileErrorReason(err)}`);
    return 2;
  }

  // The default report is the CLI's own temporary file: gone once summarised, unless kept.
  const ownFile = options.report === undefined && !options.keepReport;
  const removeOwn = (): void => {
    if (ownFile) rmSync(reportPath, { force: true });
  };

  const cannotStart = (error: NodeJS.ErrnoException): number => {
    if (options.report === undefined) rmSync(reportPath, { force: true });
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
  let written = true;
  try {
    const label = ownFile && options.format === 'text' ? `${reportPath} (deleted; --keep-report keeps it)` : reportPath;
    const { summary, output } = await render(reportPath, options.format, label);
    violations = summary.violations.count;
    if (options.out !== undefined) written = await writeOut(options.out, output, 'forksafe run');
    else if (options.format === 'text') process.stderr.write('\n' + output);
    // The command has ended: stdout is free for a machine-read format.
    else process.stdout.write(output);
    if (options.format !== 'text' || options.out !== undefined) say(`report: ${reportPath}${ownFile ? ' (deleted)' : ''}`);
  } catch (err) {
    if (!(err instanceof ReportReadError)) throw err;
    say(`the report was not left readable: ${err.message}`);
    return commandCode !== 0 ? commandCode : 2;
  } finally {
    removeOwn();
  }
  if (commandCode !== 0) return commandCode;
  if (!written) return 2;
  return violations > 0 ? 1 : 0;
}
