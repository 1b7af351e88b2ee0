import { open } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { formatSummary, Summary, SummaryBuilder } from './summary';

// The dist/ this CLI runs from holds the agent too: its frames are never the user's.
const agentDirs = [dirname(__dirname) + sep];

/** The report could not be read; `reason` is short and meant for a person. */
export class ReportReadError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`cannot read ${file}: ${reason}`);
  }
}

/**
 * Summarises a report file (`-` for stdin), reading it as a stream of lines so a report
 * of any size takes the memory of its summary (plus one number per fork, for the exact
 * median), not of its text.
 */
export async function summarizeFile(file: string): Promise<Summary> {
  const builder = new SummaryBuilder(file, { agentDirs });
  try {
    if (file === '-') {
      await eachLine(process.stdin, (line) => builder.addLine(line));
    } else {
      const handle = await open(file, 'r');
      try {
        // open(2) succeeds on a directory; the read would fail later with a vaguer error.
        if ((await handle.stat()).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
        await eachLine(handle.createReadStream({ encoding: 'utf8', autoClose: false }), (line) => builder.addLine(line));
      } finally {
        await handle.close();
      }
    }
  } catch (err) {
    throw new ReportReadError(file, fileErrorReason(err));
  }
  return builder.summary();
}

function eachLine(input: Readable, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input, crlfDelay: Infinity });
    input.on('error', reject);
    // readline re-emits its input's errors; without a listener they would crash the CLI.
    lines.on('error', reject);
    lines.on('line', onLine);
    lines.on('close', resolve);
  });
}

/** Why a file could not be read or written, in a few words. */
export function fileErrorReason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** Exit code of `forksafe report`: 0 no violation, 1 violations found. */
export function exitCodeOf(summary: Summary): 0 | 1 {
  return summary.violations.count > 0 ? 1 : 0;
}

/** `forksafe report <file> [--json]`: the summary on stdout; returns the exit code. */
export async function reportCommand(file: string, json: boolean): Promise<number> {
  let summary: Summary;
  try {
    summary = await summarizeFile(file);
  } catch (err) {
    if (!(err instanceof ReportReadError)) throw err;
    process.stderr.write(`forksafe report: ${err.message}\n`);
    return 2;
  }
  process.stdout.write(json ? JSON.stringify(summary, null, 2) + '\n' : formatSummary(summary));
  return exitCodeOf(summary);
}
