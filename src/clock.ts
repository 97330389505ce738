/**
 * Time as the gateway sees it. Every module that waits or expires takes a Clock so tests
 * can drive time by hand. `now()` is in epoch milliseconds because Katapult's rate-limit
 * windows align to wall-clock minutes; lru-cache's `perf` option accepts this same
 * `{ now() }` shape.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  setTimeout(fn: () => void, ms: number): () => void;
}

/**
 * Epoch milliseconds that only move forward: the wall clock when the process started plus the
 * monotonic time since. A step of the system clock (NTP, a VM resumed) would otherwise stretch
 * TTLs, lane pauses and the circuit's open time by the size of the step, or cut them short.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    // A pending timer (a paused lane, a revalidation) must never keep the process alive.
    handle.unref?.();
    return () => clearTimeout(handle);
  },
};
