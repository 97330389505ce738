import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../src/clock.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('systemClock', () => {
  it('tells epoch milliseconds', () => {
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(1000);
  });

  it('keeps moving forward when the wall clock is stepped back (expiries and pauses are not stretched)', () => {
    const before = systemClock.now();
    vi.spyOn(Date, 'now').mockReturnValue(before - 3_600_000);
    const after = systemClock.now();
    expect(after).toBeGreaterThanOrEqual(before);
    expect(after - before).toBeLessThan(1000);
  });
});
