// Our wrappers, kept out of other agents' way. A wrapper carries no mark of its own: no
// shimmer `__wrapped` / `__original` / `__unwrap`, because OpenTelemetry's `_wrap` unwraps
// anything carrying them before it wraps, and it would pull ours out. What we need to
// undo a wrap lives here, in WeakMaps nobody else can see (as dd-trace's shimmer keeps
// its own). A wrapper looks like the original: same `name`, `length`, prototype and own
// properties (`util.promisify.custom` included).

type AnyFunction = (this: any, ...args: any[]) => any;

interface Wrap {
  /** What was at `target[name]` when we wrapped: the original, or another agent's wrapper. */
  readonly original: AnyFunction;
  /** The property as it was, to put back exactly; undefined when it was inherited. */
  readonly descriptor: PropertyDescriptor | undefined;
  /** The function we installed. */
  readonly wrapper: AnyFunction;
  /** False once it stepped aside (another agent on top), until the next wrapMethod. */
  on: boolean;
  /** What sat on top of our wrapper when it stepped aside. */
  above: unknown;
}

// target -> property name -> our wrap of it.
const wraps = new WeakMap<object, Map<string, Wrap>>();

// Marks of other agents' wrappers (shimmer's), never copied onto ours: they describe the
// wrapper below, and would make OpenTelemetry take ours for it.
const SKIP = new Set<PropertyKey>(['name', 'length', 'prototype', 'arguments', 'caller', '__wrapped', '__original', '__unwrap']);

/** Gives `wrapper` the name, length, prototype and other own properties of `original`. */
export function disguise<F extends AnyFunction>(wrapper: F, original: AnyFunction): F {
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
  if (Object.prototype.hasOwnProperty.call(original, 'prototype')) {
    try {
      (wrapper as { prototype?: unknown }).prototype = (original as { prototype?: unknown }).prototype;
    } catch {
      // A class's prototype property is read-only: the wrapper keeps its own.
    }
  }
  for (const key of Reflect.ownKeys(original)) {
    if (SKIP.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(original, key)!;
    try {
      Object.defineProperty(wrapper, key, descriptor);
    } catch {
      // A non-configurable property the wrapper already has: keep the wrapper's.
    }
  }
  return wrapper;
}

/** Follows shimmer-style `__original` links down from `fn` (OpenTelemetry's wrappers have them). */
function below(fn: unknown): AnyFunction[] {
  const chain: AnyFunction[] = [];
  let at: unknown = fn;
  while (typeof at === 'function' && chain.length < 100) {
    at = (at as { __original?: unknown }).__original;
    if (typeof at === 'function') chain.push(at as AnyFunction);
  }
  return chain;
}

/**
 * Whether our wrapper still runs when `current` (what `target[name]` holds now) is called.
 * It does when it is `current`, or under it by shimmer links, or under the same foreign
 * wrapper as when it stepped aside. It does not when `current` is what we wrapped, or
 * anything under that: someone put back a function from before us. Otherwise it is
 * taken to be there still: nobody can pull it out of a chain without knowing what it
 * wrapped, and wrapping twice would run the agent twice per call.
 */
function stillInChain(w: Wrap, current: AnyFunction): boolean {
  if (current === w.wrapper || current === w.above) return true;
  const chain = below(current);
  if (chain.includes(w.wrapper)) return true;
  if ([w.original, ...below(w.original)].includes(current)) return false;
  return !chain.includes(w.original);
}

/** What `wrapMethod` did. */
export type WrapOutcome =
  /** A new wrapper is now at `target[name]`; `factory` was called. */
  | 'wrapped'
  /** Our earlier wrapper, still in the chain (on top, or under another agent's), is ours again; `factory` was not called. */
  | 'reactivated'
  /** Our wrapper was already there and on: nothing changed. */
  | 'unchanged';

/**
 * Wraps `target[name]` with `factory(original)`, once: while an earlier wrapper of ours
 * for the same target and name is still in the chain, it is taken back instead of a
 * second one being stacked on top (which would run the agent twice per call).
 * Throws a TypeError when `target[name]` is not a function (a layout changed upstream,
 * or the caller wraps what does not exist here): callers check first what may be absent.
 * The function `factory` returns must call `original` straight through while the agent
 * is off (`enabled()` false): it may stay in place under another agent's wrapper.
 */
export function wrapMethod(target: object, name: string, factory: (original: AnyFunction) => AnyFunction): WrapOutcome {
  const t = target as Record<string, unknown>;
  const current = t[name];
  if (typeof current !== 'function') throw new TypeError(`forksafe cannot wrap ${name}: it is ${current === null ? 'null' : typeof current}, not a function`);
  const byName = wraps.get(target) ?? new Map<string, Wrap>();
  const earlier = byName.get(name);
  if (earlier && stillInChain(earlier, current as AnyFunction)) {
    if (earlier.on) return 'unchanged';
    earlier.on = true;
    earlier.above = undefined;
    return 'reactivated';
  }
  const original = current as AnyFunction;
  // The factory's function itself is installed, with no shell around it: a frame more
  // would push the callers' frames past Error.stackTraceLimit where patches read the stack.
  const w: Wrap = {
    original,
    descriptor: Object.getOwnPropertyDescriptor(target, name),
    wrapper: disguise(factory(original), original),
    on: true,
    above: undefined,
  };
  const enumerable = w.descriptor?.enumerable ?? false;
  Object.defineProperty(target, name, { value: w.wrapper, writable: true, configurable: true, enumerable });
  byName.set(name, w);
  wraps.set(target, byName);
  return 'wrapped';
}

/**
 * Restores `target[name]` as it was, only where our wrapper is still the one in place. If
 * another agent wrapped on top of it, pulling ours out would drop theirs: ours steps aside
 * instead (it passes through while the agent is off) and the next `wrapMethod` takes it back.
 */
export function unwrapMethod(target: object, name: string): void {
  const byName = wraps.get(target);
  const w = byName?.get(name);
  if (!w) return;
  const current = (target as Record<string, unknown>)[name];
  if (current === w.wrapper) {
    if (w.descriptor) Object.defineProperty(target, name, w.descriptor);
    else delete (target as Record<string, unknown>)[name];
    byName!.delete(name);
    return;
  }
  w.on = false;
  w.above = current;
}

