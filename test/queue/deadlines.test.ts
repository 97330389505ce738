import { describe, expect, it } from 'vitest';
import { createRequestQueue, type QueueHooks } from '../../src/queue/index.js';
import { DEFAULT_WINDOW_OFFSET_MS } from '../../src/queue/queue-options.js';
import { RateLimitedError } from '../../src/upstream/errors.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createFakeKatapult, type FakeKatapultOptions } from './fake-katapult.js';

const MINUTE = 60_000;

function setup(katapultOptions: FakeKatapultOptions = {}, random = () => 0) {
  const clock = createFakeClock();
  const katapult = createFakeKatapult(clock, katapultOptions);
  const rejected: string[] = [];
  const hooks: QueueHooks = { onRejected: (reason) => void rejected.push(reason) };
  const queue = createRequestQueue({ clock, random, hooks });
  // A lane starts again a moment after each boundary (for Katapult's clock being a little behind).
  const nextBoundary = () => (Math.floor(clock.now() / MINUTE) + 1) * MINUTE + DEFAULT_WINDOW_OFFSET_MS;
  return { clock, katapult, queue, rejected, nextBoundary };
}

const reason = (result: PromiseSettledResult<unknown>) => (result.status === 'rejected' ? result.reason : undefined);

describe('deadlines', () => {
  it('rejects at once, with the seconds until the next window, when the lane is out of budget past the deadline', async () => {
    const { clock, katapult, queue, rejected, nextBoundary } = setup({ permitted: 3 });
    const probe = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + MINUTE });
    await clock.advance(10);
    await probe;
    // Remaining 2 equals the reserve: nothing more may go this window.
    const error = await queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBe(Math.ceil((nextBoundary() - clock.now()) / 1000));
    expect((error as RateLimitedError).retryAfterSeconds).toBe(60);
    expect((error as RateLimitedError).heldBy).toBe('budget');
    expect(rejected).toEqual(['rate_limited']);
    expect(katapult.calls).toHaveLength(1);
  });

  it('rejects at once the calls whose place in line needs a later window than their deadline', async () => {
    const { clock, katapult, queue, nextBoundary } = setup({ permitted: 20, latencyMs: 1000 });
    const probe = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + MINUTE });
    await clock.advance(1000);
    await probe;
    // 19 remaining, 2 reserved: 17 more fit in this window.
    const burst = Array.from({ length: 25 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 30_000 }));
    const patient = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 2 * MINUTE });
    const early = await Promise.race([Promise.allSettled(burst.slice(17)), clock.flush().then(() => 'still waiting')]);
    expect(early).not.toBe('still waiting');
    const expected = Math.ceil((nextBoundary() - clock.now()) / 1000);
    for (const result of early as PromiseSettledResult<unknown>[]) {
      expect(reason(result)).toBeInstanceOf(RateLimitedError);
      expect((reason(result) as RateLimitedError).retryAfterSeconds).toBe(expected);
    }
    await clock.advance(2 * MINUTE);
    expect((await Promise.allSettled(burst.slice(0, 17))).every((r) => r.status === 'fulfilled')).toBe(true);
    await expect(patient).resolves.toMatchObject({ status: 200 });
  });

  it('rejects a waiting call when its deadline passes, without sending it', async () => {
    const { clock, katapult, queue, rejected } = setup({ latencyMs: 3000 });
    const probe = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + MINUTE });
    // The lane has no answer yet, so this one waits behind the probe.
    const late = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 1000 });
    const outcome = late.catch((e: unknown) => e);
    await clock.advance(999);
    expect(rejected).toEqual([]);
    await clock.advance(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // Not the budget: the lane's first call held it (a new token's calls wait for its answer).
    expect((error as RateLimitedError).heldBy).toBe('deadline');
    expect(rejected).toEqual(['deadline']);
    await clock.advance(3000);
    await probe;
    expect(katapult.calls).toHaveLength(1);
  });

  it('holds a shared call until a later deadline it hears of, and ignores an earlier one', async () => {
    const { clock, katapult, queue, rejected } = setup({ latencyMs: 3000 });
    const probe = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + MINUTE });
    let tell: (deadline: number) => void = () => {};
    let stopped = 0;
    const onLaterDeadline = (listener: (deadline: number) => void) => {
      tell = listener;
      return () => void stopped++;
    };
    // Waits behind the probe, which takes 3 s; on its own it would be refused at 1 s.
    const shared = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 1000, onLaterDeadline });
    await clock.advance(500);
    tell(clock.now() + 9500);
    tell(clock.now() + 100);
    await clock.advance(600);
    expect(rejected).toEqual([]);
    await clock.advance(6000);
    await probe;
    await expect(shared).resolves.toMatchObject({ status: 200 });
    expect(katapult.calls).toHaveLength(2);
    // Settling stops listening; a later word changes nothing and leaves no timer.
    expect(stopped).toBe(1);
    tell(clock.now() + MINUTE);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('refuses a shared call at its later deadline when that passes too', async () => {
    const { clock, katapult, queue, rejected } = setup({ latencyMs: 3000 });
    const probe = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + MINUTE });
    let tell: (deadline: number) => void = () => {};
    const shared = queue.add(katapult.task('a'), {
      laneKey: 'a',
      deadline: clock.now() + 1000,
      onLaterDeadline: (listener) => {
        tell = listener;
        return () => {};
      },
    });
    const outcome = shared.catch((e: unknown) => e);
    tell(clock.now() + 2000);
    await clock.advance(1999);
    expect(rejected).toEqual([]);
    await clock.advance(1);
    expect(await outcome).toBeInstanceOf(RateLimitedError);
    expect(rejected).toEqual(['deadline']);
    await clock.advance(3000);
    await probe;
    expect(katapult.calls).toHaveLength(1);
  });

  it('rejects a call whose deadline has already passed without sending it', async () => {
    const { clock, katapult, queue, rejected } = setup();
    const error = await queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).heldBy).toBe('deadline');
    expect(rejected).toEqual(['deadline']);
    expect(katapult.calls).toHaveLength(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('rejects the waiting calls a 429 pause carries past their deadlines, counting the restart jitter', async () => {
    const { clock, katapult, queue, nextBoundary } = setup({ permitted: 3, headers: false }, () => 0.5);
    const boundary = nextBoundary();
    const calls = Array.from({ length: 5 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10_000 }));
    const all = Promise.allSettled(calls);
    await clock.advance(100);
    const settled = await all;
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
    const expected = Math.ceil((boundary + 500 - clock.now()) / 1000);
    expect((reason(settled[3]!) as RateLimitedError).retryAfterSeconds).toBe(expected);
    expect((reason(settled[4]!) as RateLimitedError).retryAfterSeconds).toBe(expected);
    expect(katapult.calls.map((c) => c.status)).toEqual([200, 200, 200, 429]);
    expect(clock.pendingTimers()).toBe(0);
  });
});
