import { describe, expect, it, vi } from 'vitest';
import { createRestCache, type RestCacheHooks } from '../../src/cache/index.js';
import { checkLeadFor } from '../../src/cache/rest-cache.js';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { RateLimitedError, UpstreamApiError, UpstreamCancelledError } from '../../src/upstream/errors.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createTestGateway, errorCodes } from '../helpers/gateway.js';
import { cannedError } from '../schema/error-contract.js';
import { answering, controlled, failing, keyOf, replayOf, resultOf, strictOptions } from './fixtures.js';

/** A load answering with Katapult's bytes, as the HTTP client gives them. */
const answeringBytes = (body: unknown) => vi.fn(() => Promise.resolve({ ...resultOf(body), raw: Buffer.from(JSON.stringify(body)) }));

const CATALOGUE = (url: string) => keyOf('t1', url, 'zones');

/** When a token last accepted at 0 is checked in the background (tokenRecheckMs 60 s): half a period before it falls due. */
const CHECK_STARTS = 60_000 - checkLeadFor(60_000);

/** A cache whose token t1 holds one fresh entry and is due its check in the background (tokenRecheckMs 60 s). */
async function dueForACheck(hooks: RestCacheHooks = {}) {
  const clock = createFakeClock();
  const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000, hooks }));
  await cache.fetch(CATALOGUE('/data_centers'), { load: answering({ d: 1 }) });
  await clock.advance(CHECK_STARTS);
  return { clock, cache };
}

describe('a token answered from fresh entries', () => {
  it('is checked with Katapult a little before tokenRecheckMs has passed since it last accepted the token, by a background refresh', async () => {
    const clock = createFakeClock();
    const onFreshEntryGone = vi.fn();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000, hooks: { onFreshEntryGone } }));
    await cache.fetch(CATALOGUE('/data_centers'), { load: answeringBytes({ d: 1 }) });
    await cache.fetch(CATALOGUE('/zones'), { load: answeringBytes({ z: 1 }) });

    await clock.advance(CHECK_STARTS - 1);
    expect(cache.tokenCheckDue('t1')).toBe(false);
    expect(cache.peek(CATALOGUE('/zones'))?.value).toEqual({ z: 1 });

    await clock.advance(1);
    expect(cache.tokenCheckDue('t1')).toBe(true);
    // A check is due: the synchronous read declines, so the read goes through fetch, which starts it.
    expect(cache.peek(CATALOGUE('/zones'))).toBeUndefined();
    const check = answeringBytes({ z: 1 });
    expect(await cache.fetch(CATALOGUE('/zones'), { load: check })).toMatchObject({ status: 'hit', value: { z: 1 } });
    expect(check).toHaveBeenCalledTimes(1);
    // In the background, and marked as the token's check: the queue does not hold it back for foreground work.
    expect((check.mock.calls[0] as unknown as [{ background: boolean; tokenCheck?: boolean }])[0]).toMatchObject({ background: true, tokenCheck: true });
    // One check at a time: the token's other reads are served without starting more.
    expect(cache.tokenCheckDue('t1')).toBe(false);
    const other = answering({ d: 2 });
    expect(await cache.fetch(CATALOGUE('/data_centers'), { load: other })).toMatchObject({ status: 'hit', value: { d: 1 } });
    expect(other).not.toHaveBeenCalled();
    await clock.flush();
    // The same bytes came back: nothing built from the entry is out of date.
    expect(onFreshEntryGone).not.toHaveBeenCalled();

    // Counted again from the check's answer.
    await clock.advance(CHECK_STARTS - 1);
    expect(cache.tokenCheckDue('t1')).toBe(false);
    await clock.advance(1);
    expect(cache.tokenCheckDue('t1')).toBe(true);
  });

  it('counts its period from when the call Katapult accepted it on was sent, not from when the answer came', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000 }));
    // Sent now, answered 5 s later: Katapult accepted the token at some moment in between.
    const sentAt = clock.now();
    const slow = vi.fn(() => new Promise<ReturnType<typeof resultOf>>((resolve) => clock.setTimeout(() => resolve({ ...resultOf({ d: 1 }), sentAt }), 5_000)));
    const read = cache.fetch(CATALOGUE('/data_centers'), { load: slow });
    await clock.advance(5_000);
    await read;
    expect(cache.tokenCheckAt('t1')).toBe(sentAt + 60_000);
    // An answer to a call sent earlier still, coming after, moves nothing back.
    await cache.fetch(CATALOGUE('/zones'), { load: vi.fn(() => Promise.resolve({ ...resultOf({ z: 1 }), sentAt: sentAt - 1_000 })) });
    expect(cache.tokenCheckAt('t1')).toBe(sentAt + 60_000);
    // A load that does not say when it was sent counts from its answer.
    await cache.fetch(CATALOGUE('/countries'), { load: answering({ c: 1 }) });
    expect(cache.tokenCheckAt('t1')).toBe(sentAt + 65_000);
  });

  it('counts its period from when the call a remembered not-found answered was sent, as for a value', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000, notFoundTtlMs: 600_000 }));
    const sentAt = clock.now();
    const notFound = Object.assign(new UpstreamApiError(404, 'virtual_machine_not_found', '', {}), { sentAt });
    const slow = vi.fn(() => new Promise<never>((_resolve, reject) => clock.setTimeout(() => reject(notFound), 5_000)));
    const read = expect(cache.fetch(keyOf('t1', '/virtual_machines/vm_1'), { load: slow })).rejects.toBe(notFound);
    await clock.advance(5_000);
    await read;
    expect(cache.tokenCheckAt('t1')).toBe(sentAt + 60_000);
  });

  it('is purged when the check finds the token refused', async () => {
    const onPurgeToken = vi.fn();
    const { clock, cache } = await dueForACheck({ onPurgeToken });
    const revoked = new UpstreamApiError(403, 'invalid_api_token', '', {});
    expect(await cache.fetch(CATALOGUE('/data_centers'), { load: failing(revoked) })).toMatchObject({ status: 'hit' });
    await clock.flush();
    expect(onPurgeToken).toHaveBeenCalledWith('t1');
    await expect(cache.fetch(CATALOGUE('/data_centers'), { load: answering({ d: 2 }) })).rejects.toSatisfy(replayOf(revoked));
  });

  it('stays due when the check gets no answer from Katapult, so the next read checks again', async () => {
    const onPurgeToken = vi.fn();
    const { clock, cache } = await dueForACheck({ onPurgeToken });
    // Katapult is down when the check is made: nothing is learnt of the token.
    const down = new UpstreamApiError(503, 'service_unavailable', '', {});
    expect(await cache.fetch(CATALOGUE('/data_centers'), { load: failing(down) })).toMatchObject({ status: 'hit' });
    expect(cache.tokenCheckDue('t1')).toBe(false);
    await clock.flush();
    // Due again at once (finished answers stay unreplayed), not a whole period later.
    expect(cache.tokenCheckDue('t1')).toBe(true);
    const revoked = new UpstreamApiError(403, 'invalid_api_token', '', {});
    const check = failing(revoked);
    expect(await cache.fetch(CATALOGUE('/data_centers'), { load: check })).toMatchObject({ status: 'hit' });
    expect(check).toHaveBeenCalledTimes(1);
    await clock.flush();
    expect(onPurgeToken).toHaveBeenCalledWith('t1');
  });

  it('is not made due again by a failed check once another read has heard from Katapult', async () => {
    const { clock, cache } = await dueForACheck();
    let fail!: (error: unknown) => void;
    const slowCheck = vi.fn(() => new Promise<never>((_resolve, reject) => (fail = reject)));
    await cache.fetch(CATALOGUE('/data_centers'), { load: slowCheck });
    await clock.advance(1_000);
    // A foreground read of another URL reaches Katapult and is answered: the token is vouched for.
    await cache.fetch(CATALOGUE('/zones'), { load: answering({ z: 1 }) });
    fail(new UpstreamApiError(503, 'service_unavailable', '', {}));
    await clock.flush();
    expect(cache.tokenCheckDue('t1')).toBe(false);
  });

  it('is due once it holds no entry (evicted), since what was built from its entries may still be replayed', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000, maxBytes: 2_000, perTokenMaxBytes: 2_000 }));
    await cache.fetch(CATALOGUE('/data_centers'), { load: answeringBytes({ d: 'x'.repeat(900) }) });
    expect(cache.tokenCheckDue('t1')).toBe(false);
    await cache.fetch(keyOf('t2', '/data_centers', 'dataCenters'), { load: answeringBytes({ d: 'y'.repeat(900) }) });
    expect(cache.stats().tokens).toBe(1);
    expect(cache.tokenCheckDue('t1')).toBe(true);
    expect(cache.tokenCheckDue('t2')).toBe(false);
  });

  it('has its check started in the background only while it holds entries and is due', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000 }));
    // No entries: due (nothing vouches for it), but its reads reach Katapult themselves.
    expect(cache.tokenCheckDue('t1')).toBe(true);
    expect(cache.backgroundCheckDue('t1')).toBe(false);
    await cache.fetch(CATALOGUE('/data_centers'), { load: answering({ d: 1 }) });
    expect(cache.backgroundCheckDue('t1')).toBe(false);
    await clock.advance(60_000);
    expect(cache.backgroundCheckDue('t1')).toBe(true);
    await cache.fetch(CATALOGUE('/data_centers'), { load: answering({ d: 1 }) });
    // The check is on its way.
    expect(cache.backgroundCheckDue('t1')).toBe(false);
  });

  it('is not answered from a remembered not-found once past its check, however long not-founds are remembered', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000, notFoundTtlMs: 600_000 }));
    const notFound = new UpstreamApiError(404, 'virtual_machine_not_found', '', {});
    await expect(cache.fetch(keyOf('t1', '/virtual_machines/vm_1'), { load: failing(notFound) })).rejects.toBe(notFound);
    await clock.advance(30_000);
    const remembered = failing(notFound);
    await expect(cache.fetch(keyOf('t1', '/virtual_machines/vm_1'), { load: remembered })).rejects.toSatisfy(replayOf(notFound));
    expect(remembered).not.toHaveBeenCalled();
    // Past the period: Katapult is asked again, and its refusal of the token is what comes back.
    await clock.advance(60_000);
    const revoked = new UpstreamApiError(403, 'invalid_api_token', '', {});
    const asked = failing(revoked);
    await expect(cache.fetch(keyOf('t1', '/virtual_machines/vm_1'), { load: asked })).rejects.toBe(revoked);
    expect(asked).toHaveBeenCalledTimes(1);
  });

  it('is never checked with tokenRecheckMs 0, whether or not it holds entries', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock));
    await cache.fetch(CATALOGUE('/data_centers'), { load: answering({ d: 1 }) });
    await clock.advance(500_000);
    expect(cache.tokenCheckDue('t1')).toBe(false);
    expect(cache.tokenCheckDue('nobody')).toBe(false);
  });
});

describe('an overdue token whose reads come together (a dashboard after an idle spell)', () => {
  const URLS = ['/data_centers', '/zones', '/countries'];

  /** A cache whose token t1 holds three fresh entries and is past its check (tokenRecheckMs 60 s). */
  async function overdueWithEntries() {
    const clock = createFakeClock();
    const onPurgeToken = vi.fn();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000, hooks: { onPurgeToken } }));
    for (const url of URLS) await cache.fetch(CATALOGUE(url), { load: answering({ url, version: 1 }) });
    await clock.advance(60_000);
    expect(cache.tokenCheckDue('t1')).toBe(true);
    // The first read goes to Katapult and is held there; the others come while it is on its way.
    const first = controlled<unknown>();
    const firstRead = cache.fetch(CATALOGUE(URLS[0]!), { load: first.load });
    const others = URLS.slice(1).map(() => answering({ version: 2 }));
    const otherReads = URLS.slice(1).map((url, i) => cache.fetch(CATALOGUE(url), { load: others[i]! }));
    await clock.flush();
    expect(first.pending).toHaveLength(1);
    return { clock, cache, onPurgeToken, first, firstRead, others, otherReads };
  }

  it('costs one call to Katapult: its answer vouches for the token, and the other reads are served from their entries', async () => {
    const { first, firstRead, others, otherReads, cache } = await overdueWithEntries();
    first.pending[0]!.resolve(resultOf({ url: URLS[0], version: 2 }));
    expect(await firstRead).toMatchObject({ status: 'miss', value: { version: 2 } });
    for (const [i, read] of otherReads.entries()) expect(await read).toMatchObject({ status: 'hit', value: { url: URLS[i + 1], version: 1 } });
    for (const load of others) expect(load).not.toHaveBeenCalled();
    expect(cache.tokenCheckDue('t1')).toBe(false);
  });

  it('is refused on every read when that one call finds the token revoked, without a call each', async () => {
    const { first, firstRead, others, otherReads, onPurgeToken } = await overdueWithEntries();
    const revoked = new UpstreamApiError(403, 'invalid_api_token', '', {});
    first.pending[0]!.reject(revoked);
    await expect(firstRead).rejects.toBe(revoked);
    for (const read of otherReads) await expect(read).rejects.toSatisfy(replayOf(revoked));
    for (const load of others) expect(load).not.toHaveBeenCalled();
    expect(onPurgeToken).toHaveBeenCalledWith('t1');
  });

  it('sends the other reads to Katapult themselves when that call says nothing of the token (Katapult down)', async () => {
    const { first, firstRead, others, otherReads } = await overdueWithEntries();
    const down = new UpstreamApiError(503, 'service_unavailable', '', {});
    first.pending[0]!.reject(down);
    await expect(firstRead).rejects.toBe(down);
    for (const read of otherReads) expect(await read).toMatchObject({ status: 'miss', value: { version: 2 } });
    for (const load of others) expect(load).toHaveBeenCalledTimes(1);
  });

  it('serves the other reads their entries as for a Katapult failure (stale-if-error) when Katapult fails that call, and sends them on when the gateway held it', async () => {
    for (const [failure, servedStale] of [
      [new UpstreamApiError(503, 'service_unavailable', '', {}), true],
      [new RateLimitedError(30, 'the token has used its budget for this window'), false],
    ] as const) {
      const clock = createFakeClock();
      const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000, staleIfErrorMs: 600_000 }));
      for (const url of URLS) await cache.fetch(CATALOGUE(url), { load: answering({ url, version: 1 }) });
      await clock.advance(60_000);
      const first = controlled<unknown>();
      const firstRead = cache.fetch(CATALOGUE(URLS[0]!), { load: first.load });
      const other = answering({ url: URLS[1], version: 2 });
      const otherRead = cache.fetch(CATALOGUE(URLS[1]!), { load: other });
      await clock.flush();
      first.pending[0]!.reject(failure);
      await firstRead.catch(() => undefined);
      if (servedStale) {
        expect(await otherRead).toMatchObject({ status: 'stale-if-error', value: { url: URLS[1], version: 1 } });
        expect(other).not.toHaveBeenCalled();
      } else {
        expect(await otherRead).toMatchObject({ status: 'miss', value: { version: 2 } });
        expect(other).toHaveBeenCalledTimes(1);
      }
    }
  });

  it('lets a waiting read go when its own client does', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000 }));
    for (const url of URLS) await cache.fetch(CATALOGUE(url), { load: answering({ url }) });
    await clock.advance(60_000);
    const first = controlled<unknown>();
    const firstRead = cache.fetch(CATALOGUE(URLS[0]!), { load: first.load });
    const client = new AbortController();
    const other = answering({ url: URLS[1] });
    const waiting = cache.fetch(CATALOGUE(URLS[1]!), { load: other, signal: client.signal });
    await clock.flush();
    client.abort();
    await expect(waiting).rejects.toBeInstanceOf(UpstreamCancelledError);
    expect(other).not.toHaveBeenCalled();
    // The call it waited on goes on for the read that made it.
    expect(first.pending[0]!.context.signal.aborted).toBe(false);
    first.pending[0]!.resolve(resultOf({ url: URLS[0] }));
    expect(await firstRead).toMatchObject({ status: 'miss' });
  });

  it('waits on a background check still on its way when the token falls due', async () => {
    const clock = createFakeClock();
    const cache = createRestCache(strictOptions(clock, { tokenRecheckMs: 60_000 }));
    await cache.fetch(CATALOGUE('/data_centers'), { load: answering({ d: 1 }) });
    await cache.fetch(CATALOGUE('/zones'), { load: answering({ z: 1 }) });
    await clock.advance(CHECK_STARTS);
    let answerCheck!: (result: ReturnType<typeof resultOf>) => void;
    const slowCheck = vi.fn(() => new Promise<ReturnType<typeof resultOf>>((resolve) => (answerCheck = resolve)));
    expect(await cache.fetch(CATALOGUE('/data_centers'), { load: slowCheck })).toMatchObject({ status: 'hit' });
    await clock.advance(60_000 - CHECK_STARTS);
    const other = answering({ z: 2 });
    const read = cache.fetch(CATALOGUE('/zones'), { load: other });
    await clock.flush();
    answerCheck(resultOf({ d: 1 }));
    expect(await read).toMatchObject({ status: 'hit', value: { z: 1 } });
    expect(other).not.toHaveBeenCalled();
  });
});

describe('a token revoked in Katapult while its answers are cached', () => {
  it('is refused within CACHE_TOKEN_RECHECK_MS, not only once the catalogue’s ten-minute entries expire', async () => {
    const clock = createFakeClock();
    let revoked = false;
    let checks = 0;
    const gateway = createTestGateway({
      clock,
      env: { CACHE_TOKEN_RECHECK_MS: '60000' },
      wrapFetch: (simulator) => async (input, init) => {
        if (!revoked) return simulator(input, init);
        checks++;
        return cannedError(403, 'invalid_api_token', { details: null });
      },
    });
    try {
      const token = DEMO_TOKENS.globex;
      const query = '{ dataCenters { name } zones { name } }';
      expect((await gateway.query(query, { token })).status).toBe(200);
      // Stored as a finished answer too: the repeat is replayed before GraphQL runs.
      expect((await gateway.query(query, { token })).status).toBe(200);
      revoked = true;

      await clock.advance(CHECK_STARTS - 1_000);
      expect((await gateway.query(query, { token })).status).toBe(200);
      expect(checks).toBe(0);
      await clock.advance(1_000);
      // Due: answered from the entries while one check runs.
      expect((await gateway.query(query, { token })).status).toBe(200);
      await clock.flush();
      expect(checks).toBe(1);
      const refused = await gateway.query(query, { token });
      expect(refused.status).toBe(401);
      expect(errorCodes(refused.body)).toContain('UNAUTHENTICATED');
    } finally {
      await gateway.close();
    }
  });

  it('costs one call to Katapult, not one per read, for a dashboard asked again after an idle spell', async () => {
    const clock = createFakeClock();
    const calls: string[] = [];
    const gateway = createTestGateway({
      clock,
      env: { CACHE_TOKEN_RECHECK_MS: '60000' },
      wrapFetch: (simulator) => async (input, init) => {
        calls.push(new URL(String(input)).pathname);
        // Katapult takes a while, so the reads the dashboard starts together are on their way together.
        await new Promise<void>((resolve) => clock.setTimeout(() => resolve(), 50));
        return simulator(input, init);
      },
    });
    const ask = (query: string, token: string) => whileAdvancing(clock, gateway.query(query, { token }));
    try {
      const token = DEMO_TOKENS.globex;
      const query = '{ organization(subDomain: "globex") { virtualMachines(first: 5) { edges { node { id zone { name dataCenter { name country { name } } } package { name cpuCores memoryInGb } } } } } }';
      const cold = await ask(query, token);
      expect(cold.status).toBe(200);
      // The VM page, the data centers and the organization's packages.
      expect(calls).toHaveLength(3);
      await clock.advance(61_000);
      calls.length = 0;
      const again = await ask(query, token);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(cold.body);
      // One read went to Katapult and vouched for the token; the other two were served from their entries.
      expect(calls).toHaveLength(1);
    } finally {
      await gateway.close();
    }
  });

  it.each([
    ['a value', '{ dataCenters { name } }'],
    ['a remembered not-found', '{ virtualMachine(id: "vm_aaaaaaaaaaaaaaaa") { name } }'],
  ])('counts from when the gateway sent the call Katapult answered with %s, however long the answer took', async (_what, query) => {
    const clock = createFakeClock();
    const gateway = createTestGateway({
      clock,
      env: { CACHE_TOKEN_RECHECK_MS: '60000' },
      wrapFetch: (simulator) => async (input, init) => {
        await new Promise<void>((resolve) => clock.setTimeout(() => resolve(), 3_000));
        return simulator(input, init);
      },
    });
    try {
      const sentAt = clock.now();
      const answer = await whileAdvancing(clock, gateway.query(query, { token: DEMO_TOKENS.globex }));
      expect(answer.status).toBe(200);
      expect(clock.now()).toBeGreaterThanOrEqual(sentAt + 3_000);
      expect(gateway.app.cache.tokenCheckAt(gateway.app.tokens.key(DEMO_TOKENS.globex))).toBe(sentAt + 60_000);
    } finally {
      await gateway.close();
    }
  });

  /** `answer`, once the fake clock has been moved on (100 ms at a time, 20 s at most) for its retries and deadline. */
  async function whileAdvancing<T>(clock: ReturnType<typeof createFakeClock>, answer: Promise<T>): Promise<T> {
    let done = false;
    void answer.finally(() => (done = true));
    for (let i = 0; i < 200 && !done; i++) await clock.advance(100);
    return answer;
  }

  /** A gateway whose globex token has read the catalogue once (stored as a finished answer too), then gone idle. */
  async function idleAfterOneRead(katapult: () => 'up' | 'revoked' | 'slowly revoked' | 'down' | 'hanging') {
    const clock = createFakeClock();
    const gateway = createTestGateway({
      clock,
      env: { CACHE_TOKEN_RECHECK_MS: '60000' },
      wrapFetch: (simulator) => async (input, init) => {
        const state = katapult();
        if (state === 'revoked') return cannedError(403, 'invalid_api_token', { details: null });
        if (state === 'slowly revoked') return new Promise<Response>((resolve) => clock.setTimeout(() => resolve(cannedError(403, 'invalid_api_token', { details: null })), 50));
        if (state === 'down') return cannedError(503, 'service_unavailable', {});
        if (state === 'hanging') return new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
        return simulator(input, init);
      },
    });
    const query = '{ virtualMachinePackages(first: 2) { edges { node { id name } } } }';
    const token = DEMO_TOKENS.globex;
    const first = await gateway.query(query, { token });
    expect(first.status).toBe(200);
    expect((await gateway.query(query, { token })).status).toBe(200);
    return { clock, gateway, ask: (headers?: Record<string, string>) => gateway.query(query, { token, headers }), first };
  }

  it.each([
    ['its fresh entries (five minutes on, the catalogue still fresh)', 300_000],
    ['its stale entries (past the catalogue TTL, within stale-while-revalidate)', 610_000],
    ['anything, just after it falls due', 60_000],
  ])('is not answered from %s once it has gone CACHE_TOKEN_RECHECK_MS unchecked: its first request after an idle spell waits for Katapult', async (_what, idleMs) => {
    let state: 'up' | 'revoked' = 'up';
    const { clock, gateway, ask } = await idleAfterOneRead(() => state);
    try {
      state = 'revoked';
      await clock.advance(idleMs);
      const refused = await ask();
      expect(refused.status).toBe(401);
      expect(errorCodes(refused.body)).toContain('UNAUTHENTICATED');
      expect(refused.text).not.toMatch(/pkg_/);
    } finally {
      await gateway.close();
    }
  });

  it('is answered from its entries after an idle spell when Katapult cannot answer for it (stale-if-error), and only for that request', async () => {
    let state: 'up' | 'down' = 'up';
    const { clock, gateway, ask, first } = await idleAfterOneRead(() => state);
    try {
      state = 'down';
      await clock.advance(300_000);
      // The 503 is retried, with backoff on the fake clock: move it on until the answer comes.
      const served = await whileAdvancing(clock, ask());
      expect(served.status).toBe(200);
      expect(served.body.data).toEqual(first.body.data);
      // Still unchecked: the next request asks Katapult again, and gets its answer once it is back.
      state = 'up';
      expect((await ask()).body.data).toEqual(first.body.data);
    } finally {
      await gateway.close();
    }
  });

  it('is answered from its entries at the gateway’s own deadline when Katapult does not answer for it at all', async () => {
    let state: 'up' | 'hanging' = 'up';
    const { clock, gateway, ask, first } = await idleAfterOneRead(() => state);
    try {
      state = 'hanging';
      await clock.advance(120_000);
      // Not at a deadline its client chose shorter: that could be shorter than any answer takes.
      const early = await whileAdvancing(clock, ask({ 'x-request-timeout-ms': '2000' }));
      expect(early.text).not.toMatch(/pkg_/);
      const served = await whileAdvancing(clock, ask());
      expect(served.status).toBe(200);
      expect(served.body.errors).toBeUndefined();
      expect(served.body.data).toEqual(first.body.data);
    } finally {
      await gateway.close();
    }
  });

  it.each(['1', '20'])('is not answered from its entries for a deadline its client set shorter than Katapult takes (X-Request-Timeout-Ms %s)', async (timeoutMs) => {
    let state: 'up' | 'slowly revoked' = 'up';
    const { clock, gateway, ask } = await idleAfterOneRead(() => state);
    try {
      state = 'slowly revoked';
      await clock.advance(120_000);
      const answer = await whileAdvancing(clock, ask({ 'x-request-timeout-ms': timeoutMs }));
      expect(answer.text).not.toMatch(/pkg_/);
      expect(answer.body.data?.virtualMachinePackages ?? null).toBeNull();
      expect(errorCodes(answer.body).length).toBeGreaterThan(0);
    } finally {
      await gateway.close();
    }
  });

  it.each([5_000, 15_000, 45_000, 59_000])('is not held up while in use: a token asking every %i ms (less than the period) is checked in the background and never waits', async (intervalMs) => {
    let calls = 0;
    const clock = createFakeClock();
    const gateway = createTestGateway({
      clock,
      // Per-request cache counts in the answer (this also turns the finished-response cache off, so every request reads its entries).
      env: { CACHE_TOKEN_RECHECK_MS: '60000', CACHE_EXTENSIONS: 'true' },
      wrapFetch: (simulator) => (input, init) => {
        calls++;
        return simulator(input, init);
      },
    });
    try {
      const token = DEMO_TOKENS.globex;
      const query = '{ virtualMachinePackages(first: 2) { edges { node { id } } } dataCenters { id } }';
      await gateway.query(query, { token });
      const afterFirst = calls;
      for (let at = intervalMs; at <= 300_000; at += intervalMs) {
        await clock.advance(intervalMs);
        const answer = await gateway.query(query, { token });
        expect(answer.status).toBe(200);
        // Every read answered from the token's entries: none waited for Katapult.
        expect(answer.body.extensions?.cache).toMatchObject({ misses: 0, coalesced: 0 });
        await clock.flush();
      }
      // A check (one read refreshed) at most every half period, and at least once a period.
      expect(calls - afterFirst).toBeGreaterThanOrEqual(300_000 / 60_000 - 1);
      expect(calls - afterFirst).toBeLessThanOrEqual(300_000 / checkLeadFor(60_000) + 1);
    } finally {
      await gateway.close();
    }
  });
});
