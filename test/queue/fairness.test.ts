import { describe, expect, it } from 'vitest';
import { createRequestQueue, type QueuePriority } from '../../src/queue/index.js';
import { RateLimitedError } from '../../src/upstream/errors.js';
import type { UpstreamResult } from '../../src/upstream/http.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createFakeKatapult } from './fake-katapult.js';

const HOUR = 3_600_000;

describe('fairness and priority', () => {
  it('a heavy token with hundreds waiting delays a light token by at most one turn', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000, latencyMs: 10 });
    const queue = createRequestQueue({ clock, random: () => 0, globalConcurrency: 2 });
    const heavy = Array.from({ length: 300 }, () => queue.add(katapult.task('heavy'), { laneKey: 'heavy', deadline: clock.now() + HOUR }));
    await clock.advance(50);
    const sentBefore = katapult.calls.length;
    const addedAt = clock.now();
    const light = queue.add(katapult.task('light'), { laneKey: 'light', deadline: clock.now() + HOUR });
    await clock.advance(30);
    const lightCall = katapult.calls.findIndex((c) => c.token === 'light');
    expect(lightCall).toBeGreaterThanOrEqual(sentBefore);
    expect(lightCall - sentBefore).toBeLessThanOrEqual(2);
    expect(katapult.calls[lightCall]!.at - addedAt).toBeLessThanOrEqual(10);
    await light;
    await clock.advance(HOUR);
    expect(await Promise.all(heavy)).toHaveLength(300);
  });

  it('several heavy tokens take turns, so each light call waits at most one turn per busy lane', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000, latencyMs: 10 });
    const queue = createRequestQueue({ clock, random: () => 0, globalConcurrency: 1 });
    for (const token of ['h1', 'h2', 'h3']) {
      for (let i = 0; i < 100; i++) void queue.add(katapult.task(token), { laneKey: token, deadline: clock.now() + HOUR });
    }
    await clock.advance(200);
    const sentBefore = katapult.calls.length;
    void queue.add(katapult.task('light'), { laneKey: 'light', deadline: clock.now() + HOUR });
    await clock.advance(100);
    const lightCall = katapult.calls.findIndex((c) => c.token === 'light');
    expect(lightCall - sentBefore).toBeLessThanOrEqual(4);
    const window = katapult.calls.slice(sentBefore, sentBefore + 6).map((c) => c.token);
    expect(new Set(window).size).toBe(4);
    await clock.advance(HOUR);
    await queue.onIdle();
  });

  it('foreground calls start before background calls, across lanes and within a lane', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000, latencyMs: 10 });
    const queue = createRequestQueue({ clock, random: () => 0, globalConcurrency: 1 });
    const started: string[] = [];
    const add = (lane: string, name: string, priority: QueuePriority) =>
      queue.add(
        (attempt) => {
          started.push(name);
          return katapult.task(lane)(attempt) as Promise<UpstreamResult<unknown>>;
        },
        { laneKey: lane, deadline: clock.now() + HOUR, priority },
      );
    const all = [
      add('a', 'a-bg-1', 'background'),
      add('a', 'a-bg-2', 'background'),
      add('b', 'b-bg-1', 'background'),
      add('a', 'a-fg-1', 'foreground'),
      add('b', 'b-fg-1', 'foreground'),
      add('a', 'a-fg-2', 'foreground'),
    ];
    await clock.advance(1000);
    await Promise.all(all);
    // a-bg-1 went at once (nothing else was waiting); then every foreground call, taking turns
    // between lanes, before the remaining background calls, again taking turns.
    expect(started).toEqual(['a-bg-1', 'a-fg-1', 'b-fg-1', 'a-fg-2', 'b-bg-1', 'a-bg-2']);
  });

  it('moves a background call to the foreground when a caller who waits for it joins', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000, latencyMs: 10 });
    const queue = createRequestQueue({ clock, random: () => 0, globalConcurrency: 1 });
    // Teach the light lane its budget first, so its calls need no probe.
    await Promise.all([queue.add(katapult.task('light'), { laneKey: 'light', deadline: clock.now() + HOUR }), clock.advance(20)]);
    const heavy = Array.from({ length: 100 }, () => queue.add(katapult.task('heavy'), { laneKey: 'heavy', deadline: clock.now() + HOUR }));
    const listeners = new Set<() => void>();
    const refresh = queue.add(katapult.task('light'), {
      laneKey: 'light',
      deadline: clock.now() + HOUR,
      priority: 'background',
      onForeground: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    });
    await clock.advance(25);
    expect(katapult.calls.filter((c) => c.token === 'light')).toHaveLength(1);
    // A client's read joins the refresh: it takes its lane's turn among the foreground work.
    for (const listener of listeners) listener();
    const joinedAt = clock.now();
    await clock.advance(40);
    const sent = katapult.calls.filter((c) => c.token === 'light');
    expect(sent).toHaveLength(2);
    expect(sent[1]!.at - joinedAt).toBeLessThanOrEqual(20);
    await expect(refresh).resolves.toMatchObject({ status: 200 });
    await clock.advance(HOUR);
    expect(await Promise.all(heavy)).toHaveLength(100);
    // Settled calls stop listening.
    expect(listeners.size).toBe(0);
  });

  it('leaves the last quarter of a window\'s budget to foreground calls, and sends at most two background calls of a token at once', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 20, latencyMs: 100 });
    const rejected: string[] = [];
    // A small line per token: refreshes refused past the quarter must not take its room.
    const queue = createRequestQueue({ clock, random: () => 0, maxQueuedPerToken: 20, hooks: { onRejected: (reason) => void rejected.push(reason) } });
    const refreshes = Array.from({ length: 20 }, () => queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 30_000, priority: 'background' }));
    const outcomes = refreshes.map((refresh) => refresh.then(() => 'sent', (error: Error) => error.name));
    let mostAtOnce = 0;
    for (let step = 0; step < 100; step++) {
      await clock.advance(10);
      mostAtOnce = Math.max(mostAtOnce, queue.stats().inFlight);
    }
    expect(mostAtOnce).toBeLessThanOrEqual(2);
    // Five (a quarter of 20) and the reserve of two are left: background work stopped short of them,
    // and the refreshes it could not send were refused, not kept in line.
    expect(katapult.calls).toHaveLength(20 - 5 - 2);
    const settled = await Promise.all(outcomes);
    expect(settled.filter((o) => o === 'sent')).toHaveLength(13);
    expect(settled.filter((o) => o === 'RateLimitedError')).toHaveLength(7);
    expect(queue.stats().waiting).toBe(0);
    // A refresh asked for now is refused at once.
    await expect(queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 30_000, priority: 'background' })).rejects.toBeInstanceOf(RateLimitedError);
    // Counted apart from refusals for the budget itself (those whose deadline the window cannot meet).
    expect(rejected).toContain('held_back');
    expect(rejected.every((reason) => reason === 'held_back' || reason === 'rate_limited')).toBe(true);
    // A user's request later in the window gets its call at once.
    const foreground = queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 10_000 });
    await clock.advance(200);
    await expect(foreground).resolves.toMatchObject({ status: 200 });
    // A token's check may spend what is held back: it bounds how long a revoked token is served from cache.
    const check = queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 30_000, priority: 'background', spendsHeldBack: true });
    await clock.advance(200);
    await expect(check).resolves.toMatchObject({ status: 200 });
    // In the next window, refreshes go again.
    await clock.advanceTo((Math.floor(clock.now() / 60_000) + 1) * 60_000 + 2_000);
    const next = queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 30_000, priority: 'background' });
    await clock.advance(200);
    await expect(next).resolves.toMatchObject({ status: 200 });
    expect(katapult.calls.every((c) => c.status === 200)).toBe(true);
  });

  it('always lets one background call a window through, whatever the reserve', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 3, latencyMs: 10 });
    const queue = createRequestQueue({ clock, random: () => 0, budgetReserve: 2 });
    // A quarter of 3 (1) and the reserve (2) would hold back all three calls of each window.
    await clock.advanceTo((Math.floor(clock.now() / 60_000) + 1) * 60_000);
    const first = queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 10_000 });
    await clock.advance(100);
    await first;
    await clock.advanceTo((Math.floor(clock.now() / 60_000) + 1) * 60_000 + 2_000);
    const refresh = queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 10_000, priority: 'background' });
    await clock.advance(100);
    await expect(refresh).resolves.toMatchObject({ status: 200 });
  });

  it('keeps to the global and per-token concurrency limits', async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000, latencyMs: 10 });
    const queue = createRequestQueue({ clock, random: () => 0, globalConcurrency: 4, perTokenConcurrency: 2 });
    const inFlight = new Map<string, number>();
    let total = 0;
    let maxTotal = 0;
    let maxPerLane = 0;
    const tracked = (lane: string) => async (attempt: Parameters<ReturnType<typeof katapult.task>>[0]) => {
      inFlight.set(lane, (inFlight.get(lane) ?? 0) + 1);
      total++;
      maxTotal = Math.max(maxTotal, total);
      maxPerLane = Math.max(maxPerLane, inFlight.get(lane)!);
      try {
        return await katapult.task(lane)(attempt);
      } finally {
        inFlight.set(lane, inFlight.get(lane)! - 1);
        total--;
      }
    };
    const all = ['a', 'b', 'c'].flatMap((lane) =>
      Array.from({ length: 10 }, () => queue.add(tracked(lane), { laneKey: lane, deadline: clock.now() + HOUR })),
    );
    await clock.advance(1000);
    await Promise.all(all);
    expect(maxTotal).toBe(4);
    expect(maxPerLane).toBe(2);
  });
});

describe('a full line', () => {
  it("makes room for a call someone waits for by refusing a refresh nobody waits for, in the token's line and the gateway's", async () => {
    const clock = createFakeClock();
    const katapult = createFakeKatapult(clock, { permitted: 1000, latencyMs: 500 });
    const rejected: string[] = [];
    // Two calls of a token at once, so that the calls added below wait in line.
    const queue = createRequestQueue({ clock, random: () => 0, perTokenConcurrency: 2, maxQueuedPerToken: 10, maxQueuedGlobal: 14, hooks: { onRejected: (reason) => void rejected.push(reason) } });
    const outcome = (call: Promise<unknown>) => call.then(() => 'sent', (error: Error) => error.name);
    const probe = outcome(queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 10_000 }));
    await clock.advance(600);
    expect(await probe).toBe('sent');
    // Two refreshes go; ten more fill the token's line.
    const refreshes = Array.from({ length: 12 }, () => outcome(queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 30_000, priority: 'background' })));
    await clock.flush();
    expect(queue.size).toBe(10);
    const check = outcome(queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 30_000, priority: 'background', spendsHeldBack: true }));
    const read = outcome(queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 10_000 }));
    // A refresh is not let in the same way.
    const late = outcome(queue.add(katapult.task('t'), { laneKey: 't', deadline: clock.now() + 30_000, priority: 'background' }));
    // Another token's refreshes (its first call goes alone) fill the gateway's line; a read of a third token still gets in.
    const others = Array.from({ length: 5 }, () => outcome(queue.add(katapult.task('u'), { laneKey: 'u', deadline: clock.now() + 30_000, priority: 'background' })));
    expect(queue.size).toBe(14);
    const third = outcome(queue.add(katapult.task('v'), { laneKey: 'v', deadline: clock.now() + 10_000 }));
    await clock.advance(20_000);
    expect([await check, await read, await late, await third]).toEqual(['sent', 'sent', 'QueueFullError', 'sent']);
    const settled = await Promise.all([...refreshes, ...others]);
    // The token's two newest refreshes gave their places to its own calls, and its next newest
    // (its line held the most refreshes) to the third token's read.
    expect(settled).toEqual([...Array(9).fill('sent'), ...Array(3).fill('QueueFullError'), ...Array(5).fill('sent')]);
    expect(rejected.every((reason) => reason === 'queue_full')).toBe(true);
  });
});
