import * as shimmer from 'shimmer';

// Wrappers are invisible: same `name` and `length` as the original, and shimmer's
// `__wrapped` / `__original` marks so other agents (OpenTelemetry) recognise a wrapper.

type AnyFunction = (this: any, ...args: any[]) => any;

interface Wrapped {
  __unwrap?: () => void;
}

const ours = new WeakSet<AnyFunction>();

/** Gives `wrapper` the name and length of `original`. */
export function disguise<F extends AnyFunction>(wrapper: F, original: AnyFunction): F {
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
  return wrapper;
}

/** Wraps `target[name]` once; returns false if it is not a function or already ours. */
export function wrapMethod(target: object, name: string, factory: (original: AnyFunction) => AnyFunction): boolean {
  const t = target as Record<string, unknown>;
  const current = t[name];
  if (typeof current !== 'function' || ours.has(current as AnyFunction)) return false;
  shimmer.wrap(t, name, (original: any) => {
    const wrapper = disguise(factory(original), original);
    ours.add(wrapper);
    return wrapper;
  });
  return true;
}

/**
 * Restores the original only where our wrapper is still in place. If someone wrapped on
 * top of it, pulling ours out would drop theirs: we step aside instead (the wrapper
 * passes through once the agent is off).
 */
export function unwrapMethod(target: object, name: string): void {
  const t = target as Record<string, unknown>;
  const current = t[name] as (AnyFunction & Wrapped) | undefined;
  if (typeof current === 'function' && ours.has(current)) current.__unwrap?.();
}
