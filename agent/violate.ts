import { debug } from './debug';
import { writeRecord } from './report';
import { settings } from './settings';
import { captureStack, framesOf, userSite } from './stacks';
import { codeOf, ForkSafetyError, publish, remember, type Violation, type ViolationKind } from './violations';

/** What a door saw: which socket, whose, and through which call. */
export interface Incident {
  kind: ViolationKind;
  api: string;
  driver: string;
  target: string;
  socket: { local: string; remote: string };
  /** Frames where the connection was opened. */
  openedAt: string;
  /** The sentence that says what happened, without the where. */
  what: string;
  /** Where it happened, when the stack cannot say (a child's start-up, an IPC delivery). */
  site?: string;
}

const CONSEQUENCE: Record<ViolationKind, string> = {
  'handle-transfer':
    'The socket now lives in the other process too: this process can no longer rely on it, and the other one can run queries inside this session (with keepOpen both read the same stream and replies interleave).',
  'stdio-inherit':
    'The child holds a copy of the descriptor and Node stops reading it here: the next query on this connection hangs or reads the wrong replies.',
  'inherited-socket':
    'Two processes now hold one database session: whichever speaks first takes the other one\'s replies.',
};

const ADVICE = "Open a connection (or a pool) in each process instead (forksafe's docs/shared-connection-symptoms.md: 'What a shared connection looks like').";

const warned = new Set<string>();

/**
 * Records a violation everywhere the contract says (violations(), listeners, the
 * diagnostics channel, the report), warns once per call site in log mode, and throws
 * ForkSafetyError in strict mode.
 */
export function violate(incident: Incident, skip: Function): void {
  const { mode } = settings();
  if (mode === 'off') return;
  const stack = framesOf(captureStack(skip));
  const site = incident.site ?? userSite(stack);
  const openedSite = userSite(incident.openedAt);
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
    pid: process.pid,
    time: new Date().toISOString(),
  };
  remember(violation);
  debug('violation %s at %s', violation.kind, site);
  writeRecord({
    type: 'violation',
    kind: violation.kind,
    code: violation.code,
    mode,
    message,
    api: violation.api,
    driver: violation.driver,
    target: violation.target,
    socket: violation.socket,
    site,
    stack,
    openedAt: violation.openedAt,
  });
  publish(violation);
  if (mode === 'strict') throw new ForkSafetyError(violation);
  const key = `${violation.kind} ${site}`;
  if (!warned.has(key)) {
    warned.add(key);
    process.emitWarning(message, { type: 'ForkSafetyWarning', code: violation.code });
  }
}
