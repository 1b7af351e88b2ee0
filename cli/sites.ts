import { dirname, isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSite } from '../agent/stacks';

export interface SourcePlace {
  /** Relative to the current directory, with `/` separators. */
  file: string;
  line: number;
  col: number;
}

// The dist/ this CLI runs from holds the agent too: its files are never the user's.
const agentDir = dirname(__dirname) + sep;

/**
 * A recorded call site (`file:line:col`, as the agent wrote it) as a place in the user's
 * files relative to `cwd`, or null when it is not one: unknown, a `node:` frame, the
 * agent's own files, or a file outside `cwd` (a CI system can only point at its checkout).
 */
export function userPlace(site: string, cwd = process.cwd()): SourcePlace | null {
  const parsed = parseSite(site);
  if (parsed === undefined) return null;
  let file = parsed.file;
  if (file.startsWith('node:') || file.startsWith('<')) return null;
  if (file.startsWith('file://')) {
    try {
      file = fileURLToPath(file);
    } catch {
      return null;
    }
  }
  if (!isAbsolute(file) || file.startsWith(agentDir) || /[\\/]forksafe[\\/]dist[\\/]/.test(file)) return null;
  const rel = relative(cwd, file);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return null;
  return { file: rel.split(sep).join('/'), line: parsed.line, col: parsed.column };
}

/**
 * Where a CI system should point for a call site: the call itself when it is in the
 * user's files, else where the connection was opened (an inherited socket's "call" is the
 * process start-up, and the line that matters is the one that opened the connection).
 */
export function placeOf(site: { site: string; connections: ReadonlyArray<{ openedAt: string }> }, cwd = process.cwd()): { place: SourcePlace | null; opened: boolean } {
  const place = userPlace(site.site, cwd);
  if (place !== null) return { place, opened: false };
  for (const c of site.connections) {
    const opened = userPlace(c.openedAt, cwd);
    if (opened !== null) return { place: opened, opened: true };
  }
  return { place: null, opened: false };
}
