import { distDir } from './dist-dir';

// Frames of the agent itself (dist/) and of Node are not where the user's code is.
const ownDir = distDir + '/';

/** A stack captured now and formatted only if someone reads it (V8 formats lazily). */
export interface StackHolder {
  stack?: string;
}

// Deep enough to get past a library's own frames (jest-worker's are more than Node's
// default 10) to the user's.
const FRAMES = 50;

export function captureStack(skip?: Function): StackHolder {
  const holder: StackHolder = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = FRAMES;
  try {
    Error.captureStackTrace(holder, skip);
  } finally {
    Error.stackTraceLimit = limit;
  }
  return holder;
}

/** The frame lines of a stack, without the "Error" header. */
export function framesOf(holder: StackHolder | undefined): string {
  const stack = holder?.stack ?? '';
  const lines = stack.split('\n');
  return (lines[0]?.startsWith('    at ') ? lines : lines.slice(1)).join('\n');
}

/**
 * Where the user's code is in a stack, as `file:line:col`: the first frame outside Node,
 * the agent and node_modules; failing that, the first outside Node and the agent (a
 * library that forks or sends for you); failing that, '<unknown>'.
 */
export function userSite(frames: string): string {
  let library: string | undefined;
  for (const line of frames.split('\n')) {
    const frame = line.trim().replace(/^at /, '');
    if (frame === '' || frame.startsWith('node:') || frame.includes('(node:') || frame.includes(ownDir)) continue;
    const paren = /\((.*)\)$/.exec(frame);
    const site = paren ? paren[1]! : frame;
    if (!site.includes('/node_modules/')) return site;
    library ??= site;
  }
  return library ?? '<unknown>';
}
