import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWallClockNow, systemClock } from '../src/clock.js';

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

  it('follows the wall clock forward when the monotonic clock stood still (a VM suspended and resumed)', () => {
    let wall = 1_000_000;
    let monotonic = 50;
    const now = createWallClockNow(
      () => wall,
      () => monotonic,
    );
    expect(now()).toBe(1_000_000);
    [wall, monotonic] = [1_000_500, 550];
    expect(now()).toBe(1_000_500);
    // Suspended for an hour: the wall clock moved, the monotonic one did not.
    wall += 3_600_000;
    expect(now()).toBe(wall);
    // Then time goes on from there; a backward step of the wall clock is not followed.
    monotonic += 100;
    wall -= 600_000;
    expect(now()).toBe(1_000_500 + 3_600_000 + 100);
  });
});
