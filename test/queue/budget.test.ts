import { describe, expect, it } from 'vitest';
import { createRequestQueue } from '../../src/queue/index.js';
import { FOREIGN_RATE_LIMIT_PAUSE_MS } from '../../src/queue/request-queue.js';
import { DEFAULT_WINDOW_OFFSET_MS } from '../../src/queue/queue-options.js';
import { NO_RATE_LIMIT_INFO, RateLimitedError, UpstreamApiError, UpstreamMalformedError, UpstreamNetworkError, UpstreamNotSentError, UpstreamTimeoutError } from '../../src/upstream/errors.js';
import { readOutcome } from '../../src/queue/outcome.js';
import type { UpstreamResult } from '../../src/upstream/http.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createFakeKatapult } from './fake-katapult.js';
import { offsetCovering } from '../../src/app.js';

const MINUTE = 60_000;

function setup(options: { permitted?: number; headers?: boolean; random?: () => number; clockBehindMs?: number } = {}) {
  const clock = createFakeClock();
  const permitted = options.permitted ?? 20;
  const katapult = createFakeKatapult(clock, { permitted, headers: options.headers, clockBehindMs: options.clockBehindMs });
  const events: string[] = [];
  let rateLimitResponses = 0;
  const queue = createRequestQueue({
    clock,
    random: options.random ?? (() => 0),
    hooks: { onRateLimitResponse: () => void rateLimitResponses++ },
  });
  /** No window of Katapult's (by its own clock) got more than it permits, and no call of token `a` a 429. */
  const expectKeptToBudget = () => {
    expect(katapult.perWindow('a').every((w) => w.sent <= permitted && w.rateLimited === 0)).toBe(true);
    expect(rateLimitResponses).toBe(0);
  };
  return { clock, katapult, queue, events, rateLimitResponses: () => rateLimitResponses, expectKeptToBudget };
}

describe('budget learning', () => {
  it('a new lane sends exactly one probe and waits for its answer before sending more', async () => {
    const { clock, katapult, queue } = setup();
    const calls = Array.from({ length: 5 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + MINUTE }));
    await clock.flush();
    expect(katapult.calls).toHaveLength(1);
    expect(queue.pending).toBe(1);
    await clock.advance(10);
    expect(katapult.calls).toHaveLength(5);
    await clock.advance(10);
    await Promise.all(calls);
  });

  it('a burst of ten times the budget never exceeds it per window, gets no 429, and completes across windows', async () => {
    const { clock, katapult, queue, rateLimitResponses } = setup({ permitted: 20 });
    const results = Array.from({ length: 200 }, () =>
      queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 15 * MINUTE }),
    );
    await clock.advance(15 * MINUTE);
    const settled = await Promise.allSettled(results);
    expect(settled.every((r) => r.status === 'fulfilled')).toBe(true);
    const windows = katapult.perWindow('a');
    expect(windows.every((w) => w.sent <= 20 && w.rateLimited === 0)).toBe(true);
    // 18 per window: the reserve of 2 is never spent.
    expect(windows.slice(0, -1).every((w) => w.sent === 18)).toBe(true);
    expect(rateLimitResponses()).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it.each([-200, 500, 1_000, 3_000])(
    'a Katapult whose clock is %i ms behind ours: a token spent to its reserve gets no 429, at the cost of waiting for our next window',
    async (clockBehindMs) => {
      const { clock, katapult, queue, expectKeptToBudget } = setup({ permitted: 5, clockBehindMs });
      const add = () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE });
      // Spend this window down to the reserve (3 of 5), then keep asking, across windows.
      const spent = [add(), add(), add()];
      await clock.advance(100);
      await Promise.all(spent);
      const later = Array.from({ length: 9 }, () => add());
      await clock.advance(4 * MINUTE);
      await Promise.all(later);
      expectKeptToBudget();
    },
  );

  it("a window's first answer without the rate-limit figure (a proxy's page) is not a licence to spend the whole budget", async () => {
    // Katapult's minute turns 3 s after ours: a burst early in our window lands in its old one.
    const { clock, katapult, queue, expectKeptToBudget } = setup({ permitted: 20, clockBehindMs: 3_000 });
    const add = () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE });
    // Once Katapult's minute has turned too, spend this window down to the reserve (18 of 20).
    await clock.advance(3_500);
    const spent = Array.from({ length: 18 }, () => add());
    await clock.advance(1_000);
    await Promise.all(spent);
    // Our next window: its first call comes back as an unreadable 502 page, without the figure.
    await clock.advance((Math.floor(clock.now() / MINUTE) + 1) * MINUTE + DEFAULT_WINDOW_OFFSET_MS - clock.now());
    katapult.failNext(1, () => new UpstreamMalformedError(502, 'body is not JSON'));
    const later = Array.from({ length: 10 }, () => add());
    await clock.advance(3 * MINUTE);
    await Promise.allSettled(later);
    expectKeptToBudget();
  });

  it('counts calls that got no answer but may have reached Katapult (timeouts), so their retries get no 429', async () => {
    const { clock, katapult, queue, expectKeptToBudget } = setup({ permitted: 20 });
    const first = Array.from({ length: 10 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE }));
    await clock.advance(100);
    await Promise.all(first);
    // Katapult counts these six, but their answers never arrive; each is retried.
    katapult.failNext(6, () => new UpstreamTimeoutError(1000));
    const more = Array.from({ length: 6 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE }));
    await clock.advance(3 * MINUTE);
    const settled = await Promise.allSettled(more);
    expect(settled.every((r) => r.status === 'fulfilled')).toBe(true);
    expectKeptToBudget();
  });

  it('counts calls cancelled while running (their last waiter left after they were sent), so later calls get no 429', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 20, latencyMs: 100 });
    const queue = createRequestQueue({ clock, random: () => 0 });
    const rateLimited = () => katapult.calls.filter((c) => c.status === 429).length;
    const first = Array.from({ length: 10 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE }));
    await clock.advance(300);
    await Promise.all(first);
    // Sent, counted by Katapult, then given up 5 ms later by callers who went away.
    const leaving = Array.from({ length: 6 }, () => new AbortController());
    const cancelled = leaving.map((controller) => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE, signal: controller.signal }));
    await clock.advance(5);
    expect(katapult.calls).toHaveLength(16);
    for (const controller of leaving) controller.abort();
    await Promise.allSettled(cancelled);
    const more = Array.from({ length: 8 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE }));
    await clock.advance(3 * MINUTE);
    expect((await Promise.allSettled(more)).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(rateLimited()).toBe(0);
  });

  it('gets no 429 when calls reach Katapult in another order than they were sent', async () => {
    // Katapult counts each call when it arrives, 1–51 ms after it was sent, and answers 1 ms later.
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let run = 0; run < 20; run++) {
      const clock = createFakeClock();
      const permitted = 20;
      let window = -1;
      let counted = 0;
      let rateLimited = 0;
      const task = () => () =>
        new Promise<UpstreamResult<unknown>>((resolve, reject) => {
          clock.setTimeout(() => {
            const now = Math.floor(clock.now() / MINUTE);
            if (now !== window) [window, counted] = [now, 0];
            counted++;
            const rateLimit = { permitted, remaining: Math.max(0, permitted - counted), retryAfterMs: null };
            clock.setTimeout(() => {
              if (counted > permitted && rateLimit.remaining === 0) {
                rateLimited++;
                const error = new UpstreamApiError(429, 'rate_limit_reached', '', { total_permitted: permitted });
                error.rateLimit = rateLimit;
                reject(error);
              } else resolve({ status: 200, body: {}, bytes: 2, rateLimit, upstreamRequestId: null });
            }, 1);
          }, 1 + random() * 50);
        });
      const queue = createRequestQueue({ clock, random: () => 0 });
      const calls = Array.from({ length: permitted * 3 }, () => queue.add(task(), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE }));
      await clock.advance(5 * MINUTE);
      await Promise.all(calls);
      expect(rateLimited, `run ${run}`).toBe(0);
    }
  });

  it('an exhausted lane waits for the window boundary, an allowance for Katapult\'s clock and jitter, then sends one call before the rest', async () => {
    const { clock, katapult, queue } = setup({ permitted: 5, random: () => 0.5 });
    const start = clock.now();
    const results = Array.from({ length: 8 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: start + 5 * MINUTE }));
    await clock.advance(1000);
    expect(katapult.calls).toHaveLength(3);
    const boundary = (Math.floor(start / MINUTE) + 1) * MINUTE;
    const restart = boundary + DEFAULT_WINDOW_OFFSET_MS + 500;
    await clock.advanceTo(restart - 1);
    expect(katapult.calls).toHaveLength(3);
    await clock.advanceTo(restart);
    expect(katapult.calls).toHaveLength(4);
    expect(katapult.calls[3]!.at).toBe(restart);
    await clock.advance(10);
    expect(katapult.calls).toHaveLength(6);
    await clock.advance(2 * MINUTE);
    await Promise.all(results);
  });

  it('calls sent after the last reading count against the remaining budget', async () => {
    const { clock, katapult, queue } = setup({ permitted: 8 });
    const results = Array.from({ length: 10 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE }));
    await clock.flush();
    expect(katapult.calls).toHaveLength(1);
    // The probe reports 7 remaining: 7 - 2 reserve leaves 5 to send alongside each other.
    await clock.advance(10);
    expect(katapult.calls).toHaveLength(6);
    await clock.advance(10);
    expect(katapult.calls).toHaveLength(6);
    expect(katapult.calls.every((c) => c.status === 200)).toBe(true);
    await clock.advance(2 * MINUTE);
    await Promise.all(results);
  });

  it('without rate-limit headers there is at most one 429 per window, and the lane then pauses', async () => {
    const { clock, katapult, queue, rateLimitResponses } = setup({ permitted: 10, headers: false });
    const results = Array.from({ length: 40 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10 * MINUTE }));
    await clock.advance(10 * MINUTE);
    const settled = await Promise.allSettled(results);
    expect(settled.every((r) => r.status === 'fulfilled')).toBe(true);
    const windows = katapult.perWindow('a');
    expect(windows[0]).toEqual({ sent: 11, rateLimited: 1 });
    expect(windows.every((w) => w.rateLimited <= 1 && w.sent - w.rateLimited <= 10)).toBe(true);
    expect(windows.slice(1).every((w) => w.rateLimited === 0)).toBe(true);
    expect(rateLimitResponses()).toBe(1);
  });

  it('a 429 puts the call back in front without using an attempt, pauses only its lane, and other lanes keep flowing', async () => {
    const { clock, katapult, queue } = setup({ permitted: 3, headers: false });
    const first = Array.from({ length: 4 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE }));
    await clock.advance(100);
    expect(katapult.calls.map((c) => c.status)).toEqual([200, 200, 200, 429]);
    const other = queue.add(katapult.task('b'), { laneKey: 'b', deadline: clock.now() + 1000 });
    await clock.advance(10);
    await expect(other).resolves.toMatchObject({ status: 200 });
    expect(queue.stats().pausedLanes).toBe(1);
    await clock.advance(MINUTE);
    await Promise.all(first);
    const retried = katapult.calls.filter((c) => c.token === 'a');
    expect(retried.at(-1)).toMatchObject({ status: 200, attempt: 1 });
  });

  it('a 429 for a window that has ended by the time it arrives does not pause the new window', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 5, latencyMs: 300 });
    const queue = createRequestQueue({ clock, random: () => 0 });
    // The token's owner spends this window's calls elsewhere.
    for (let i = 0; i < 5; i++) void katapult.task('a')({ attempt: 1, signal: new AbortController().signal });
    await clock.advanceTo((Math.floor(clock.now() / MINUTE) + 1) * MINUTE - 100);
    // Sent 100 ms before the boundary; its 429 arrives 200 ms into the next window.
    const late = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10_000 });
    await clock.advance(400);
    // The call went back in line and out again at once, in the new window.
    expect(katapult.calls.map((c) => c.status)).toEqual([200, 200, 200, 200, 200, 429, 200]);
    const fresh = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10_000 });
    await clock.advance(2_000);
    await expect(late).resolves.toMatchObject({ status: 200 });
    await expect(fresh).resolves.toMatchObject({ status: 200 });
  });

  it('a 429 that is not Katapult’s JSON (a proxy’s) is a rate limit too: the call waits out Retry-After and keeps its attempt', async () => {
    const { clock, katapult, queue, rateLimitResponses } = setup({ permitted: 100 });
    // The lane knows its budget first, as a gateway in service does.
    const known = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + MINUTE });
    await clock.advance(100);
    await known;
    const attempts: number[] = [];
    const proxied = queue.add(
      async ({ attempt }) => {
        attempts.push(attempt);
        if (attempts.length === 1) {
          const error = new UpstreamMalformedError(429, 'body is not JSON');
          error.rateLimit = { permitted: null, remaining: null, retryAfterMs: 2000 };
          throw error;
        }
        return { status: 200, body: { ok: true }, bytes: 11, raw: Buffer.from('{"ok":true}'), rateLimit: NO_RATE_LIMIT_INFO, upstreamRequestId: null } as UpstreamResult<unknown>;
      },
      { laneKey: 'a', deadline: clock.now() + MINUTE },
    );
    await clock.advance(100);
    expect(queue.stats().pausedLanes).toBe(1);
    const other = queue.add(katapult.task('b'), { laneKey: 'b', deadline: clock.now() + 1000 });
    await clock.advance(100);
    await expect(other).resolves.toMatchObject({ status: 200 });
    await clock.advance(900);
    expect(attempts).toEqual([1]);
    await clock.advance(1500);
    await expect(proxied).resolves.toMatchObject({ status: 200 });
    expect(attempts).toEqual([1, 1]);
    expect(rateLimitResponses()).toBe(1);
    expect(queue.circuitState()).toBe('closed');
  });

  it.each([
    ['names no Retry-After: a short pause, not a whole window', null, FOREIGN_RATE_LIMIT_PAUSE_MS],
    ['names an hour: at most one window', 3_600_000, MINUTE],
  ])('a proxy’s 429 that %s', async (_case, retryAfterMs, pauseMs) => {
    const { clock, katapult, queue } = setup({ permitted: 100 });
    const known = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 2 * MINUTE });
    await clock.advance(100);
    await known;
    let calls = 0;
    const sentAt: number[] = [];
    const proxied = queue.add(
      async () => {
        sentAt.push(clock.now());
        if (calls++ === 0) {
          const error = new UpstreamMalformedError(429, 'body is not JSON');
          error.rateLimit = { permitted: null, remaining: null, retryAfterMs };
          throw error;
        }
        return { status: 200, body: {}, bytes: 2, raw: Buffer.from('{}'), rateLimit: NO_RATE_LIMIT_INFO, upstreamRequestId: null } as UpstreamResult<unknown>;
      },
      { laneKey: 'a', deadline: clock.now() + 2 * MINUTE },
    );
    await clock.advance(pauseMs - 50);
    expect(sentAt).toHaveLength(1);
    await clock.advance(100 + 1000);
    await expect(proxied).resolves.toMatchObject({ status: 200 });
    expect(sentAt[1]! - sentAt[0]!).toBeGreaterThanOrEqual(pauseMs);
    expect(sentAt[1]! - sentAt[0]!).toBeLessThan(pauseMs + 1100);
  });

  it('a proxy’s 429 pauses within the window: a call the rest of the window cannot take is told the next window, and is sent then', async () => {
    const { clock, katapult, queue } = setup({ permitted: 20 });
    const add = (deadlineMs: number) => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + deadlineMs });
    const spent = Array.from({ length: 16 }, () => add(10_000));
    await clock.advance(100);
    await Promise.all(spent);
    // 4 left by Katapult's count, 2 of them the reserve; the proxy's 429 puts its call back first in line.
    katapult.failNext(1, () => new UpstreamMalformedError(429, 'body is not JSON'));
    const proxied = add(2 * MINUTE);
    await clock.advance(20);
    expect(queue.stats().pausedLanes).toBe(1);
    const hurried = await add(500).then(
      () => null,
      (error: unknown) => error,
    );
    expect(hurried).toBeInstanceOf(RateLimitedError);
    const nextWindow = (Math.floor(clock.now() / MINUTE) + 1) * MINUTE + DEFAULT_WINDOW_OFFSET_MS;
    const retryAfterSeconds = (hurried as RateLimitedError).retryAfterSeconds;
    expect(retryAfterSeconds).toBe(Math.ceil((nextWindow - clock.now()) / 1000));
    // Coming back exactly when told, it is sent.
    await clock.advance(retryAfterSeconds * 1000);
    const back = add(500);
    await clock.advance(100);
    await expect(back).resolves.toMatchObject({ status: 200 });
    await expect(proxied).resolves.toMatchObject({ status: 200 });
  });

  it('rejects at once when the lane is out of budget until after the deadline', async () => {
    const { clock, katapult, queue } = setup({ permitted: 3 });
    const start = clock.now();
    const probe = queue.add(katapult.task('a'), { laneKey: 'a', deadline: start + MINUTE });
    await clock.advance(10);
    await probe;
    const error = await queue.add(katapult.task('a'), { laneKey: 'a', deadline: start + 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    // The lane starts again a moment after the boundary (for Katapult's clock being a little behind).
    const boundary = (Math.floor(start / MINUTE) + 1) * MINUTE + DEFAULT_WINDOW_OFFSET_MS;
    expect((error as RateLimitedError).retryAfterSeconds).toBe(Math.ceil((boundary - clock.now()) / 1000));
  });
});

describe('Katapult\'s clock a little behind the gateway\'s', () => {
  /** A queue without restart jitter (each restart as early as it allows) before a Katapult of 20 calls a window whose clock is 200 ms behind. */
  function behindBy200Ms() {
    const clock = createFakeClock();
    const behind = { ...clock, now: () => clock.now() - 200, setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms) } as typeof clock;
    return { clock, katapult: createFakeKatapult(behind, { permitted: 20 }), queue: createRequestQueue({ clock, random: () => 0 }) };
  }

  it('costs no window: a lane held for a boundary starts late enough that its first call counts in Katapult\'s new window', async () => {
    const { clock, katapult, queue } = behindBy200Ms();
    const calls = Array.from({ length: 200 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10 * MINUTE }));
    for (const call of calls) call.catch(() => undefined);
    const firstBoundary = (Math.floor(clock.now() / MINUTE) + 1) * MINUTE;
    for (let window = 0; window < 5; window++) {
      // Another client of the token spends what the lane keeps back, just before each boundary.
      await clock.advanceTo(firstBoundary + window * MINUTE - 1000);
      // (Logged as attempt 0, to tell them apart.)
      for (let i = 0; i < 2; i++) void katapult.task('a')({ attempt: 0, signal: new AbortController().signal }).catch(() => undefined);
    }
    await clock.advanceTo(firstBoundary + 5 * MINUTE - 1000);
    // Each of the five windows after the first serves the lane its 18 (the reserve kept), none lost to a first call in Katapult's old window.
    // (Katapult logs its own time, 200 ms behind ours.)
    const ours = katapult.calls.filter((c) => c.attempt > 0 && c.status === 200 && c.at >= firstBoundary - 200).length;
    expect(ours).toBeGreaterThanOrEqual(4 * 18);
  });

  it('reads the answers to calls a lane still sending sent just after our boundary as the old window\'s, so the new one is not lost', async () => {
    const { clock, katapult, queue } = behindBy200Ms();
    const boundary = (Math.floor(clock.now() / MINUTE) + 1) * MINUTE;
    // 15 of the window's 20 spent through the lane, then more asked for 10 ms after our boundary.
    const spent = Array.from({ length: 15 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE }));
    await clock.advance(1_000);
    await Promise.all(spent);
    await clock.advanceTo(boundary + 10);
    const more = Array.from({ length: 15 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 5 * MINUTE }));
    for (const call of more) call.catch(() => undefined);
    await clock.advanceTo(boundary + 5_000);
    // Katapult's new window began 200 ms after ours: all 15 are answered in it, none waits for the next.
    expect(katapult.calls.filter((c) => c.at >= boundary - 200 && c.status === 200).length).toBeGreaterThanOrEqual(15);
    expect(katapult.calls.filter((c) => c.status === 429)).toHaveLength(0);
  });
});

describe('a Katapult clock further behind than the window offset', () => {
  /**
   * `replicas` gateways' queues spending one token on a Katapult of 20 calls a window whose clock
   * is `behindMs` behind: each asks for `each` calls, one every `spreadMs` (all at once for 0).
   */
  async function spend(options: { behindMs: number; windowOffsetMs?: number; replicas?: number; each?: number; spreadMs?: number }) {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 20, clockBehindMs: options.behindMs });
    const lags: Array<{ atLeastMs: number; atMostMs: number }> = [];
    const tooLarge: number[] = [];
    const replicas = options.replicas ?? 1;
    const queues = Array.from({ length: replicas }, () =>
      createRequestQueue({
        clock,
        random: () => 0,
        replicas,
        windowOffsetMs: options.windowOffsetMs,
        hooks: { onUpstreamClockBehind: (lag) => void lags.push(lag), onWindowOffsetTooLarge: ({ lagAtMostMs }) => void tooLarge.push(lagAtMostMs) },
      }),
    );
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < (options.each ?? 60); i++) {
      for (const queue of queues) calls.push(queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 30 * MINUTE }));
      if (options.spreadMs) await clock.advance(options.spreadMs);
    }
    await clock.advance(30 * MINUTE);
    const settled = await Promise.allSettled(calls);
    const served = katapult.calls.filter((c) => c.status === 200);
    return { katapult, lags, tooLarge, settled, rateLimited: katapult.calls.filter((c) => c.status === 429).length, lastServedAt: served[served.length - 1]!.at };
  }

  it.each([1_000, 3_000, 7_400])('is reported from the Date of its answers, with bounds that hold its lag (%i ms)', async (behindMs) => {
    const { lags } = await spend({ behindMs });
    expect(lags.length).toBeGreaterThan(0);
    for (const lag of lags) {
      expect(lag.atLeastMs).toBeGreaterThanOrEqual(DEFAULT_WINDOW_OFFSET_MS);
      expect(lag.atLeastMs).toBeLessThanOrEqual(behindMs);
      expect(lag.atMostMs).toBeGreaterThanOrEqual(behindMs);
      // Date is cut to the second; the fake answers 10 ms after it counts.
      expect(lag.atMostMs).toBeLessThan(behindMs + 1000 + 10);
    }
  });

  it.each([0, 200, -3_000])('is not reported when the offset covers it, or Katapult is ahead (%i ms behind)', async (behindMs) => {
    const { lags, rateLimited } = await spend({ behindMs });
    expect(lags).toEqual([]);
    expect(rateLimited).toBe(0);
  });

  it('is not reported once QUEUE_WINDOW_OFFSET_MS covers it', async () => {
    const { lags } = await spend({ behindMs: 3_000, windowOffsetMs: 4_000 });
    expect(lags).toEqual([]);
  });

  it('costs replicas a 429 at the default offset, and none under this load with the offset the report asks for', async () => {
    const before = await spend({ behindMs: 3_000, replicas: 2, spreadMs: 1_000 });
    expect(before.rateLimited).toBeGreaterThan(0);
    const atMost = Math.min(...before.lags.map((lag) => lag.atMostMs));
    const after = await spend({ behindMs: 3_000, replicas: 2, spreadMs: 1_000, windowOffsetMs: offsetCovering(atMost, MINUTE) });
    expect(after.rateLimited).toBe(0);
    expect(after.settled.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(after.katapult.perWindow('t').every((w) => w.sent <= 20)).toBe(true);
    expect(after.lags).toEqual([]);
  });

  it('keeps a single gateway to the budget either way, and an offset that covers the lag loses no window to it', async () => {
    const before = await spend({ behindMs: 3_000 });
    const after = await spend({ behindMs: 3_000, windowOffsetMs: 4_000 });
    for (const run of [before, after]) {
      expect(run.rateLimited).toBe(0);
      expect(run.settled.every((r) => r.status === 'fulfilled')).toBe(true);
      expect(run.katapult.perWindow('t').every((w) => w.sent <= 20)).toBe(true);
    }
    // 60 calls at 18 a window: four windows, or five when each window's first call lands in Katapult's old one.
    expect(before.lastServedAt - after.lastServedAt).toBeGreaterThan(MINUTE / 2);
  });

  it.each([
    ['in step with ours', 0, 5_000],
    ['1 s behind', 1_000, 5_000],
    ['2 s ahead', -2_000, 3_000],
  ])('reports an offset larger than a Katapult clock %s needs, with a bound that holds the lag', async (_what, behindMs, windowOffsetMs) => {
    const { tooLarge, lags } = await spend({ behindMs, windowOffsetMs, spreadMs: 500 });
    expect(lags).toEqual([]);
    expect(tooLarge.length).toBeGreaterThan(0);
    for (const atMost of tooLarge) {
      expect(atMost).toBeGreaterThanOrEqual(behindMs);
      expect(atMost + DEFAULT_WINDOW_OFFSET_MS).toBeLessThan(windowOffsetMs);
    }
  });

  it('does not report the offset as too large when it is what the lag needs, or the default', async () => {
    expect((await spend({ behindMs: 3_000, windowOffsetMs: offsetCovering(3_010, MINUTE), spreadMs: 500 })).tooLarge.filter((atMost) => offsetCovering(atMost, MINUTE) < offsetCovering(3_010, MINUTE))).toEqual([]);
    expect((await spend({ behindMs: 0, spreadMs: 500 })).tooLarge).toEqual([]);
  });

  it('refuses an offset of more than half a window', () => {
    expect(() => createRequestQueue({ clock: createFakeClock(), windowMs: 2_000, windowOffsetMs: 1_001 })).toThrow(/windowOffsetMs: expected at most half of windowMs \(1000\), got 1001/);
  });
});

describe('replicas of the gateway sharing a token', () => {
  /** Two gateways' queues spending one token on one Katapult, each sending 30 calls. */
  async function twoReplicas(replicas: number) {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 20 });
    const [a, b] = [createRequestQueue({ clock, random: () => 0, replicas }), createRequestQueue({ clock, random: () => 0, replicas })];
    const calls = Array.from({ length: 30 }, () => [a!, b!].map((queue) => queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 5 * MINUTE }))).flat();
    await clock.advance(5 * MINUTE);
    return { katapult, settled: await Promise.allSettled(calls) };
  }

  it('overrun Katapult\'s count when each takes itself for the only one: each sees only its own calls', async () => {
    const { katapult } = await twoReplicas(1);
    expect(katapult.calls.filter((c) => c.status === 429).length).toBeGreaterThan(0);
  });

  it('get no 429 told how many they are: near the end of the budget each sends one call at a time, on the answer to the one before', async () => {
    const { katapult, settled } = await twoReplicas(2);
    expect(settled.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(katapult.perWindow('t').every((w) => w.rateLimited === 0 && w.sent <= 20)).toBe(true);
    expect(katapult.calls.filter((c) => c.status === 429)).toHaveLength(0);
  });
});

describe('reading an attempt that got no answer', () => {
  const refusal = new UpstreamApiError(403, 'invalid_api_token', '', {});
  it('counts it against the budget when it may have reached Katapult, and tells the circuit nothing', () => {
    expect(readOutcome({ error: new UpstreamTimeoutError(1000) }).lesson).toMatchObject({ response: false, mayHaveCounted: true });
    expect(readOutcome({ error: new UpstreamNetworkError('ECONNRESET') }).lesson).toMatchObject({ response: false, mayHaveCounted: true });
    expect(readOutcome({ error: new UpstreamNetworkError('ECONNREFUSED') }).lesson).toMatchObject({ response: false, mayHaveCounted: false });
  });

  it('reads a call given up before it was sent (its token refused meanwhile) as nothing: no answer, no health', () => {
    const reading = readOutcome({ error: new UpstreamNotSentError(refusal) });
    expect(reading.health).toBe('unknown');
    expect(reading.lesson).toMatchObject({ response: false, mayHaveCounted: false, rateLimit: NO_RATE_LIMIT_INFO });
    // Katapult's own refusal is an answer, and a healthy one.
    expect(readOutcome({ error: refusal }).health).toBe('healthy');
  });
});
