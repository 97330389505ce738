import type { Clock } from '../../src/clock.js';

/**
 * A Clock driven by hand. Timers fire in due order during `advance`/`tick`, and each
 * fired timer gets a chance to run its promise continuations before the next one.
 */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): Promise<void>;
  /** Moves time to the absolute epoch ms `to`. */
  advanceTo(to: number): Promise<void>;
  /** Lets pending promise continuations run without moving time. */
  flush(): Promise<void>;
  /** Number of timers not yet fired or cancelled. */
  pendingTimers(): number;
}

/** Starts well above 0 and on a wall-clock minute boundary plus 1 s (lru-cache treats 0 as "unset"). */
export const FAKE_EPOCH = Date.UTC(2026, 0, 1, 12, 0, 1);

export function createFakeClock(start = FAKE_EPOCH): FakeClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void; seq: number }>();

  const flush = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
    await new Promise<void>((resolve) => setImmediate(resolve));
  };

  const advanceTo = async (to: number) => {
    await flush();
    for (;;) {
      let next: [number, { at: number; fn: () => void; seq: number }] | undefined;
      for (const entry of timers) {
        if (entry[1].at <= to && (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq))) next = entry;
      }
      if (!next) break;
      timers.delete(next[0]);
      now = Math.max(now, next[1].at);
      next[1].fn();
      await flush();
    }
    now = Math.max(now, to);
    await flush();
  };

  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, ms), fn, seq: id });
      return () => {
        timers.delete(id);
      };
    },
    advance: (ms) => advanceTo(now + ms),
    advanceTo,
    flush,
    pendingTimers: () => timers.size,
  };
}
