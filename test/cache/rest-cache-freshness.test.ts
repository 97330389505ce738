import { describe, expect, it, vi } from 'vitest';
import { createRestCache, DEFAULT_TTL_MS, type CacheStatus } from '../../src/cache/index.js';
import {
  CircuitOpenError,
  QueueFullError,
  RateLimitedError,
  UpstreamApiError,
  UpstreamCancelledError,
  UpstreamMalformedError,
  UpstreamNetworkError,
  UpstreamTimeoutError,
} from '../../src/upstream/errors.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { answering, controlled, failing, keyOf, resultOf, strictOptions } from './fixtures.js';

describe('freshness', () => {
  it('keeps each kind fresh for exactly its own TTL', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { ttlMs: { ...DEFAULT_TTL_MS, vm: 20_000, packages: 600_000 } }));
    const vm = keyOf('t1', '/virtual_machines/vm_1', 'vm');
    const packages = keyOf('t1', '/virtual_machine_packages', 'packages');
    const start = clock.now();

    const first = await cache.fetch(vm, { load: answering({ v: 1 }) });
    await cache.fetch(packages, { load: answering({ p: 1 }) });
    expect(first.freshUntil).toBe(start + 20_000);

    await clock.advance(19_999);
    expect((await cache.fetch(vm, { load: answering({ v: 2 }) })).status).toBe('hit');

    await clock.advance(1);
    const reloadVm = answering({ v: 2 });
    const refreshed = await cache.fetch(vm, { load: reloadVm });
    expect(refreshed).toMatchObject({ status: 'miss', value: { v: 2 } });
    expect(reloadVm).toHaveBeenCalledTimes(1);
    expect((await cache.fetch(packages, { load: answering({ p: 2 }) })).status).toBe('hit');

    await clock.advance(600_000 - 20_000);
    expect(await cache.fetch(packages, { load: answering({ p: 2 }) })).toMatchObject({ status: 'miss', value: { p: 2 } });
  });

  it('peeks only fresh entries and never loads', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { staleWhileRevalidateMs: 30_000, staleIfErrorMs: 300_000 }));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    expect(cache.peek(key)).toBeUndefined();
    await cache.fetch(key, { load: answering({ v: 1 }) });
    expect(cache.peek(key)).toMatchObject({ status: 'hit', value: { v: 1 } });
    await clock.advance(DEFAULT_TTL_MS.vm);
    expect(cache.peek(key)).toBeUndefined();
    expect(cache.stats().inFlight).toBe(0);
  });
});

describe('stale-while-revalidate', () => {
  it('serves stale to every reader, refreshes once in the background, then serves the refreshed entry as fresh', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { staleWhileRevalidateMs: 30_000 }));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    const stored = await cache.fetch(key, { load: answering({ v: 1 }) });
    await clock.advance(DEFAULT_TTL_MS.vm + 10_000);

    const refresh = controlled<{ v: number }>();
    const reads = await Promise.all(Array.from({ length: 10 }, () => cache.fetch(key, { load: refresh.load })));
    for (const read of reads) {
      expect(read).toMatchObject({ status: 'stale', value: { v: 1 }, freshUntil: stored.freshUntil });
    }
    expect(refresh.pending).toHaveLength(1);
    expect(refresh.pending[0]?.context.background).toBe(true);

    refresh.pending[0]?.resolve(resultOf({ v: 2 }));
    await clock.flush();
    const after = await cache.fetch(key, { load: refresh.load });
    expect(after).toMatchObject({ status: 'hit', value: { v: 2 }, freshUntil: clock.now() + DEFAULT_TTL_MS.vm });
    expect(refresh.pending).toHaveLength(1);
  });

  it('keeps the stale entry and reports the error when the background refresh fails', async () => {
    const clock = createFakeClock();
    const onRefreshError = vi.fn();
    const cache = createRestCache(strictOptions(clock, { staleWhileRevalidateMs: 30_000, hooks: { onRefreshError } }));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    await cache.fetch(key, { load: answering({ v: 1 }) });
    await clock.advance(DEFAULT_TTL_MS.vm);

    const error = new UpstreamApiError(503, 'service_unavailable', '', {});
    expect((await cache.fetch(key, { load: failing(error) })).status).toBe('stale');
    await clock.flush();
    expect(onRefreshError).toHaveBeenCalledWith(error, 'vm');
    expect(await cache.fetch(key, { load: failing(error) })).toMatchObject({ status: 'stale', value: { v: 1 } });
  });

  it('loads in the foreground once the revalidation window has passed', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { staleWhileRevalidateMs: 30_000 }));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    await cache.fetch(key, { load: answering({ v: 1 }) });
    await clock.advance(DEFAULT_TTL_MS.vm + 30_000);
    const load = answering({ v: 2 });
    expect(await cache.fetch(key, { load })).toMatchObject({ status: 'miss', value: { v: 2 } });
    expect(load.mock.calls[0]?.[0].background).toBe(false);
  });
});

describe('stale-if-error', () => {
  const servable: [string, unknown][] = [
    ['a 503', new UpstreamApiError(503, 'service_unavailable', '', {})],
    // A fault of Katapult's written in its own JSON: as much a failure as the same 500 as an HTML page.
    ['a 500 in Katapult\'s JSON', new UpstreamApiError(500, 'internal_server_error', 'Something went wrong', {})],
    ['a 429 rate_limit_reached', new UpstreamApiError(429, 'rate_limit_reached', '', {})],
    ['a timeout', new UpstreamTimeoutError(5000)],
    ['a connection reset', new UpstreamNetworkError('ECONNRESET')],
    ['a malformed body', new UpstreamMalformedError(200, 'body is not JSON')],
    ['the gateway rate limiting itself', new RateLimitedError(12, 'budget spent')],
    ['an open circuit', new CircuitOpenError(5)],
    ['a full queue', new QueueFullError('token', 1)],
  ];

  it.each(servable)('serves the entry just inside the window after %s, and throws just outside it', async (_name, error) => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { staleIfErrorMs: 300_000 }));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    const stored = await cache.fetch(key, { load: answering({ v: 1 }) });

    await clock.advance(DEFAULT_TTL_MS.vm + 300_000 - 1);
    const read = await cache.fetch(key, { load: failing(error) });
    expect(read).toEqual({ status: 'stale-if-error', value: { v: 1 }, freshUntil: stored.freshUntil, bytes: stored.bytes });

    await clock.advance(1);
    await expect(cache.fetch(key, { load: failing(error) })).rejects.toBe(error);
  });

  const propagated: [string, unknown][] = [
    ['a 403', new UpstreamApiError(403, 'permission_denied', '', {})],
    ['a 404', new UpstreamApiError(404, 'virtual_machine_not_found', '', {})],
    ['a 400', new UpstreamApiError(400, 'validation_error', '', {})],
    ['a cancellation', new UpstreamCancelledError()],
    ['a programming error', new TypeError('boom')],
  ];

  it.each(propagated)('does not hide %s behind the stale entry', async (_name, error) => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { staleIfErrorMs: 300_000 }));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    await cache.fetch(key, { load: answering({ v: 1 }) });
    await clock.advance(DEFAULT_TTL_MS.vm + 1);
    await expect(cache.fetch(key, { load: failing(error) })).rejects.toBe(error);
  });

  it('serves nothing stale when the window is 0', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { staleIfErrorMs: 0 }));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    await cache.fetch(key, { load: answering({ v: 1 }) });
    await clock.advance(DEFAULT_TTL_MS.vm);
    const error = new UpstreamTimeoutError(5000);
    await expect(cache.fetch(key, { load: failing(error) })).rejects.toBe(error);
  });
});

describe('no-cache', () => {
  it('bypasses a fresh entry, loads, and stores the new answer for later readers', async () => {
    const clock = createFakeClock();
    const statuses: CacheStatus[] = [];
    const cache = createRestCache(strictOptions(clock, { hooks: { onRead: (status) => statuses.push(status) } }));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    await cache.fetch(key, { load: answering({ v: 1 }) });

    const load = answering({ v: 2 });
    expect(await cache.fetch(key, { load, noCache: true })).toMatchObject({ status: 'miss', value: { v: 2 } });
    expect(load).toHaveBeenCalledTimes(1);
    expect(await cache.fetch(key, { load: answering({ v: 3 }) })).toMatchObject({ status: 'hit', value: { v: 2 } });
    expect(statuses).toEqual(['miss', 'miss', 'hit']);
  });

  it('joins a load already in flight for the same key', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    const upstream = controlled<{ v: number }>();
    const first = cache.fetch(key, { load: upstream.load });
    const bypassing = cache.fetch(key, { load: upstream.load, noCache: true });
    upstream.pending[0]?.resolve(resultOf({ v: 1 }));
    expect(await first).toMatchObject({ status: 'miss', value: { v: 1 } });
    expect(await bypassing).toMatchObject({ status: 'coalesced', value: { v: 1 } });
    expect(upstream.pending).toHaveLength(1);
  });

  it('still falls back to the kept entry when the upstream is down', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { staleIfErrorMs: 300_000 }));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    await cache.fetch(key, { load: answering({ v: 1 }) });
    const read = await cache.fetch(key, { load: failing(new UpstreamNetworkError('ECONNRESET')), noCache: true });
    expect(read).toMatchObject({ status: 'stale-if-error', value: { v: 1 } });
  });
});
