import { describe, expect, it } from 'vitest';
import { createRequestQueue } from '../../src/queue/index.js';
import { QueueFullError, UpstreamCancelledError } from '../../src/upstream/errors.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createFakeKatapult } from './fake-katapult.js';

const HOUR = 3_600_000;

describe('queue limits, cancellation and shutdown', () => {
  it('rejects calls beyond the per-token limit with QueueFullError and completes every accepted one', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000 });
    const queue = createRequestQueue({ clock, random: () => 0, maxQueuedPerToken: 5 });
    const calls = Array.from({ length: 10 }, () => queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + HOUR }));
    const settled = Promise.allSettled(calls);
    const other = queue.add(katapult.task('b'), { laneKey: 'b', deadline: clock.now() + HOUR });
    await clock.advance(1000);
    const results = await settled;
    // One probe in flight plus five waiting were accepted.
    expect(results.map((r) => r.status)).toEqual([...Array(6).fill('fulfilled'), ...Array(4).fill('rejected')]);
    for (const r of results.slice(6)) {
      const error = (r as PromiseRejectedResult).reason as QueueFullError;
      expect(error).toBeInstanceOf(QueueFullError);
      expect(error.scope).toBe('token');
      expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    }
    await expect(other).resolves.toMatchObject({ status: 200 });
    expect(katapult.calls).toHaveLength(7);
  });

  it('rejects calls beyond the global limit with QueueFullError and completes every accepted one', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000 });
    const queue = createRequestQueue({ clock, random: () => 0, maxQueuedGlobal: 3, globalConcurrency: 1 });
    const calls = ['a', 'b', 'c', 'd', 'e', 'f'].map((lane) => queue.add(katapult.task(lane), { laneKey: lane, deadline: clock.now() + HOUR }));
    const settled = Promise.allSettled(calls);
    expect(queue.size).toBe(3);
    expect(queue.pending).toBe(1);
    await clock.advance(1000);
    const results = await settled;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect((results[5] as PromiseRejectedResult).reason).toMatchObject({ scope: 'global' });
  });

  it('a caller that aborts while waiting is rejected with UpstreamCancelledError and nothing is sent', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000, latencyMs: 100 });
    const rejected: string[] = [];
    const queue = createRequestQueue({ clock, random: () => 0, hooks: { onRejected: (r) => void rejected.push(r) } });
    const probe = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + HOUR });
    const controller = new AbortController();
    const waiting = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + HOUR, signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(UpstreamCancelledError);
    expect(queue.size).toBe(0);
    await clock.advance(1000);
    await probe;
    expect(katapult.calls).toHaveLength(1);
    expect(rejected).toEqual(['cancelled']);
    const already = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + HOUR, signal: AbortSignal.abort() });
    await expect(already).rejects.toBeInstanceOf(UpstreamCancelledError);
    expect(katapult.calls).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a caller that aborts while its call is in flight aborts the attempt and frees the slot when it ends', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000, latencyMs: 100 });
    const queue = createRequestQueue({ clock, random: () => 0 });
    let attemptSignal: AbortSignal | undefined;
    const controller = new AbortController();
    const call = queue.add(
      (attempt) => {
        attemptSignal = attempt.signal;
        return katapult.task('a')(attempt);
      },
      { laneKey: 'a', deadline: clock.now() + HOUR, signal: controller.signal },
    );
    await clock.flush();
    expect(attemptSignal?.aborted).toBe(false);
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(UpstreamCancelledError);
    expect(attemptSignal?.aborted).toBe(true);
    await clock.flush();
    expect(queue.pending).toBe(0);
    await queue.onIdle();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('close rejects everything waiting, lets calls in flight finish, and refuses new calls', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000, latencyMs: 100 });
    const queue = createRequestQueue({ clock, random: () => 0 });
    const inFlight = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + HOUR });
    const waiting = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + HOUR });
    const idle = queue.onIdle();
    queue.close();
    await expect(waiting).rejects.toBeInstanceOf(UpstreamCancelledError);
    await expect(queue.add(katapult.task('b'), { laneKey: 'b', deadline: clock.now() + HOUR })).rejects.toBeInstanceOf(UpstreamCancelledError);
    await clock.advance(100);
    await expect(inFlight).resolves.toMatchObject({ status: 200 });
    await idle;
    expect(katapult.calls).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('reports aggregate stats and keeps working when a hook throws', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 50, latencyMs: 10 });
    const budgets: Array<number | null> = [];
    const queue = createRequestQueue({
      clock,
      random: () => 0,
      hooks: {
        onEnqueued: () => {
          throw new Error('metrics are down');
        },
        onBudget: ({ remaining }) => void budgets.push(remaining),
      },
    });
    const calls = [
      queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + HOUR }),
      queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + HOUR }),
      queue.add(katapult.task('b'), { laneKey: 'b', deadline: clock.now() + HOUR }),
    ];
    expect(queue.stats()).toMatchObject({ lanes: 2, waiting: 1, inFlight: 2, pausedLanes: 0, minRemaining: null, avgRemaining: null });
    await clock.advance(100);
    await Promise.all(calls);
    expect(budgets).toEqual([49, 49, 48]);
    expect(queue.stats()).toEqual({ lanes: 2, waiting: 0, inFlight: 0, pausedLanes: 0, minRemaining: 48, avgRemaining: 48.5, circuit: 'closed' });
  });

  it('forgets a token\'s lane once it has been idle a whole window of its own, and not before', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000 });
    const queue = createRequestQueue({ clock, random: () => 0 });
    const minute = (Math.floor(clock.now() / 60_000) + 1) * 60_000;
    // Sent 100 ms into a minute: that is still the lane's window before (they begin 250 ms in).
    await clock.advanceTo(minute + 100);
    const a = queue.add(katapult.task('a'), { laneKey: 'a', deadline: clock.now() + 10_000 });
    await clock.advance(50);
    await a;
    // 50 ms into the next minute, the lane has been idle for part of one window only: it is kept.
    await clock.advanceTo(minute + 60_050);
    const b = queue.add(katapult.task('b'), { laneKey: 'b', deadline: clock.now() + 10_000 });
    expect(queue.stats().lanes).toBe(2);
    await clock.advance(50);
    await b;
    // Two windows on, it goes.
    await clock.advanceTo(minute + 3 * 60_000 + 300);
    const c = queue.add(katapult.task('c'), { laneKey: 'c', deadline: clock.now() + 10_000 });
    expect(queue.stats().lanes).toBe(1);
    await clock.advance(50);
    await c;
  });

  it('rejects invalid options with one error naming every bad value', () => {
    const clock = createFakeClock();
    expect(() => createRequestQueue({ clock, globalConcurrency: 0, budgetReserve: -1, windowMs: 1.5 })).toThrow(
      /globalConcurrency: expected an integer ≥ 1, got 0\n.*budgetReserve: expected an integer ≥ 0, got -1\n.*windowMs: expected an integer ≥ 1, got 1.5/,
    );
  });
});
