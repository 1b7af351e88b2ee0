import type { Readable } from 'node:stream';

/**
 * The longest report line kept. A record is a few kilobytes (two stacks of at most 50
 * frames); anything longer is not a line the agent wrote, and holding it would let one
 * line take all the memory there is.
 */
export const LINE_CAP = 1 << 20;

export interface LineSink {
  line(text: string): void;
  /** A line longer than the cap, of `bytes` bytes without its line end; its text was dropped. */
  tooLong(bytes: number): void;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines (LF or CRLF) without readline, which holds a whole line
 * however long it is: bytes past the cap are counted and dropped, so the memory of a read
 * is the cap plus one chunk, for any input.
 */
export async function readLines(input: Readable, sink: LineSink, cap = LINE_CAP): Promise<void> {
  let parts: Buffer[] = [];
  let length = 0;
  let over = false;
  const end = (): void => {
    if (over) sink.tooLong(length);
    else {
      let buffer = parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
      if (buffer.length > 0 && buffer[buffer.length - 1] === CR) buffer = buffer.subarray(0, buffer.length - 1);
      sink.line(buffer.toString('utf8'));
    }
    parts = [];
    length = 0;
    over = false;
  };
  const take = (piece: Buffer): void => {
    length += piece.length;
    if (over) return;
    if (length > cap + 1) {
      // +1: the CR of a CRLF line end is not part of the line.
      over = true;
      parts = [];
    } else if (piece.length > 0) {
      // A copy: a slice would keep the whole chunk alive with it.
      parts.push(Buffer.from(piece));
    }
  };
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    let start = 0;
    for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, start)) {
      if (length === 0 && !over && i - start <= cap + 1) {
        // The usual case, a whole line inside one chunk: decoded in place, no copy.
        sink.line(bytes.toString('utf8', start, i > start && bytes[i - 1] === CR ? i - 1 : i));
      } else {
        take(bytes.subarray(start, i));
        end();
      }
      start = i + 1;
    }
    if (start < bytes.length) take(bytes.subarray(start));
  }
  // A last line without a line end is still a line.
  if (length > 0 || over) end();
}
