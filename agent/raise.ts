import { debug, guard, reasonOf, sayOnce } from './boundary';
import { writeRecord } from './report';
import { settings } from './settings';
import { captureStack, readStack } from './stacks';
import { codeOf, ForkSafetyError, publish, remember, type TestRef, type Violation, type ViolationKind } from './violations';

/** What a door saw: which socket, whose, and through which call. */
export interface Incident {
  kind: ViolationKind;
  api: string;
  driver: string;
  target: string;
  socket: { local: string; remote: string };
  /** Frames where the connection was opened. */
  openedAt: string;
  /** The user's place in those frames, `file:line:col`. */
  openedSite: string;
  /** The sentence that says what happened, without the where. */
  what: string;
  /** Where it happened, when the stack cannot say (a child's start-up, an IPC delivery). */
  site?: string;
}

const CONSEQUENCE: { [kind in ViolationKind]: string } = {
  'handle-transfer':
    'The socket now lives in the other process too: this process can no longer rely on it, and the other one can run queries inside this session (with keepOpen both read the same stream and replies interleave).',
  'stdio-inherit':
    'The child holds a copy of the descriptor and Node stops reading it here: the next query on this connection hangs or reads the wrong replies.',
  'inherited-socket':
    'Two processes now hold one database session: whichever speaks first takes the other one\'s replies.',
};

const ADVICE =
  'Open a connection (or a pool) in each process instead; what a shared connection looks like: node_modules/forksafe/docs/shared-connection-symptoms.md.';

const warned = new Set<string>();

/** What a test runner's patch can tell about the moment of a violation. */
export interface RunnerContext {
  /** The test running now, if any. */
  test(): TestRef | undefined;
  /** A `file:line:col` of code the runner transformed, as the source file's line and column. */
  mapSite(site: string): string;
}

// Set by a test runner's patch (patches/jest-runtime.ts): the core knows no runner.
let runner: RunnerContext | undefined;

/** Installs the runner's context; the last caller wins. */
export function setRunnerContext(context: RunnerContext): void {
  runner = context;
}

/**
 * Records a violation everywhere the contract says (violations(), the report, listeners,
 * the diagnostics channel), warns once per call site in log mode, and throws
 * ForkSafetyError in strict mode. Recording cannot weaken strict mode: the report and the
 * listeners are contained one by one, and the throw always comes.
 */
export function raise(incident: Incident, skip: Function): void {
  const { mode } = settings();
  if (mode === 'off') return;
  const { frames: stack, site: stackSite } = readStack(captureStack(skip));
  const mapSite = (at: string): string => (runner ? guard('runner site', () => runner!.mapSite(at), at) : at);
  const site = mapSite(incident.site ?? stackSite);
  const openedSite = mapSite(incident.openedSite);
  const where = incident.socket.local || incident.socket.remote ? ` (${incident.socket.local} -> ${incident.socket.remote})` : '';
  const message =
    `${incident.what}: ${incident.driver} connection ${incident.target}${where}, via ${incident.api} at ${site}; ` +
    `the connection was opened at ${openedSite}. ${CONSEQUENCE[incident.kind]} ${ADVICE}`;
  const violation: Violation = {
    kind: incident.kind,
    code: codeOf(incident.kind),
    mode,
    message,
    api: incident.api,
    driver: incident.driver,
    target: incident.target,
    socket: incident.socket,
    site,
    stack,
    openedAt: incident.openedAt,
    openedSite,
    pid: process.pid,
    time: new Date().toISOString(),
  };
  const test = runner && guard('test name', () => runner!.test(), undefined);
  if (test) violation.test = test;
  remember(violation);
  debug('violation %s at %s', violation.kind, site);
  // The report adds its own pid and time to every line.
  const { pid: _pid, time: _time, ...fields } = violation;
  writeRecord({ type: 'violation', ...fields });
  try {
    publish(violation);
  } catch (err) {
    sayOnce('publish', `cannot publish a violation on diagnostics_channel (${reasonOf(err)})`);
  }
  if (mode === 'strict') throw new ForkSafetyError(violation);
  const key = `${violation.kind} ${site}`;
  if (!warned.has(key)) {
    warned.add(key);
    process.emitWarning(message, { type: 'ForkSafetyWarning', code: violation.code });
  }
}
