/**
 * Time as the gateway sees it. Every module that waits or expires takes a Clock so tests
 * can drive time by hand. `now()` is epoch milliseconds (not a monotonic counter) because
 * Katapult's rate-limit windows align to wall-clock minutes; lru-cache's `perf` option
 * accepts this same `{ now() }` shape.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  setTimeout(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    // A pending timer (a paused lane, a revalidation) must never keep the process alive.
    handle.unref?.();
    return () => clearTimeout(handle);
  },
};
