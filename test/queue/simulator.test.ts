import { describe, expect, it } from 'vitest';
import { createRequestQueue, type QueueTask } from '../../src/queue/index.js';
import { createSimulator, DEMO_TOKENS } from '../../src/simulator/index.js';
import { UpstreamCancelledError } from '../../src/upstream/errors.js';
import { createKatapultHttp } from '../../src/upstream/http.js';
import { createFakeClock } from '../helpers/fake-clock.js';

const MINUTE = 60_000;

function setup(simulatorOptions: { rateLimitHeaders?: boolean; latencyMs?: number } = {}) {
  const clock = createFakeClock();
  const sim = createSimulator({ clock, latencyMs: simulatorOptions.latencyMs ?? 5, rateLimitHeaders: simulatorOptions.rateLimitHeaders });
  const http = createKatapultHttp({ baseUrl: 'http://sim/core/v1', fetch: sim.fetch });
  let rateLimitResponses = 0;
  const queue = createRequestQueue({ clock, random: () => 0.3, hooks: { onRateLimitResponse: () => void rateLimitResponses++ } });
  const zones =
    (token: string): QueueTask<unknown> =>
    ({ signal }) =>
      http.get({ path: '/zones', token, signal });
  /** Authenticated requests per simulator window as [sent, 429s]; each test uses one token. */
  const perWindow = () => {
    const windows = new Map<number, [number, number]>();
    for (const r of sim.requests) {
      if (r.tokenFingerprint === null) continue;
      const counts = windows.get(Math.floor(r.at / MINUTE)) ?? [0, 0];
      counts[0]++;
      if (r.status === 429) counts[1]++;
      windows.set(Math.floor(r.at / MINUTE), counts);
    }
    return [...windows.values()];
  };
  return { clock, sim, queue, zones, perWindow, rateLimitResponses: () => rateLimitResponses };
}

describe('request queue against the simulator', () => {
  it('a burst of ten times the budget stays within each window, gets no 429, and all of it completes', async () => {
    const { clock, sim, queue, zones, perWindow, rateLimitResponses } = setup();
    sim.setTokenLimit(DEMO_TOKENS.acme, 20);
    const all = Promise.allSettled(
      Array.from({ length: 200 }, () => queue.add(zones(DEMO_TOKENS.acme), { laneKey: 'acme', deadline: clock.now() + 15 * MINUTE })),
    );
    await clock.advance(15 * MINUTE);
    const results = await all;
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(200);
    expect(sim.countRequests({ token: DEMO_TOKENS.acme })).toBe(200);
    const windows = perWindow();
    expect(windows.length).toBeGreaterThanOrEqual(11);
    expect(windows.every(([sent, refused]) => sent <= 20 && refused === 0)).toBe(true);
    expect(rateLimitResponses()).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('with rate-limit headers suppressed, gets at most one 429 per window and then pauses the lane', async () => {
    const { clock, sim, queue, zones, perWindow } = setup({ rateLimitHeaders: false });
    sim.setTokenLimit(DEMO_TOKENS.acme, 20);
    const all = Promise.allSettled(
      Array.from({ length: 60 }, () => queue.add(zones(DEMO_TOKENS.acme), { laneKey: 'acme', deadline: clock.now() + 10 * MINUTE })),
    );
    await clock.advance(10_000);
    expect(sim.countRequests({ token: DEMO_TOKENS.acme })).toBe(21);
    expect(queue.stats().pausedLanes).toBe(1);
    await clock.advance(30_000);
    expect(sim.countRequests({ token: DEMO_TOKENS.acme })).toBe(21);
    await clock.advance(10 * MINUTE);
    expect((await all).every((r) => r.status === 'fulfilled')).toBe(true);
    const windows = perWindow();
    expect(windows[0]).toEqual([21, 1]);
    expect(windows.every(([sent, refused]) => refused <= 1 && sent - refused <= 20)).toBe(true);
  });

  it('a lane paused by its budget leaves other tokens flowing', async () => {
    const { clock, sim, queue, zones } = setup();
    sim.setTokenLimit(DEMO_TOKENS.acme, 5);
    const acme = Promise.allSettled(
      Array.from({ length: 20 }, () => queue.add(zones(DEMO_TOKENS.acme), { laneKey: 'acme', deadline: clock.now() + 10 * MINUTE })),
    );
    await clock.advance(1000);
    expect(queue.stats().pausedLanes).toBe(1);
    const globex = queue.add(zones(DEMO_TOKENS.globex), { laneKey: 'globex', deadline: clock.now() + 1000 });
    await clock.advance(20);
    await expect(globex).resolves.toMatchObject({ status: 200 });
    await clock.advance(10 * MINUTE);
    expect((await acme).every((r) => r.status === 'fulfilled')).toBe(true);
  });

  it('cancelled callers send nothing', async () => {
    const { clock, sim, queue, zones } = setup({ latencyMs: 50 });
    const first = queue.add(zones(DEMO_TOKENS.acme), { laneKey: 'acme', deadline: clock.now() + MINUTE });
    const controllers = Array.from({ length: 5 }, () => new AbortController());
    const cancelled = controllers.map((c) =>
      queue.add(zones(DEMO_TOKENS.acme), { laneKey: 'acme', deadline: clock.now() + MINUTE, signal: c.signal }).catch((e: unknown) => e),
    );
    for (const c of controllers) c.abort();
    await clock.advance(1000);
    await first;
    expect((await Promise.all(cancelled)).every((e) => e instanceof UpstreamCancelledError)).toBe(true);
    expect(sim.countRequests({ token: DEMO_TOKENS.acme })).toBe(1);
  });
});
