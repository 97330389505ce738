import { describe, expect, it } from 'vitest';
import { createRestCache, type CacheStatus } from '../../src/cache/index.js';
import { UpstreamCancelledError, UpstreamNetworkError } from '../../src/upstream/errors.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createRandom } from '../../src/simulator/random.js';
import { answering, controlled, keyOf, resultOf, strictOptions } from './fixtures.js';

/** An entry read past its freshness, within the stale window: served stale, its refresh (load 1) still pending. */
async function staleEntryBeingRefreshed() {
  const clock = createFakeClock();
  const cache = createRestCache(strictOptions(clock, { staleWhileRevalidateMs: 30_000 }));
  const key = keyOf('t1', '/virtual_machines/vm_1');
  const upstream = controlled<{ v: number }>();
  const first = cache.fetch(key, { load: upstream.load });
  upstream.pending[0]?.resolve(resultOf({ v: 1 }));
  await first;
  await clock.advance(20_000);
  expect((await cache.fetch(key, { load: upstream.load })).status).toBe('stale');
  return { cache, key, upstream };
}

describe('singleflight', () => {
  it('shares one load among 100 concurrent fetches of the same key', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const key = keyOf('t1', '/virtual_machines?page=1', 'vmList');
    const upstream = controlled<{ page: number }>();

    const reads = Array.from({ length: 100 }, () => cache.fetch(key, { load: upstream.load }));
    expect(cache.stats().inFlight).toBe(1);
    upstream.pending[0]?.resolve(resultOf({ page: 1 }));
    const settled = await Promise.all(reads);

    expect(upstream.pending).toHaveLength(1);
    const statuses = settled.map((read) => read.status);
    expect(statuses.filter((status) => status === 'miss')).toHaveLength(1);
    expect(statuses.filter((status) => status === 'coalesced')).toHaveLength(99);
    expect(settled.every((read) => read.value.page === 1)).toBe(true);
    expect(cache.stats().inFlight).toBe(0);
  });

  it("moves the shared load's deadline to the latest caller's, never earlier", async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const key = keyOf('t1', '/data_centers', 'dataCenters');
    const upstream = controlled<{ v: number }>();
    const first = cache.fetch(key, { load: upstream.load, deadline: 1000 });
    const { deadline } = upstream.pending[0]!.context;
    expect(deadline.at).toBe(1000);
    const heard: number[] = [];
    deadline.onLater((at) => heard.push(at));

    const later = cache.fetch(key, { load: upstream.load, deadline: 5000 });
    const earlier = cache.fetch(key, { load: upstream.load, deadline: 2000 });
    const without = cache.fetch(key, { load: upstream.load });
    expect(upstream.pending).toHaveLength(1);
    expect(heard).toEqual([5000]);
    expect(deadline.at).toBe(5000);

    upstream.pending[0]!.resolve(resultOf({ v: 1 }));
    for (const read of await Promise.all([first, later, earlier, without])) expect(read.value).toEqual({ v: 1 });
  });

  it('does not share a load between tokens asking for the same url', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const upstream = controlled<{ token: string }>();
    const a = cache.fetch(keyOf('a', '/organizations'), { load: upstream.load });
    const b = cache.fetch(keyOf('b', '/organizations'), { load: upstream.load });
    expect(upstream.pending).toHaveLength(2);
    upstream.pending[0]?.resolve(resultOf({ token: 'a' }));
    upstream.pending[1]?.resolve(resultOf({ token: 'b' }));
    expect(await a).toMatchObject({ status: 'miss', value: { token: 'a' } });
    expect(await b).toMatchObject({ status: 'miss', value: { token: 'b' } });
  });
});

describe('a purge while a load is on its way', () => {
  it('lets no read after the purge join that load: it may carry what the purge is about', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    const before = controlled<{ v: string }>();
    const first = cache.fetch(key, { load: before.load });
    cache.purgeToken('t1');
    const after = cache.fetch(key, { load: answering({ v: 'after the purge' }) });
    before.pending[0]!.resolve(resultOf({ v: 'before the purge' }));
    expect((await first).value).toEqual({ v: 'before the purge' });
    expect(await after).toMatchObject({ status: 'miss', value: { v: 'after the purge' } });
    // And the load from before is not kept.
    expect(cache.peek(key)).toMatchObject({ value: { v: 'after the purge' } });
    expect(cache.stats().inFlight).toBe(0);
  });
});

describe('cancellation', () => {
  it('rejects each leaving waiter at once and aborts the load only when the last one leaves', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    const upstream = controlled<{ v: number }>();
    const callers = [new AbortController(), new AbortController(), new AbortController()];
    const reads = callers.map((caller) => cache.fetch(key, { load: upstream.load, signal: caller.signal }));
    const loadSignal = upstream.pending[0]!.context.signal;

    callers[0]!.abort();
    await expect(reads[0]).rejects.toBeInstanceOf(UpstreamCancelledError);
    callers[1]!.abort();
    await expect(reads[1]).rejects.toBeInstanceOf(UpstreamCancelledError);
    expect(loadSignal.aborted).toBe(false);

    callers[2]!.abort();
    await expect(reads[2]).rejects.toBeInstanceOf(UpstreamCancelledError);
    expect(loadSignal.aborted).toBe(true);
    expect(cache.stats().inFlight).toBe(0);

    // An abandoned load is never joined: the next caller starts afresh.
    const next = cache.fetch(key, { load: upstream.load });
    expect(upstream.pending).toHaveLength(2);
    upstream.pending[1]?.resolve(resultOf({ v: 2 }));
    expect(await next).toMatchObject({ status: 'miss', value: { v: 2 } });
  });

  it('lets the remaining waiters get the answer after others have left', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    const upstream = controlled<{ v: number }>();
    const leaving = new AbortController();
    const gone = cache.fetch(key, { load: upstream.load, signal: leaving.signal });
    const staying = cache.fetch(key, { load: upstream.load });
    leaving.abort();
    await expect(gone).rejects.toBeInstanceOf(UpstreamCancelledError);
    expect(upstream.pending[0]?.context.signal.aborted).toBe(false);
    upstream.pending[0]?.resolve(resultOf({ v: 1 }));
    expect(await staying).toMatchObject({ status: 'coalesced', value: { v: 1 } });
    expect(cache.peek(key)?.value).toEqual({ v: 1 });
  });

  it('does not start a load for a caller that has already gone', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const upstream = controlled<{ v: number }>();
    await expect(cache.fetch(keyOf('t1', '/a'), { load: upstream.load, signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      UpstreamCancelledError,
    );
    expect(upstream.pending).toHaveLength(0);
  });

  it('never aborts a background refresh, even when a waiter that joined it leaves', async () => {
    const { cache, key, upstream } = await staleEntryBeingRefreshed();
    const leaving = new AbortController();
    const bypass = cache.fetch(key, { load: upstream.load, noCache: true, signal: leaving.signal });
    leaving.abort();
    await expect(bypass).rejects.toBeInstanceOf(UpstreamCancelledError);
    expect(upstream.pending).toHaveLength(2);
    expect(upstream.pending[1]?.context.signal.aborted).toBe(false);
  });
});

describe('a background refresh that a waiting caller joins', () => {
  it('tells its loader, once, that it is now a foreground read', async () => {
    const { cache, key, upstream } = await staleEntryBeingRefreshed();
    const refresh = upstream.pending[1]!.context;
    expect(refresh.background).toBe(true);
    let told = 0;
    refresh.onForeground(() => told++);
    const joined = cache.fetch(key, { load: upstream.load, noCache: true });
    const again = cache.fetch(key, { load: upstream.load, noCache: true });
    expect(told).toBe(1);
    upstream.pending[1]!.resolve(resultOf({ v: 2 }));
    expect((await joined).value).toEqual({ v: 2 });
    expect((await again).value).toEqual({ v: 2 });
    expect(upstream.pending).toHaveLength(2);
  });
});

describe('isolation between tokens', () => {
  it.each([1, 2, 3, 42, 1337])('never serves one token the body of another (seed %i)', async (seed) => {
    const random = createRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const clock = createFakeClock();
    const statuses = new Set<CacheStatus>();
    const evictions = new Set<string>();
    const cache = createRestCache(
      strictOptions(clock, {
        maxBytes: 40_000,
        perTokenMaxBytes: 8_000,
        staleWhileRevalidateMs: 10_000,
        staleIfErrorMs: 30_000,
        hooks: { onRead: (status) => statuses.add(status), onEvict: (_bytes, reason) => evictions.add(reason) },
      }),
    );
    const tokens = Array.from({ length: 12 }, (_, i) => `token-${i}`);
    // The same urls for every token, so identical urls across tokens are the common case.
    const urls = Array.from({ length: 10 }, (_, i) => `/virtual_machines?page=${i % 4}&per_page=${10 + (i % 3)}`);
    const bodyFor = (tokenKey: string, url: string) => ({ owner: tokenKey, url, filler: 'x'.repeat(200 + url.length) });
    let loads = 0;

    const reads: Promise<void>[] = [];
    for (let step = 0; step < 600; step++) {
      const tokenKey = pick(tokens);
      const url = pick(urls);
      const key = keyOf(tokenKey, url, 'vmList');
      const roll = random();
      if (roll < 0.1) {
        const fresh = cache.peek<ReturnType<typeof bodyFor>>(key);
        if (fresh) expect(fresh.value).toEqual(bodyFor(tokenKey, url));
      } else if (roll < 0.12) {
        cache.purgeToken(tokenKey);
      } else if (roll < 0.3) {
        await clock.advance(Math.floor(random() * 4_000));
      } else {
        const caller = random() < 0.1 ? new AbortController() : undefined;
        const delay = Math.floor(random() * 500);
        const fail = random() < 0.1;
        const read = cache
          .fetch<ReturnType<typeof bodyFor>>(key, {
            noCache: random() < 0.1,
            signal: caller?.signal,
            load: () => {
              loads++;
              return new Promise((resolve, reject) => {
                const answer = () => (fail ? reject(new UpstreamNetworkError('ECONNRESET')) : resolve(resultOf(bodyFor(tokenKey, url))));
                clock.setTimeout(answer, delay);
              });
            },
          })
          .then(
            (result) => expect(result.value).toEqual(bodyFor(tokenKey, url)),
            (error: unknown) => expect(error instanceof UpstreamCancelledError || error instanceof UpstreamNetworkError).toBe(true),
          );
        reads.push(read);
        if (caller && random() < 0.5) caller.abort();
      }
    }
    await clock.advance(1_000);
    await Promise.all(reads);

    expect(loads).toBeGreaterThan(0);
    expect(statuses).toContain('hit');
    expect(statuses).toContain('coalesced');
    expect(statuses).toContain('stale');
    expect(statuses).toContain('stale-if-error');
    expect(cache.stats().inFlight).toBe(0);
    expect(cache.stats().bytes).toBeLessThanOrEqual(40_000);
    expect(evictions).toContain('size');
    // Per-token bookkeeping follows every eviction, so clearing leaves no token behind.
    cache.clear();
    expect(cache.stats()).toEqual({ entries: 0, bytes: 0, parsedBytes: 0, tokens: 0, inFlight: 0 });
  });
});
