import { describe, expect, it, vi } from 'vitest';
import { createRestCache, type CacheStatus } from '../../src/cache/index.js';
import { ENTRY_OVERHEAD_BYTES } from '../../src/cache/rest-cache.js';
import { keptCopyBytes, UpstreamApiError } from '../../src/upstream/errors.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { answering, controlled, failing, keyOf, replayOf, resultOf, strictOptions } from './fixtures.js';

describe('remembered not-found answers', () => {
  it('replays a *_not_found answer without loading until notFoundTtlMs has passed', async () => {
    const clock = createFakeClock();
    const statuses: CacheStatus[] = [];
    const cache = createRestCache(strictOptions(clock, { notFoundTtlMs: 5_000, hooks: { onRead: (status) => statuses.push(status) } }));
    const key = keyOf('t1', '/virtual_machines/vm_gone');
    const notFound = new UpstreamApiError(404, 'virtual_machine_not_found', 'No VM', {});
    const load = failing(notFound);

    await expect(cache.fetch(key, { load })).rejects.toBe(notFound);
    await clock.advance(4_999);
    await expect(cache.fetch(key, { load })).rejects.toSatisfy(replayOf(notFound));
    expect(load).toHaveBeenCalledTimes(1);
    expect(cache.peek(key)).toBeUndefined();
    expect(statuses).toEqual(['miss', 'negative']);

    await clock.advance(1);
    expect(await cache.fetch(key, { load: answering({ v: 1 }) })).toMatchObject({ status: 'miss', value: { v: 1 } });
  });

  it('does not remember route_not_found, which means a misconfigured base URL', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    const load = failing(new UpstreamApiError(404, 'route_not_found', '', {}));
    await expect(cache.fetch(key, { load })).rejects.toThrow();
    await expect(cache.fetch(key, { load })).rejects.toThrow();
    expect(load).toHaveBeenCalledTimes(2);
    expect(cache.stats().entries).toBe(0);
  });

  it('does not remember other errors', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const key = keyOf('t1', '/virtual_machines/vm_1');
    const load = failing(new UpstreamApiError(403, 'permission_denied', '', {}));
    await expect(cache.fetch(key, { load })).rejects.toThrow();
    await expect(cache.fetch(key, { load })).rejects.toThrow();
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('lets a no-cache read look again before the not-found answer expires', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const key = keyOf('t1', '/virtual_machines/vm_new');
    await expect(cache.fetch(key, { load: failing(new UpstreamApiError(404, 'virtual_machine_not_found', '', {})) })).rejects.toThrow();
    expect(await cache.fetch(key, { load: answering({ v: 1 }), noCache: true })).toMatchObject({ status: 'miss', value: { v: 1 } });
    expect(await cache.fetch(key, { load: answering({ v: 2 }) })).toMatchObject({ status: 'hit', value: { v: 1 } });
  });

  it('charges a remembered not-found for what it keeps: the answer, without the original error\'s stack trace', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    await cache.fetch(keyOf('t1', '/a'), { load: answering({ body: 'x'.repeat(10_000) }) });
    const before = cache.stats().bytes;
    const notFound = new UpstreamApiError(404, 'virtual_machine_not_found', 'No virtual machine was found matching any of the criteria provided in the arguments', { id: 'vm_gone' });
    await expect(cache.fetch(keyOf('t1', '/b'), { load: failing(notFound) })).rejects.toThrow();
    expect(cache.stats().entries).toBe(2);
    expect(cache.stats().bytes - before).toBe(ENTRY_OVERHEAD_BYTES + keptCopyBytes(notFound));
    // Measured at about 0.95 KB a kept answer, with its description, against several KB with a stack.
    expect(keptCopyBytes(notFound)).toBeGreaterThan(1_024);
    await expect(cache.fetch(keyOf('t1', '/b'), { load: failing(notFound) })).rejects.toSatisfy(replayOf(notFound));
  });
});

describe('invalid tokens', () => {
  it('purges every entry of the token, keeps other tokens, and refuses the token without loading for invalidTokenTtlMs', async () => {
    const clock = createFakeClock();
    const onPurgeToken = vi.fn();
    const statuses: CacheStatus[] = [];
    const cache = createRestCache(
      strictOptions(clock, { invalidTokenTtlMs: 30_000, hooks: { onPurgeToken, onRead: (status) => statuses.push(status) } }),
    );
    await cache.fetch(keyOf('revoked', '/organizations'), { load: answering({ o: 1 }) });
    await cache.fetch(keyOf('revoked', '/users/current', 'user'), { load: answering({ u: 1 }) });
    await cache.fetch(keyOf('other', '/organizations'), { load: answering({ o: 2 }) });
    expect(cache.stats()).toMatchObject({ entries: 3, tokens: 2 });

    const invalid = new UpstreamApiError(403, 'invalid_api_token', '', {});
    await expect(cache.fetch(keyOf('revoked', '/virtual_machines/vm_1'), { load: failing(invalid) })).rejects.toBe(invalid);
    expect(onPurgeToken).toHaveBeenCalledWith('revoked');
    expect(cache.stats()).toMatchObject({ entries: 1, tokens: 1 });
    expect(cache.peek(keyOf('revoked', '/organizations'))).toBeUndefined();
    expect(cache.peek(keyOf('other', '/organizations'))).toMatchObject({ value: { o: 2 } });

    statuses.length = 0;
    const load = answering({ o: 3 });
    await clock.advance(29_999);
    await expect(cache.fetch(keyOf('revoked', '/anything-else'), { load })).rejects.toSatisfy(replayOf(invalid));
    await expect(cache.fetch(keyOf('revoked', '/organizations'), { load, noCache: true })).rejects.toSatisfy(replayOf(invalid));
    expect(load).not.toHaveBeenCalled();
    expect(statuses).toEqual(['negative', 'negative']);

    await clock.advance(1);
    expect(await cache.fetch(keyOf('revoked', '/organizations'), { load })).toMatchObject({ status: 'miss', value: { o: 3 } });
  });

  it('purges a token on every refusal of the token itself, not on a refusal of one resource', async () => {
    for (const [code, purges] of [
      ['invalid_api_token', true],
      ['invalid_capabilities_token', true],
      ['unauthorized_network_for_api_token', true],
      ['missing_api_token', true],
      ['scope_not_granted', false],
      ['organization_suspended', false],
    ] as const) {
      const clock = createFakeClock();
      const onPurgeToken = vi.fn();
      const cache = createRestCache(strictOptions(clock, { hooks: { onPurgeToken } }));
      await cache.fetch(keyOf('t1', '/data_centers'), { load: answering({ d: 1 }) });
      const refusal = new UpstreamApiError(code === 'missing_api_token' ? 400 : 403, code, '', {});
      await expect(cache.fetch(keyOf('t1', '/organizations/organization'), { load: failing(refusal) }), code).rejects.toBe(refusal);
      expect(onPurgeToken.mock.calls.length > 0, code).toBe(purges);
      expect(cache.peek(keyOf('t1', '/data_centers')) === undefined, code).toBe(purges);
    }
  });

  it('does not put back an answer that was in flight when the token was found invalid', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    const slow = controlled<{ o: number }>();
    const pending = cache.fetch(keyOf('revoked', '/organizations'), { load: slow.load });
    await expect(
      cache.fetch(keyOf('revoked', '/users/current'), { load: failing(new UpstreamApiError(403, 'invalid_api_token', '', {})) }),
    ).rejects.toThrow();
    slow.pending[0]?.resolve(resultOf({ o: 1 }));
    expect((await pending).value).toEqual({ o: 1 });
    expect(cache.stats().entries).toBe(0);
  });

  it('drops a token on purgeToken and reports it', async () => {
    const clock = createFakeClock();
    const onPurgeToken = vi.fn();
    const onEvict = vi.fn();
    const cache = createRestCache(strictOptions(clock, { hooks: { onPurgeToken, onEvict } }));
    await cache.fetch(keyOf('t1', '/a'), { load: answering({ a: 1 }) });
    await cache.fetch(keyOf('t1', '/b'), { load: answering({ b: 1 }) });
    await cache.fetch(keyOf('t2', '/a'), { load: answering({ a: 2 }) });
    cache.purgeToken('t1');
    expect(onPurgeToken).toHaveBeenCalledWith('t1');
    expect(onEvict).toHaveBeenCalledTimes(2);
    expect(onEvict.mock.calls.every(([, reason]) => reason === 'purge')).toBe(true);
    expect(cache.stats()).toMatchObject({ entries: 1, tokens: 1 });
    expect(cache.peek(keyOf('t2', '/a'))?.value).toEqual({ a: 2 });
  });
});
