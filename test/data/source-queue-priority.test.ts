import { checkLeadFor } from '../../src/cache/rest-cache.js';
import { DEFAULT_TTL_MS } from '../../src/cache/ttl-policy.js';
import { describe, expect, it } from 'vitest';
import { createRestCache } from '../../src/cache/index.js';
import { createKatapultSource } from '../../src/data/katapult-source.js';
import { createRequestStats, type RequestScope } from '../../src/data/request-scope.js';
import { createRequestQueue, type QueueAddOptions } from '../../src/queue/index.js';
import type { KatapultHttp } from '../../src/upstream/http.js';
import { NO_RATE_LIMIT_INFO, RateLimitedError, UpstreamApiError } from '../../src/upstream/errors.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { strictOptions } from '../cache/fixtures.js';

describe('the queue options of a Katapult call', () => {
  it('mark a token check as background work that may spend what is held back, and a refresh as background work that may not', async () => {
    const clock = createFakeClock();
    // Zones fresh for 55 s, so that the entry goes stale while the token is still vouched for (checked within the minute).
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000, ttlMs: { ...DEFAULT_TTL_MS, zones: 55_000 }, staleWhileRevalidateMs: 600_000 }));
    const queue = createRequestQueue({ clock, random: () => 0 });
    const added: QueueAddOptions[] = [];
    const recording = { ...queue, add: (task: Parameters<typeof queue.add>[0], options: QueueAddOptions) => (added.push(options), queue.add(task, options)) } as typeof queue;
    const raw = Buffer.from('{"zones":[]}');
    const http: KatapultHttp = { baseUrl: 'http://katapult/core/v1', get: async () => ({ status: 200, body: { zones: [] } as never, bytes: raw.length, raw, rateLimit: NO_RATE_LIMIT_INFO, upstreamRequestId: null }) };
    const source = createKatapultSource({ http, cache, queue: recording, clock });
    const scope = (): RequestScope => ({ token: 'kp_t', tokenKey: 'key-t', requestId: 'r', deadline: clock.now() + 10_000, noCache: false, stats: createRequestStats() });
    const read = () => source.get(scope(), { path: '/zones', kind: 'zones' });

    await read();
    expect(added.at(-1)).toMatchObject({ priority: 'foreground', spendsHeldBack: false });
    // Due the token's check, the entry still fresh: the read starts the check.
    await clock.advance(60_000 - checkLeadFor(60_000));
    await read();
    await clock.flush();
    expect(added).toHaveLength(2);
    expect(added.at(-1)).toMatchObject({ priority: 'background', spendsHeldBack: true });
    // Past the entry's freshness (55 s after the check), within the stale window, the token not yet due again: a refresh nobody waits for.
    await clock.advance(56_000);
    await read();
    await clock.flush();
    expect(added).toHaveLength(3);
    expect(added.at(-1)).toMatchObject({ priority: 'background', spendsHeldBack: false });
  });
});

describe('a read at its deadline, for a token past its check', () => {
  it('is not answered from the kept entry while its call is still held unsent (the gateway declining to send, not Katapult failing)', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000, staleIfErrorMs: 3_600_000 }));
    const queue = createRequestQueue({ clock, random: () => 0 });
    const raw = Buffer.from('{"zones":[]}');
    let answers = 0;
    const http: KatapultHttp = {
      baseUrl: 'http://katapult/core/v1',
      get: async () => {
        // The first call is answered; every later one is refused for the token's budget, which holds the call for the next window.
        if (answers++ === 0) return { status: 200, body: { zones: [] } as never, bytes: raw.length, raw, rateLimit: { permitted: 1000, remaining: 999, retryAfterMs: null }, upstreamRequestId: null };
        const refusal = new UpstreamApiError(429, 'rate_limit_reached', '', { total_permitted: 1000 });
        refusal.rateLimit = { permitted: 1000, remaining: 0, retryAfterMs: null };
        // Answered after 50 ms, so that a second request joins the call while it is on its way.
        await new Promise<void>((resolve) => clock.setTimeout(() => resolve(), 50));
        throw refusal;
      },
    };
    const source = createKatapultSource({ http, cache, queue, clock });
    const scope = (deadlineMs: number): RequestScope => ({ token: 'kp_t', tokenKey: 'key-t', requestId: 'r', deadline: clock.now() + deadlineMs, noCache: false, stats: createRequestStats() });
    const read = (s: RequestScope) => Promise.resolve(source.get(s, { path: '/zones', kind: 'zones' }));

    await read(scope(10_000));
    // Past the token's check: the read goes to Katapult, whose 429 holds the call for the next window.
    await clock.advance(120_000);
    const first = read(scope(10_000)).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    await clock.advance(10);
    // A second request for the same call that can wait longer: after the 429, the call stays queued past the first one's deadline.
    const later = read(scope(100_000)).catch(() => undefined);
    await clock.advance(10_000);
    const outcome = await first;
    expect(outcome).toMatchObject({ error: expect.any(RateLimitedError) });
    await clock.advance(100_000);
    await later;
  });

  /**
   * A token with kept entries for /zones and /data_centers, read at 50 s (which starts its check in
   * the background, a call for /zones) and past its check at 65 s for /data_centers, whose read
   * waits for that check. `holdCheck`: the check's call is held unsent (the token's budget spent)
   * until its deadline; else it is sent, and Katapult does not answer.
   */
  async function waitingOnTheCheck(holdCheck: boolean) {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000, staleIfErrorMs: 3_600_000 }));
    const real = createRequestQueue({ clock, random: () => 0 });
    let hold = false;
    const queue = {
      ...real,
      add: (task: Parameters<typeof real.add>[0], options: QueueAddOptions) => {
        if (!hold) return real.add(task, options);
        // Held unsent, and refused at the latest deadline it is given, as the queue does with a spent budget.
        return new Promise((_, reject) => {
          let at = options.deadline;
          options.onLaterDeadline?.((later) => (at = Math.max(at, later)));
          const refuseAtDeadline = () => (clock.now() >= at ? reject(new RateLimitedError(60, 'budget spent')) : clock.setTimeout(refuseAtDeadline, at - clock.now()));
          clock.setTimeout(refuseAtDeadline, at - clock.now());
        });
      },
    } as typeof real;
    let answering = true;
    const http: KatapultHttp = {
      baseUrl: 'http://katapult/core/v1',
      get: (request) => {
        if (!answering) return new Promise(() => undefined);
        const body = request.path === '/zones' ? { zones: [] } : { data_centers: [] };
        const raw = Buffer.from(JSON.stringify(body));
        return Promise.resolve({ status: 200, body: body as never, bytes: raw.length, raw, rateLimit: NO_RATE_LIMIT_INFO, upstreamRequestId: null });
      },
    };
    const source = createKatapultSource({ http, cache, queue, clock });
    const scope = (): RequestScope => ({ token: 'kp_t', tokenKey: 'key-t', requestId: 'r', deadline: clock.now() + 10_000, noCache: false, stats: createRequestStats() });
    const read = (path: string) => Promise.resolve(source.get(scope(), { path, kind: 'zones' }));

    await read('/zones');
    await read('/data_centers');
    hold = holdCheck;
    answering = false;
    await clock.advance(50_000);
    // Served from its entry; the token's check (30 s to answer, a background refresh's deadline) starts.
    await read('/zones');
    await clock.advance(15_000);
    expect(cache.tokenCheckDue('key-t')).toBe(true);
    const waiting = read('/data_centers').then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    await clock.advance(10_001);
    return waiting;
  }

  it('is not answered from the kept entry while the token check it waits on is still held unsent', async () => {
    expect(await waitingOnTheCheck(true)).toMatchObject({ error: expect.any(RateLimitedError) });
  });

  it('is answered from the kept entry when the token check it waits on was sent and Katapult has not answered', async () => {
    expect(await waitingOnTheCheck(false)).toMatchObject({ value: { data_centers: [] } });
  });
});
