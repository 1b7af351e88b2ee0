// Every private key of the agent in one place (pino keeps its symbols the same way).

/** The one key shared by every copy of forksafe loaded into a process: the agent's state lives here. */
export const kAgent = Symbol.for('forksafe');

/** The API of the agent running in this process (the first copy loaded), if any. */
export function runningAgent<T>(): T | undefined {
  return (globalThis as { [kAgent]?: T })[kAgent];
}

/** On a driver connection: the stack holder captured where it was opened. */
export const kOpenedAt = Symbol('forksafe.openedAt');
