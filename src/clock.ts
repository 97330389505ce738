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
 * Epoch milliseconds that never go back: the monotonic time since an anchor on the wall clock,
 * re-anchored whenever the wall clock is found more than a second ahead of it (a VM resumed
 * from suspend, during which the monotonic clock stood still; an NTP correction forward).
 * A backward step of the wall clock is not followed: it would stretch TTLs, lane pauses and the
 * circuit's open time by its size. Ahead of the wall clock after such a step, the lanes still
 * meet Katapult's windows, since they trust its headers after each boundary.
 */
export function createWallClockNow(wall: () => number = Date.now, monotonic: () => number = () => performance.now()): () => number {
  let anchorWall = wall();
  let anchorMonotonic = monotonic();
  return () => {
    const elapsed = monotonic();
    const now = anchorWall + (elapsed - anchorMonotonic);
    const actual = wall();
    if (actual <= now + 1000) return now;
    anchorWall = actual;
    anchorMonotonic = elapsed;
    return actual;
  };
}

export const systemClock: Clock = {
  now: createWallClockNow(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    // A pending timer (a paused lane, a revalidation) must never keep the process alive.
    handle.unref?.();
    return () => clearTimeout(handle);
  },
};
