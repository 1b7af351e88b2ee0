// Every private key of the agent in one place (pino keeps its symbols the same way).

/** The one key shared by every copy of forksafe loaded into a process: the agent's state lives here. */
export const kAgent = Symbol.for('forksafe');

type Holder<T> = { [kAgent]?: T };

// A sandbox with its own global (Jest's environment: `require('forksafe')` in a test file
// runs a fresh copy of the API in another vm context) cannot see the main realm's global,
// but it does see `process`: Jest hands the sandbox a copy of it that keeps its own
// properties, accessors included. So the first copy loaded (the agent's, from the preload)
// puts a getter on `process` that reads its own realm's global; a later copy, in a sandbox
// or not, finds the getter already there and leaves it.
if (!Object.prototype.hasOwnProperty.call(process, kAgent)) {
  const home = globalThis as Holder<unknown>;
  Object.defineProperty(process, kAgent, { get: () => home[kAgent], configurable: true, enumerable: false });
}

/** The API of the agent running in this process (the first copy loaded), if any. */
export function runningAgent<T>(): T | undefined {
  return (globalThis as Holder<T>)[kAgent] ?? (process as Holder<T>)[kAgent];
}

/**
 * Where the code esm-cjs-hook.ts appends to a CommonJS file evaluated by Node's ESM loader
 * finds the load hook's callback: shared by name, since that code runs in the file's scope.
 */
export const kEsmCjsEvaluated = Symbol.for('forksafe.esmCjsEvaluated');

/**
 * Where the stand-in esm-hook.ts gives a claimed ES module finds the agent, to patch the
 * original's namespace: shared by name, since the stand-in is a module of its own.
 */
export const kEsmPatch = Symbol.for('forksafe.esmPatch');

/** On a driver connection: the stack holder captured where it was opened. */
export const kOpenedAt = Symbol('forksafe.openedAt');
