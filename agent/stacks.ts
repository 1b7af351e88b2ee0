import { findSourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { distDir } from './dist-dir';

// Where the user's code is, read from V8's structured call sites (as why-is-node-running
// does), never from stack text: the agent writes the `site` of every record, and the CLI
// reads it from there instead of guessing it again from a stack.

const ownDir = distDir + '/';

/** A stack captured now; its call sites are read only if someone asks (a violation). */
export interface StackHolder {
  stack?: unknown;
}

/** A captured stack, read once: its frames as text and the user's place in it. */
export interface ReadStack {
  /** The frame lines (`    at …`), without a header. */
  frames: string;
  /** The user's place, `file:line:col`, or '<unknown>'. */
  site: string;
  /** The first file outside Node and the agent: the code that made the call (a library, or the user's). */
  caller: string | undefined;
}

// Deep enough to get past a library's own frames (jest-worker's are more than Node's
// default 10) to the user's.
const FRAMES = 50;

/** Never throws (a wrapper may call it outside a guard): a locked-down Error leaves the holder empty. */
export function captureStack(skip?: Function): StackHolder {
  const holder: StackHolder = {};
  const limit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = FRAMES;
    Error.captureStackTrace(holder, skip);
  } catch {
    // A frozen Error (SES lockdown): the site reads '<unknown>'.
  } finally {
    if (Error.stackTraceLimit !== limit) Error.stackTraceLimit = limit;
  }
  return holder;
}

const read = new WeakMap<StackHolder, ReadStack>();

/**
 * V8 formats a captured stack on its first read, handing `Error.prepareStackTrace` the
 * structured call sites: ours is put in place for that one read, so that the sites come
 * as objects. The user's own prepareStackTrace (source-map-support) is not called for
 * our holders; source maps Node knows of are applied to the site (findSourceMap).
 */
export function readStack(holder: StackHolder | undefined): ReadStack {
  if (holder === undefined) return { frames: '', site: '<unknown>', caller: undefined };
  const known = read.get(holder);
  if (known) return known;
  let sites: NodeJS.CallSite[] | undefined;
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (_error, callSites) => {
    sites = callSites;
    return '';
  };
  try {
    void holder.stack;
  } finally {
    Error.prepareStackTrace = previous;
  }
  const result: ReadStack = sites
    ? { frames: sites.map((s) => `    at ${s}`).join('\n'), site: userSite(sites), caller: callerFile(sites) }
    : { frames: typeof holder.stack === 'string' ? holder.stack : '', site: '<unknown>', caller: undefined };
  read.set(holder, result);
  return result;
}

/** A file name of a call site as a path: ESM frames carry file:// URLs. */
function pathOf(site: NodeJS.CallSite): string | undefined {
  const name = site.getFileName() ?? site.getScriptNameOrSourceURL?.();
  if (!name || name.startsWith('node:')) return undefined;
  if (!name.startsWith('file://')) return name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name) ? name : undefined;
  try {
    return fileURLToPath(name);
  } catch {
    return undefined;
  }
}

function location(site: NodeJS.CallSite, file: string): string {
  const line = site.getLineNumber() ?? 0;
  const col = site.getColumnNumber() ?? 0;
  try {
    // Lines and columns are 1-based here and 0-based in a source map.
    const mapped = findSourceMap(file)?.findEntry(line - 1, col - 1) as
      | { originalSource?: string; originalLine?: number; originalColumn?: number }
      | undefined;
    if (mapped?.originalSource !== undefined && mapped.originalLine !== undefined) {
      const source = mapped.originalSource.startsWith('file://') ? fileURLToPath(mapped.originalSource) : mapped.originalSource;
      return `${source}:${mapped.originalLine + 1}:${(mapped.originalColumn ?? 0) + 1}`;
    }
  } catch {
    // no usable map: the generated position
  }
  return `${file}:${line}:${col}`;
}

const NODE_MODULES = /[\\/]node_modules[\\/]/;

/**
 * The user's place among call sites: the first frame in a file outside Node, the agent and
 * node_modules; failing that, the first outside Node and the agent (a library that forks
 * or sends for you); failing that, '<unknown>'.
 */
export function userSite(sites: readonly NodeJS.CallSite[]): string {
  let library: string | undefined;
  for (const site of sites) {
    const file = pathOf(site);
    if (file === undefined || file.startsWith(ownDir)) continue;
    if (!NODE_MODULES.test(file)) return location(site, file);
    library ??= location(site, file);
  }
  return library ?? '<unknown>';
}

// APM agents' wrappers sit between a library and Node (OpenTelemetry's net instrumentation
// wraps net.connect): the code that made the call is the one below them. Their own calls
// (an exporter's socket) keep their name, as nothing but Node is below them.
const INSTRUMENTATION = /[\\/]node_modules[\\/](@opentelemetry|@datadog|dd-trace|@newrelic|newrelic|elastic-apm-node|shimmer|require-in-the-middle|import-in-the-middle)[\\/]/;

function callerFile(sites: readonly NodeJS.CallSite[]): string | undefined {
  let wrapper: string | undefined;
  for (const site of sites) {
    const file = pathOf(site);
    if (file === undefined || file.startsWith(ownDir)) continue;
    if (!INSTRUMENTATION.test(file)) return file;
    wrapper ??= file;
  }
  return wrapper;
}

/** `file:line:col` split back into its parts (for the CLI); undefined if it is not one. */
export function parseSite(site: string): { file: string; line: number; column: number } | undefined {
  const m = /^(.*):(\d+):(\d+)$/.exec(site);
  return m ? { file: m[1]!, line: Number(m[2]), column: Number(m[3]) } : undefined;
}
