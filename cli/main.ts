#!/usr/bin/env node
import { resolve } from 'node:path';
import { packageJsonAt } from '../agent/packages';
import { formatValue, optionValue, UsageError } from './args';
import { type Format, FORMATS } from './render';
import { reportCommand } from './report-command';
import { parseRunArgs, RUN_USAGE, runCommand } from './run';

const REPORT_USAGE = 'forksafe report <file> [--format <format>] [--out <path>]';
const REPORT_OPTIONS = `--format <${FORMATS.join('|')}>, --json, --out <path>`;

const USAGE = `Usage:
  ${REPORT_USAGE}
      Summarise a forksafe report (JSON Lines; "-" reads stdin) by kind and call site.
      --format text    the summary for a terminal (the default)
      --format json    the same summary as one JSON object (--json is the same)
      --format html    one self-contained page: the process tree, what each fork closed,
                       each process's violations, filters by kind and driver
      --format github  one GitHub Actions workflow command (::error) per call site
      --format junit   JUnit XML: a failing test case per call site, a passing one per fork
      --out <path>     write to this file instead of stdout
      Lines longer than 1 MiB and malformed lines are listed, not fatal; the summary keeps
      the 1000 most frequent call sites and says how many violations it did not list.
      Exit: 0 no violation, 1 violations found, 2 the file is missing or unreadable.

  ${RUN_USAGE}
      Run a command with the agent loaded in every Node process it starts, then print
      the summary of its report (on stderr; another --format without --out goes to
      stdout once the command has ended).
      --strict         FORKSAFE_MODE=strict: the violating call throws ForkSafetyError
      --report <file>  where to write the report (overwritten, and kept); default: a new
                       file in the temp directory, deleted once it has been summarised
      --keep-report    keep that default report (its path is printed)
      --format, --out  as for forksafe report
      Exit: the command's own code if non-zero, else 1 if a violation was recorded,
      else 0; 127 if the command cannot be started; 2 for a usage error or a report
      that cannot be read or written.

  forksafe --help | --version

A usage error exits with 2.
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      process.stderr.write(USAGE);
      return 2;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case '--version':
    case '-v':
      process.stdout.write(version() + '\n');
      return 0;
    case 'report':
      return report(rest);
    case 'run':
      return run(rest);
    default:
      return usageError(`forksafe: unknown command '${command}' (accepted: report, run; see forksafe --help)`);
  }
}

async function report(argv: readonly string[]): Promise<number> {
  let format: Format = 'text';
  let out: string | undefined;
  const files: string[] = [];
  let operands = false;
  try {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (operands || arg === '-' || !arg.startsWith('-')) files.push(arg);
      else if (arg === '--') operands = true;
      else if (arg === '--json') format = 'json';
      else if (arg === '--help' || arg === '-h') {
        process.stdout.write(USAGE);
        return 0;
      } else {
        const f = optionValue(argv, i, '--format', 'a format', REPORT_USAGE);
        const o = f ?? optionValue(argv, i, '--out', 'a file path', REPORT_USAGE);
        if (o === undefined) throw new UsageError(`unknown option '${arg}' (accepted: ${REPORT_OPTIONS}; usage: ${REPORT_USAGE})`);
        if (f !== undefined) format = formatValue(f.value, REPORT_USAGE);
        else out = o.value;
        i = o.next;
      }
    }
  } catch (err) {
    if (err instanceof UsageError) return usageError(`forksafe report: ${err.message}`);
    throw err;
  }
  if (files.length === 0) return usageError(`forksafe report: missing the report file (usage: ${REPORT_USAGE})`);
  if (files.length > 1) return usageError(`forksafe report: one file at a time, got ${files.length} (usage: ${REPORT_USAGE})`);
  return reportCommand(files[0]!, { format, out });
}

async function run(argv: readonly string[]): Promise<number> {
  const beforeCommand = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (beforeCommand.includes('--help') || beforeCommand.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    // The agent sits next to the CLI in dist/: dist/cli/main.js -> dist/register.js.
    return await runCommand(parseRunArgs(argv), resolve(__dirname, '..', 'register.js'));
  } catch (err) {
    if (err instanceof UsageError) return usageError(`forksafe run: ${err.message}`);
    throw err;
  }
}

function usageError(message: string): number {
  process.stderr.write(message + '\n');
  return 2;
}

function version(): string {
  const v = packageJsonAt(resolve(__dirname, '..', '..'))?.version;
  return typeof v === 'string' ? v : 'unknown';
}

main(process.argv.slice(2)).then(
  (code) => {
    // exitCode rather than exit(): a piped stdout gets the whole summary first.
    process.exitCode = code;
  },
  (err: unknown) => {
    // One line, never a stack trace: the exit code and the line are the interface.
    process.stderr.write(`forksafe: unexpected error: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`);
    process.exitCode = 2;
  },
);
