import { describe, expect, it } from 'vitest';
import { DEMO_TOKENS, LOAD_TOKEN_PREFIX } from '../../src/simulator/index.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createTestGateway } from '../helpers/gateway.js';

describe('a background refresh that a waiting read joins', () => {
  it('waits as long as that read may wait, not only as long as the refresh would have', async () => {
    const clock = createFakeClock();
    const blocker = `${LOAD_TOKEN_PREFIX}blocker`;
    const gateway = createTestGateway({
      clock,
      env: {
        // One call at a time, gateway-wide: the blocker's slow call holds it.
        QUEUE_GLOBAL_CONCURRENCY: '1',
        CACHE_TTL_CATALOGUE_MS: '1000',
        CACHE_STALE_WHILE_REVALIDATE_MS: '60000',
        CACHE_TOKEN_RECHECK_MS: '0',
        REVALIDATION_DEADLINE_MS: '30000',
        REQUEST_DEADLINE_MS: '20000',
        UPSTREAM_TIMEOUT_MS: '60000',
      },
      wrapFetch: (simulator) => async (input, init) => {
        const headers = new Headers(init?.headers);
        if (headers.get('authorization') === `Bearer ${blocker}`) await new Promise<void>((resolve) => clock.setTimeout(resolve, 40_000));
        return simulator(input, init);
      },
    });
    try {
      const token = DEMO_TOKENS.globex;
      const query = '{ dataCenters { name } }';
      const settle = async <T>(pending: Promise<T>, ms: number) => {
        let done = false;
        void pending.finally(() => (done = true));
        for (let waited = 0; waited < ms && !done; waited += 500) await clock.advance(500);
        return pending;
      };
      // Teach the queue both tokens, then let globex's entry go stale.
      expect((await settle(gateway.query(query, { token }), 1000)).status).toBe(200);
      await clock.advance(2_000);
      const blocked = gateway.query('{ zones { id } }', { token: blocker });
      await clock.flush();
      // Served stale; its refresh waits for the only slot (its own deadline 30 s from now).
      expect((await gateway.query(query, { token })).status).toBe(200);
      await clock.advance(25_000);
      // A read that must reach Katapult joins that refresh; it may wait 20 s more.
      const refreshed = gateway.query(query, { token, headers: { 'cache-control': 'no-cache' } });
      const answer = await settle(refreshed, 30_000);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.status).toBe(200);
      await settle(blocked, 30_000);
    } finally {
      await gateway.close();
    }
  });
});
