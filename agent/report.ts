import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { ConfigError } from './config';
import { reasonOf, sayOnce } from './boundary';

// Every process of the tree appends to one file. The file is opened with O_APPEND and
// each record is written by a single write(2), which the kernel applies whole and at the
// end of the file: lines from many processes never interleave or tear. It holds stacks
// and targets, so it is created 0600, and never opened through a symlink at its last
// component (a link planted there could send the lines to any file the process can write).

let fd: number | undefined;
let path: string | undefined;

const FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);

/** Opens the report for appending, or throws ConfigError saying why it cannot be. */
export function openReport(file: string | undefined): void {
  if (file === path) return;
  let next: number | undefined;
  if (file !== undefined) {
    try {
      next = openSync(file, FLAGS, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason =
        code === 'ELOOP'
          ? 'it is a symbolic link, which forksafe does not write through'
          : `${code ?? String(err)}`;
      throw new ConfigError(`FORKSAFE_REPORT=${JSON.stringify(file)} cannot be opened for appending (${reason}); accepted: a path to a file (not a symbolic link) in a directory that exists and is writable`);
    }
  }
  if (fd !== undefined) closeSync(fd);
  fd = next;
  path = file;
}

export function reportPath(): string | undefined {
  return path;
}

/** One line of the report: `type` and its fields; `v`, `time`, `pid` and `ppid` are added. */
export type ReportLine = { type: string } & { [key: string]: unknown };

/**
 * Appends one line. A write that fails (a full disk, a revoked file) is said once on
 * stderr and goes no further: the caller's work (strict mode's throw, the fork) goes on.
 */
export function writeRecord(record: ReportLine): void {
  if (fd === undefined) return;
  const { type, ...rest } = record;
  try {
    const line = JSON.stringify({ v: 1, type, time: new Date().toISOString(), pid: process.pid, ppid: process.ppid, ...rest }) + '\n';
    const buf = Buffer.from(line);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
  } catch (err) {
    sayOnce('report write', `cannot write to the report ${path} (${reasonOf(err)}); this process goes on without it (violations are still recorded in memory, and still throw in strict mode)`);
  }
}
