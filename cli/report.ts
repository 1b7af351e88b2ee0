import { open } from 'node:fs/promises';
import { readLines } from './lines';
import type { ReportRecord } from './records';
import { type Summary, SummaryBuilder } from './summary';

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
 * Summarises a report file (`-` for stdin), reading it as a stream of bytes cut into
 * capped lines, so a report of any size, with lines of any length, takes the memory of
 * its capped summary (plus one number per fork, for the exact median), not of its text.
 * `onRecord` sees every well-formed record too (the process tree is built from it).
 */
export async function summarizeFile(
  file: string,
  label = file,
  onRecord?: (record: ReportRecord, line: number) => void,
): Promise<Summary> {
  const builder = new SummaryBuilder(label, onRecord);
  const sink = { line: (line: string) => builder.addLine(line), tooLong: (bytes: number) => builder.addTooLong(bytes) };
  try {
    if (file === '-') {
      await readLines(process.stdin, sink);
    } else {
      const handle = await open(file, 'r');
      try {
        // open(2) succeeds on a directory; the read would fail later with a vaguer error.
        if ((await handle.stat()).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
        await readLines(handle.createReadStream({ autoClose: false, highWaterMark: 1 << 16 }), sink);
      } finally {
        await handle.close();
      }
    }
  } catch (err) {
    throw new ReportReadError(file, fileErrorReason(err));
  }
  return builder.summary();
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
    default: {
      // One line, whatever the error: the message of a system error, never a stack.
      const message = err instanceof Error ? err.message : String(err);
      return message.split('\n')[0]!.slice(0, 200);
    }
  }
}

/** Exit code of `forksafe report`: 0 no violation, 1 violations found. */
export function exitCodeOf(summary: Summary): 0 | 1 {
  return summary.violations.count > 0 ? 1 : 0;
}
