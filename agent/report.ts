import { closeSync, openSync, writeSync } from 'node:fs';
import { ConfigError } from './config';

// Every process of the tree appends to one file. The file is opened with O_APPEND and
// each record is written by a single write(2), which the kernel applies whole and at the
// end of the file: lines from many processes never interleave or tear.

let fd: number | undefined;
let path: string | undefined;

export function openReport(file: string | undefined): void {
  if (file === path) return;
  let next: number | undefined;
  if (file !== undefined) {
    try {
      next = openSync(file, 'a', 0o644);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ConfigError(`FORKSAFE_REPORT=${JSON.stringify(file)} cannot be opened for appending (${reason}); accepted: a path to a file in a directory that exists and is writable`);
    }
  }
  if (fd !== undefined) closeSync(fd);
  fd = next;
  path = file;
}

export function reportPath(): string | undefined {
  return path;
}

export type Record = { type: string } & { [key: string]: unknown };

export function writeRecord(record: Record): void {
  if (fd === undefined) return;
  const { type, ...rest } = record;
  const line = JSON.stringify({ v: 1, type, time: new Date().toISOString(), pid: process.pid, ppid: process.ppid, ...rest }) + '\n';
  const buf = Buffer.from(line);
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off);
}
