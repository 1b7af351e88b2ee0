#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { reportCommand } from './report';
import { parseRunArgs, RUN_USAGE, runCommand, UsageError } from './run';

const REPORT_USAGE = 'forksafe report <file> [--json]';

const USAGE = `Usage:
  ${REPORT_USAGE}
      Summarise a forksafe report (JSON Lines; "-" reads stdin) by kind and call site.
      --json   the same summary as one JSON object
      Exit: 0 no violation, 1 violations found, 2 the file is missing or unreadable.

  ${RUN_USAGE}
      Run a command with the agent loaded in every Node process it starts, then print
      the summary of its report on stderr.
      --strict         FORKSAFE_MODE=strict: the violating call throws ForkSafetyError
      --report <file>  where to write the report (overwritten); default: a new file
                       in the temp directory
      Exit: the command's own code if non-zero, else 1 if a violation was recorded,
      else 0; 127 if the command cannot be started.

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
  let json = false;
  const files: string[] = [];
  let operands = false;
  for (const arg of argv) {
    if (operands || arg === '-' || !arg.startsWith('-')) files.push(arg);
    else if (arg === '--') operands = true;
    else if (arg === '--json') json = true;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE);
      return 0;
    } else return usageError(`forksafe report: unknown option '${arg}' (accepted: --json; usage: ${REPORT_USAGE})`);
  }
  if (files.length === 0) return usageError(`forksafe report: missing the report file (usage: ${REPORT_USAGE})`);
  if (files.length > 1) return usageError(`forksafe report: one file at a time, got ${files.length} (usage: ${REPORT_USAGE})`);
  return reportCommand(files[0]!, json);
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
  const pkg = JSON.parse(readFileSync(resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

main(process.argv.slice(2)).then(
  (code) => {
    // exitCode rather than exit(): a piped stdout gets the whole summary first.
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`forksafe: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 2;
  },
);
