import { describe, expect, it } from 'vitest';
import { createRequestQueue } from '../../src/queue/index.js';
import { UpstreamApiError, UpstreamNetworkError } from '../../src/upstream/errors.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createFakeKatapult } from './fake-katapult.js';

const unavailable = () => new UpstreamApiError(503, 'service_unavailable', 'Service unavailable', {});

function setup(randoms: number[], options: { retryMaxAttempts?: number; retryBaseDelayMs?: number; retryMaxDelayMs?: number } = {}) {
  const clock = createFakeClock();
  const katapult = createFakeKatapult(clock, { permitted: 1000, latencyMs: 10 });
  const retries: Array<{ attempt: number; delayMs: number }> = [];
  const sequence = [...randoms];
  const queue = createRequestQueue({
    clock,
    random: () => sequence.shift() ?? 0,
    ...options,
    hooks: { onRetry: (info) => void retries.push(info) },
  });
  return { clock, katapult, queue, retries };
}

describe('retries', () => {
  it('retries retryable failures after full-jitter delays: random × min(max, base × 2^(attempt-1))', async () => {
    const { clock, katapult, queue, retries } = setup([0.5, 0.9], { retryMaxAttempts: 3, retryBaseDelayMs: 100, retryMaxDelayMs: 2000 });
    katapult.failNext(2, unavailable);
    const result = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10_000 });
    await clock.advance(1000);
    await expect(result).resolves.toMatchObject({ status: 200 });
    expect(retries).toEqual([
      { attempt: 2, delayMs: 50 },
      { attempt: 3, delayMs: 180 },
    ]);
    const [first, second, third] = katapult.calls;
    expect(second!.at - first!.at).toBe(10 + 50);
    expect(third!.at - second!.at).toBe(10 + 180);
    expect(katapult.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
  });

  it('never waits longer than the maximum delay, however many attempts', async () => {
    const { clock, katapult, queue, retries } = setup([0.999, 0.999, 0.999, 0.999], {
      retryMaxAttempts: 5,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 300,
    });
    katapult.failNext(4, () => new UpstreamNetworkError('ECONNRESET'));
    const result = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10_000 });
    await clock.advance(5000);
    await expect(result).resolves.toMatchObject({ status: 200 });
    const ceilings = [100, 200, 300, 300];
    retries.forEach((retry, i) => {
      expect(retry.delayMs).toBeGreaterThanOrEqual(0);
      expect(retry.delayMs).toBeLessThan(ceilings[i]!);
      expect(retry.delayMs).toBeCloseTo(0.999 * ceilings[i]!);
    });
  });

  it('stops at the attempt cap and returns the last error', async () => {
    const { clock, katapult, queue } = setup([0.1, 0.1, 0.1], { retryMaxAttempts: 3 });
    katapult.failNext(5, unavailable);
    const result = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10_000 }).catch((e: unknown) => e);
    await clock.advance(5000);
    const error = await result;
    expect(error).toBeInstanceOf(UpstreamApiError);
    expect((error as UpstreamApiError).status).toBe(503);
    expect(katapult.calls).toHaveLength(3);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('waits at least the Retry-After a failing Katapult gives, and gives up when that passes the deadline', async () => {
    const { clock, katapult, queue, retries } = setup([0.5, 0.5]);
    const withRetryAfter = (ms: number) => () => Object.assign(unavailable(), { rateLimit: { permitted: null, remaining: null, retryAfterMs: ms } });
    katapult.failNext(1, withRetryAfter(3_000));
    const result = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10_000 });
    await clock.advance(2_000);
    expect(katapult.calls).toHaveLength(1);
    await clock.advance(1_100);
    await expect(result).resolves.toMatchObject({ status: 200 });
    expect(retries).toEqual([{ attempt: 2, delayMs: 3_000 }]);
    // A wait past the deadline: the error now, rather than a retry nobody is left for.
    katapult.failNext(1, withRetryAfter(30_000));
    const late = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10_000 }).catch((error: unknown) => error);
    await clock.advance(100);
    expect(await late).toMatchObject({ status: 503 });
    expect(katapult.calls).toHaveLength(3);
  });

  it('gives up with the last error instead of retrying past the deadline', async () => {
    const { clock, katapult, queue, retries } = setup([0.5, 0.99], { retryMaxAttempts: 5, retryBaseDelayMs: 100 });
    katapult.failNext(5, unavailable);
    // Attempt 1 fails at +10, retries at +60, fails at +70; the next delay (0.99 × 200) would end past +200.
    const result = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 200 }).catch((e: unknown) => e);
    await clock.advance(1000);
    expect(await result).toBeInstanceOf(UpstreamApiError);
    expect(katapult.calls).toHaveLength(2);
    expect(retries).toHaveLength(1);
  });

  it('returns a non-retryable API error at once', async () => {
    const { clock, katapult, queue, retries } = setup([0.5]);
    katapult.failNext(1, () => new UpstreamApiError(404, 'zone_not_found', 'No zone', {}));
    const result = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10_000 }).catch((e: unknown) => e);
    await clock.advance(1000);
    expect(await result).toMatchObject({ status: 404, code: 'zone_not_found' });
    expect(katapult.calls).toHaveLength(1);
    expect(retries).toEqual([]);
  });
});
