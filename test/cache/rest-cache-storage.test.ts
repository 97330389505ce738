import { describe, expect, it, vi } from 'vitest';
import { createRestCache, DEFAULT_TTL_MS } from '../../src/cache/index.js';
import { ENTRY_OVERHEAD_BYTES, KEY_BYTES_IN_OVERHEAD, PARSED_BODY_HEAP_FACTOR } from '../../src/cache/rest-cache.js';
import type { LoadContext } from '../../src/cache/index.js';
import type { UpstreamResult } from '../../src/upstream/http.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { keyOf, strictOptions } from './fixtures.js';
import { keptCopyBytes, NO_RATE_LIMIT_INFO, UpstreamApiError } from '../../src/upstream/errors.js';

/** A load answering like the HTTP client does: the parsed body plus the exact bytes it came from. */
function answeringBytes(body: unknown) {
  const raw = Buffer.from(JSON.stringify(body));
  return vi.fn(
    (_context: LoadContext): Promise<UpstreamResult<unknown>> =>
      Promise.resolve({ status: 200, body, bytes: raw.length, raw, rateLimit: NO_RATE_LIMIT_INFO, upstreamRequestId: null }),
  );
}

const page = (name: string, size = 40) => ({ virtual_machines: Array.from({ length: size }, (_, i) => ({ id: `vm_${name}_${i}`, name: `${name} ${i}` })) });

describe('bodies kept as bytes, with a bounded tier of parsed copies', () => {
  it('charges the kept bytes exactly and the parsed copy at its heap estimate', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 1_000_000, parsedMaxBytes: 1_000_000 }));
    const body = page('a');
    const bytes = Buffer.byteLength(JSON.stringify(body));
    const read = await cache.fetch(keyOf('t1', '/x'), { load: answeringBytes(body) });
    expect(read).toMatchObject({ status: 'miss', bytes });
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: bytes + ENTRY_OVERHEAD_BYTES, parsedBytes: bytes * PARSED_BODY_HEAP_FACTOR });
    // The warm read hands back the very object the load parsed: no second parse.
    expect(cache.peek(keyOf('t1', '/x'))!.value).toBe(read.value);
  });

  it('charges a key longer than the overhead covers (a URL of long annotation filters) for its excess, as a value and as a remembered not-found', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 1_000_000, parsedMaxBytes: 1_000_000 }));
    const body = page('a');
    const bytes = Buffer.byteLength(JSON.stringify(body));
    const url = `/x?${'annotations%5B%5D%5Bkey%5D=' + 'k'.repeat(1900)}`;
    const key = keyOf('t1', url);
    const excess = `${key.tokenKey}\n${key.url}`.length - KEY_BYTES_IN_OVERHEAD;
    expect(excess).toBeGreaterThan(1700);
    await cache.fetch(key, { load: answeringBytes(body) });
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: bytes + ENTRY_OVERHEAD_BYTES + excess, parsedBytes: bytes * PARSED_BODY_HEAP_FACTOR + excess });
    const missing = keyOf('t1', `${url}&missing=1`);
    const notFound = new UpstreamApiError(404, 'virtual_machine_not_found', 'none', {});
    await expect(cache.fetch(missing, { load: () => Promise.reject(notFound) })).rejects.toThrow();
    expect(cache.stats()).toMatchObject({ entries: 2, bytes: bytes + 2 * ENTRY_OVERHEAD_BYTES + keptCopyBytes(notFound) + excess + (excess + '&missing=1'.length) });
  });

  it('parses the kept bytes again once the parsed copy has been pushed out, and keeps the new copy', async () => {
    const clock = createFakeClock();
    const one = Buffer.byteLength(JSON.stringify(page('a')));
    // Room for one parsed copy only: reading b pushes a's copy out.
    const cache = createRestCache(strictOptions(clock, { maxBytes: 1_000_000, parsedMaxBytes: Math.ceil(one * PARSED_BODY_HEAP_FACTOR * 1.5) }));
    const first = await cache.fetch(keyOf('t1', '/a'), { load: answeringBytes(page('a')) });
    await cache.fetch(keyOf('t1', '/b'), { load: answeringBytes(page('b')) });
    expect(cache.stats().entries).toBe(2);
    const again = cache.peek(keyOf('t1', '/a'))!;
    expect(again.value).not.toBe(first.value);
    expect(again.value).toEqual(page('a'));
    expect(cache.peek(keyOf('t1', '/a'))!.value).toBe(again.value);
  });

  it('drops the parsed copy with its entry: purge, replacement and clear', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 1_000_000, parsedMaxBytes: 1_000_000 }));
    await cache.fetch(keyOf('t1', '/a'), { load: answeringBytes(page('a')) });
    await cache.fetch(keyOf('t2', '/a'), { load: answeringBytes(page('other')) });
    cache.purgeToken(keyOf('t1', '/a').tokenKey);
    const left = Buffer.byteLength(JSON.stringify(page('other')));
    expect(cache.stats()).toMatchObject({ entries: 1, parsedBytes: left * PARSED_BODY_HEAP_FACTOR });
    // A refresh replaces the copy along with the bytes: the next read sees the new answer.
    await cache.fetch(keyOf('t2', '/a'), { load: answeringBytes(page('newer', 3)), noCache: true });
    expect(cache.peek(keyOf('t2', '/a'))!.value).toEqual(page('newer', 3));
    cache.clear();
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0, parsedBytes: 0 });
  });

  it('keeps two tokens apart in the parsed tier as strictly as in the store', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { maxBytes: 1_000_000, parsedMaxBytes: 1_000_000 }));
    await cache.fetch(keyOf('t1', '/x'), { load: answeringBytes(page('mine')) });
    const other = answeringBytes(page('theirs'));
    expect((await cache.fetch(keyOf('t2', '/x'), { load: other })).value).toEqual(page('theirs'));
    expect(other).toHaveBeenCalledOnce();
    expect(cache.peek(keyOf('t1', '/x'))!.value).toEqual(page('mine'));
  });

  it('never serves a parsed copy for a newer entry under the same key, even one put back after its entry went', async () => {
    const clock = createFakeClock();
    const bodySize = Buffer.byteLength(JSON.stringify(page('old')));
    // Room for the old copy but not the newer, larger body's: the newer entry has no copy of its own.
    const cache = createRestCache(strictOptions(clock, { maxBytes: 1_000_000, parsedMaxBytes: bodySize * PARSED_BODY_HEAP_FACTOR + 10, staleWhileRevalidateMs: 30_000, invalidTokenTtlMs: 0 }));
    const key = keyOf('t1', '/x');
    await cache.fetch(key, { load: answeringBytes(page('old')) });
    await clock.advance(DEFAULT_TTL_MS.vm + 1);
    // The background refresh learns, synchronously, that the token was revoked: the entry and
    // its copy go while the stale read is being answered.
    const revoked = vi.fn(() => {
      throw new UpstreamApiError(403, 'invalid_api_token', '', {});
    });
    expect((await cache.fetch(key, { load: revoked })).value).toEqual(page('old'));
    expect(revoked).toHaveBeenCalledOnce();
    await clock.advance(DEFAULT_TTL_MS.vm);
    expect((await cache.fetch(key, { load: answeringBytes(page('new', 80)) })).value).toEqual(page('new', 80));
    expect(cache.peek(key)!.value).toEqual(page('new', 80));
  });
});

