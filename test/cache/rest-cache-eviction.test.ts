import { describe, expect, it, vi } from 'vitest';
import { createRestCache, DEFAULT_TTL_MS } from '../../src/cache/index.js';
import { ENTRY_OVERHEAD_BYTES } from '../../src/cache/rest-cache.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { UpstreamApiError } from '../../src/upstream/errors.js';
import { answering, keyOf, strictOptions } from './fixtures.js';

const BODY_BYTES = 1_000;
const CHARGE = BODY_BYTES + ENTRY_OVERHEAD_BYTES;
const body = (name: string) => answering({ name }, BODY_BYTES);

describe('eviction by bytes', () => {
  it('evicts the least recently used entry once maxBytes is reached', async () => {
    const clock = createFakeClock();
    const onEvict = vi.fn();
    const onSize = vi.fn();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 4 * CHARGE, hooks: { onEvict, onSize } }));
    for (const name of ['a', 'b', 'c', 'd']) await cache.fetch(keyOf(name, '/x'), { load: body(name) });
    expect(cache.stats()).toMatchObject({ entries: 4, bytes: 4 * CHARGE });

    expect(cache.peek(keyOf('a', '/x'))).toBeDefined();
    await cache.fetch(keyOf('e', '/x'), { load: body('e') });

    expect(cache.peek(keyOf('b', '/x'))).toBeUndefined();
    for (const name of ['a', 'c', 'd', 'e']) expect(cache.peek(keyOf(name, '/x'))?.value).toEqual({ name });
    expect(onEvict).toHaveBeenCalledExactlyOnceWith(CHARGE, 'size');
    expect(cache.stats()).toMatchObject({ entries: 4, bytes: 4 * CHARGE, tokens: 4 });
    expect(onSize).toHaveBeenLastCalledWith(4 * CHARGE, 4);
  });

  it('returns an answer larger than a token share without storing it', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 10 * CHARGE, perTokenMaxBytes: 2 * CHARGE }));
    const key = keyOf('t1', '/virtual_machines');
    const huge = answering({ huge: true }, 3 * CHARGE);
    expect(await cache.fetch(key, { load: huge })).toMatchObject({ status: 'miss', value: { huge: true }, bytes: 3 * CHARGE });
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0, tokens: 0 });
    await cache.fetch(key, { load: huge });
    expect(huge).toHaveBeenCalledTimes(2);
  });

  it('says whose fresh entry went early, evicted or replaced, and nothing for a stale entry evicted, expired or refreshed', async () => {
    const clock = createFakeClock();
    const onFreshEntryGone = vi.fn();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 4 * CHARGE, perTokenMaxBytes: 2 * CHARGE, staleWhileRevalidateMs: 60_000, hooks: { onFreshEntryGone } }));
    for (const name of ['a', 'b', 'c', 'd']) await cache.fetch(keyOf(name, '/x'), { load: body(name) });
    expect(onFreshEntryGone).not.toHaveBeenCalled();
    // Evicted for room while fresh: what was built from it must not outlive it.
    await cache.fetch(keyOf('e', '/x'), { load: body('e') });
    expect(onFreshEntryGone.mock.calls).toEqual([['a']]);
    await cache.fetch(keyOf('e', '/y'), { load: body('e') });
    expect(onFreshEntryGone.mock.calls).toEqual([['a'], ['b']]);
    // Out of its token's own share while fresh.
    await cache.fetch(keyOf('e', '/z'), { load: body('e') });
    expect(onFreshEntryGone.mock.calls).toEqual([['a'], ['b'], ['e']]);
    expect(cache.peek(keyOf('e', '/x'))).toBeUndefined();
    // A refresh the client asked for, while the entry is fresh.
    onFreshEntryGone.mockClear();
    await cache.fetch(keyOf('e', '/z'), { load: body('e2'), noCache: true });
    expect(onFreshEntryGone.mock.calls).toEqual([['e']]);
    // A newer answer too large to keep still supersedes the fresh one.
    await cache.fetch(keyOf('e', '/z'), { load: answering({ huge: true }, 3 * CHARGE), noCache: true });
    expect(onFreshEntryGone.mock.calls).toEqual([['e'], ['e']]);
    expect(cache.peek(keyOf('e', '/z'))).toBeUndefined();
    // Past its freshness, in the stale window: served stale, refreshed in the background.
    await clock.advance(DEFAULT_TTL_MS.vm + 1);
    onFreshEntryGone.mockClear();
    const refresh = body('e3');
    expect((await cache.fetch(keyOf('e', '/y'), { load: refresh })).status).toBe('stale');
    await vi.waitFor(() => expect(refresh).toHaveBeenCalled());
    // A refresh, not the token's check: background work the queue may hold back for foreground calls.
    expect(refresh.mock.calls[0]![0]).toMatchObject({ background: true, tokenCheck: false });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(cache.peek(keyOf('e', '/y'))?.value).toEqual({ name: 'e3' });
    // Stale entries evicted for room (c, d), and stale ones expiring: nothing built from them is still fresh.
    for (const name of ['f', 'g', 'h']) await cache.fetch(keyOf(name, '/x'), { load: body(name) });
    expect(cache.peek(keyOf('c', '/x'))).toBeUndefined();
    await clock.advance(DEFAULT_TTL_MS.vm + 60_001);
    expect(cache.peek(keyOf('f', '/x'))).toBeUndefined();
    expect(onFreshEntryGone).not.toHaveBeenCalled();
  });

  it('drops the kept copy when Katapult refuses the resource on a refresh, and tells whose fresh entry it was', async () => {
    const clock = createFakeClock();
    const onFreshEntryGone = vi.fn();
    const cache = createRestCache(strictOptions(clock, { staleWhileRevalidateMs: 60_000, staleIfErrorMs: 300_000, hooks: { onFreshEntryGone } }));
    const refused = () => Promise.reject(new UpstreamApiError(403, 'scope_not_granted', 'no', {}));
    // A refresh the client asked for, refused while the entry is fresh.
    await cache.fetch(keyOf('t1', '/x'), { load: body('x') });
    await expect(cache.fetch(keyOf('t1', '/x'), { load: refused, noCache: true })).rejects.toThrow(UpstreamApiError);
    expect(cache.peek(keyOf('t1', '/x'))).toBeUndefined();
    expect(onFreshEntryGone.mock.calls).toEqual([['t1']]);
    // A background refresh of a stale entry, refused: not served stale again.
    await cache.fetch(keyOf('t1', '/y'), { load: body('y') });
    await clock.advance(DEFAULT_TTL_MS.vm + 1);
    expect((await cache.fetch(keyOf('t1', '/y'), { load: refused })).status).toBe('stale');
    await new Promise((resolve) => setTimeout(resolve, 0));
    await expect(cache.fetch(keyOf('t1', '/y'), { load: refused })).rejects.toThrow(UpstreamApiError);
    // Katapult failing (a 503) says nothing about the data: the copy stays, to be served stale.
    await cache.fetch(keyOf('t1', '/z'), { load: body('z') });
    await clock.advance(DEFAULT_TTL_MS.vm + 61_000);
    const down = () => Promise.reject(new UpstreamApiError(503, 'service_unavailable', 'down', {}));
    expect((await cache.fetch(keyOf('t1', '/z'), { load: down })).status).toBe('stale-if-error');
    expect(onFreshEntryGone).toHaveBeenCalledTimes(1);
  });

  it('gives an answer it could not keep no freshness beyond its own request', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 10 * CHARGE, perTokenMaxBytes: 2 * CHARGE }));
    const kept = await cache.fetch(keyOf('t1', '/small'), { load: body('small') });
    expect(kept.freshUntil).toBeGreaterThan(clock.now());
    const notKept = await cache.fetch(keyOf('t1', '/huge'), { load: answering({ huge: true }, 3 * CHARGE) });
    expect(notKept.freshUntil).toBe(clock.now());
  });

  it('reports expired entries when it drops them', async () => {
    const clock = createFakeClock();
    const onEvict = vi.fn();
    const cache = createRestCache(strictOptions(clock, { staleIfErrorMs: 1_000, hooks: { onEvict } }));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    await cache.fetch(key, { load: body('v1') });
    await clock.advance(60_000);
    expect(cache.peek(key)).toBeUndefined();
    expect(onEvict).toHaveBeenCalledExactlyOnceWith(CHARGE, 'expired');
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0, tokens: 0 });
  });

  it('clears everything, bookkeeping included', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    await cache.fetch(keyOf('t1', '/a'), { load: body('a') });
    await cache.fetch(keyOf('t2', '/a'), { load: body('a') });
    cache.clear();
    expect(cache.stats()).toEqual({ entries: 0, bytes: 0, parsedBytes: 0, tokens: 0, inFlight: 0 });
  });
});

describe('per-token share', () => {
  it("makes a heavy token evict its own entries, never a light token's", async () => {
    const clock = createFakeClock();
    const onEvict = vi.fn();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 10 * CHARGE, perTokenMaxBytes: 3 * CHARGE, hooks: { onEvict } }));
    // The light token's entries are the oldest in the store: a plain LRU would drop them first.
    await cache.fetch(keyOf('light', '/organizations'), { load: body('light-orgs') });
    await cache.fetch(keyOf('light', '/virtual_machines'), { load: body('light-vms') });

    for (let page = 1; page <= 20; page++) {
      await cache.fetch(keyOf('heavy', `/virtual_machines?page=${page}`), { load: body(`heavy-${page}`) });
    }

    expect(cache.peek(keyOf('light', '/organizations'))?.value).toEqual({ name: 'light-orgs' });
    expect(cache.peek(keyOf('light', '/virtual_machines'))?.value).toEqual({ name: 'light-vms' });
    for (let page = 1; page <= 17; page++) expect(cache.peek(keyOf('heavy', `/virtual_machines?page=${page}`))).toBeUndefined();
    for (let page = 18; page <= 20; page++) {
      expect(cache.peek(keyOf('heavy', `/virtual_machines?page=${page}`))?.value).toEqual({ name: `heavy-${page}` });
    }
    expect(cache.stats()).toMatchObject({ entries: 5, bytes: 5 * CHARGE, tokens: 2 });
    expect(onEvict).toHaveBeenCalledTimes(17);
    expect(onEvict.mock.calls.every(([bytes, reason]) => bytes === CHARGE && reason === 'token-share')).toBe(true);
  });

  it("evicts the token's least recently used entry, not its oldest", async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 10 * CHARGE, perTokenMaxBytes: 2 * CHARGE }));
    await cache.fetch(keyOf('t1', '/a'), { load: body('a') });
    await cache.fetch(keyOf('t1', '/b'), { load: body('b') });
    expect(cache.peek(keyOf('t1', '/a'))).toBeDefined();
    await cache.fetch(keyOf('t1', '/c'), { load: body('c') });
    expect(cache.peek(keyOf('t1', '/a'))).toBeDefined();
    expect(cache.peek(keyOf('t1', '/b'))).toBeUndefined();
    expect(cache.peek(keyOf('t1', '/c'))).toBeDefined();
  });

  it('replaces an entry in place without evicting its siblings', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 10 * CHARGE, perTokenMaxBytes: 2 * CHARGE }));
    await cache.fetch(keyOf('t1', '/a'), { load: body('a1') });
    await cache.fetch(keyOf('t1', '/b'), { load: body('b1') });
    await cache.fetch(keyOf('t1', '/a'), { load: body('a2'), noCache: true });
    expect(cache.peek(keyOf('t1', '/a'))?.value).toEqual({ name: 'a2' });
    expect(cache.peek(keyOf('t1', '/b'))?.value).toEqual({ name: 'b1' });
    expect(cache.stats()).toMatchObject({ entries: 2, bytes: 2 * CHARGE });
  });
});

describe('options', () => {
  it('rejects bad options at construction, quoting each one', () => {
    const clock = createFakeClock();
    expect(() => createRestCache(strictOptions(clock, { maxBytes: 2 * 1024 * 1024, perTokenMaxBytes: 4 * 1024 * 1024, staleIfErrorMs: -1 }))).toThrow(
      /perTokenMaxBytes: expected at most maxBytes \(2097152\), got 4194304[\s\S]*staleIfErrorMs: .* got -1/,
    );
  });
});

describe('observers', () => {
  it('stays consistent when a hook throws', async () => {
    const clock = createFakeClock();
    const explode = () => {
      throw new Error('metrics are broken');
    };
    const cache = createRestCache(
      strictOptions(clock, {
        maxBytes: 2 * CHARGE,
        hooks: { onEvict: explode, onSize: explode, onRead: explode, onPurgeToken: explode },
      }),
    );
    for (const name of ['a', 'b', 'c']) await cache.fetch(keyOf(name, '/x'), { load: body(name) });
    expect(cache.stats()).toMatchObject({ entries: 2, bytes: 2 * CHARGE, tokens: 2 });
    expect(cache.peek(keyOf('c', '/x'))?.value).toEqual({ name: 'c' });
    cache.purgeToken('c');
    expect(cache.stats()).toMatchObject({ entries: 1, tokens: 1 });
  });
});
