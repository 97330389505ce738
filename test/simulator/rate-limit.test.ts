import { describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS, LOAD_TOKEN_PREFIX } from '../../src/simulator/index.js';
import { createFakeClock, FAKE_EPOCH } from '../helpers/fake-clock.js';
import { get } from './client.js';

describe('simulator rate limiting', () => {
  it('sends X-RateLimit-Permitted and a Remaining that drops by one per request', async () => {
    const sim = createSimulator({ clock: createFakeClock() });
    const first = await get(sim, '/zones', DEMO_TOKENS.acme);
    const second = await get(sim, '/zones', DEMO_TOKENS.acme);
    expect(first.headers.get('x-ratelimit-permitted')).toBe('1000');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('999');
    expect(second.headers.get('x-ratelimit-remaining')).toBe('998');
  });

  it('refuses the request past the limit with 429 rate_limit_reached and total_permitted, without Retry-After', async () => {
    const sim = createSimulator({ clock: createFakeClock(), rateLimitPerMinute: 3 });
    for (let i = 0; i < 3; i++) expect((await get(sim, '/zones', DEMO_TOKENS.globex)).status).toBe(200);
    const refused = await get(sim, '/zones', DEMO_TOKENS.globex);
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({
      error: { code: 'rate_limit_reached', description: 'You have reached the rate limit for this type of request', detail: { total_permitted: 3 } },
    });
    expect(refused.headers.get('x-ratelimit-permitted')).toBe('3');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(refused.headers.get('x-api-schema')).toBe('json-error');
  });

  it('counts 404s against the budget like any authenticated request', async () => {
    const sim = createSimulator({ clock: createFakeClock(), rateLimitPerMinute: 2 });
    expect((await get(sim, '/zones/zone?zone[id]=nope', DEMO_TOKENS.acme)).status).toBe(404);
    expect((await get(sim, '/organizations/organization/virtual_machines', DEMO_TOKENS.acme)).status).toBe(404);
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).status).toBe(429);
  });

  it('refills the budget at the next window boundary aligned to the epoch, not 60 s after the first request', async () => {
    const clock = createFakeClock(FAKE_EPOCH + 50_000); // 51 s past a minute boundary
    const sim = createSimulator({ clock, rateLimitPerMinute: 2 });
    await get(sim, '/zones', DEMO_TOKENS.acme);
    await get(sim, '/zones', DEMO_TOKENS.acme);
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).status).toBe(429);
    await clock.advance(8_999); // 59.999 s past the boundary: same window
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).status).toBe(429);
    await clock.advance(1);
    const fresh = await get(sim, '/zones', DEMO_TOKENS.acme);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('x-ratelimit-remaining')).toBe('1');
  });

  it('aligns windows to multiples of a custom window length', async () => {
    const clock = createFakeClock(10_000_000 + 9_000); // windows of 10 s start at multiples of 10,000
    const sim = createSimulator({ clock, rateLimitPerMinute: 1, rateLimitWindowMs: 10_000 });
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).status).toBe(200);
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).status).toBe(429);
    await clock.advance(1_000);
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).status).toBe(200);
  });

  it('keeps one budget per token, with each token its own default limit', async () => {
    const sim = createSimulator({ clock: createFakeClock() });
    await get(sim, '/zones', DEMO_TOKENS.acme);
    const globex = await get(sim, '/zones', DEMO_TOKENS.globex);
    expect(globex.headers.get('x-ratelimit-remaining')).toBe('999');
    const noScope = await get(sim, '/zones', DEMO_TOKENS.noVmScope);
    expect(noScope.headers.get('x-ratelimit-permitted')).toBe('200');
    expect(noScope.headers.get('x-ratelimit-remaining')).toBe('199');
  });

  it('lets setTokenLimit override one token, winning over the global override', async () => {
    const sim = createSimulator({ clock: createFakeClock(), rateLimitPerMinute: 50 });
    sim.setTokenLimit(DEMO_TOKENS.user, 1);
    expect((await get(sim, '/zones', DEMO_TOKENS.user)).headers.get('x-ratelimit-permitted')).toBe('1');
    expect((await get(sim, '/zones', DEMO_TOKENS.user)).status).toBe(429);
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).headers.get('x-ratelimit-permitted')).toBe('50');
  });

  it('gives every load token its own budget of 1000', async () => {
    const sim = createSimulator({ clock: createFakeClock() });
    sim.setTokenLimit(`${LOAD_TOKEN_PREFIX}a`, 1);
    await get(sim, '/zones', `${LOAD_TOKEN_PREFIX}a`);
    expect((await get(sim, '/zones', `${LOAD_TOKEN_PREFIX}a`)).status).toBe(429);
    const other = await get(sim, '/zones', `${LOAD_TOKEN_PREFIX}b`);
    expect(other.status).toBe(200);
    expect(other.headers.get('x-ratelimit-permitted')).toBe('1000');
    expect(other.headers.get('x-ratelimit-remaining')).toBe('999');
  });

  it('omits the rate-limit headers when the knob turns them off, on success and on 429', async () => {
    const sim = createSimulator({ clock: createFakeClock(), rateLimitHeaders: false, rateLimitPerMinute: 1 });
    const ok = await get(sim, '/zones', DEMO_TOKENS.acme);
    const refused = await get(sim, '/zones', DEMO_TOKENS.acme);
    expect(refused.status).toBe(429);
    for (const res of [ok, refused]) {
      expect(res.headers.get('x-ratelimit-permitted')).toBeNull();
      expect(res.headers.get('x-ratelimit-remaining')).toBeNull();
    }
    sim.setFaults({ rateLimitHeaders: true });
    expect((await get(sim, '/zones', DEMO_TOKENS.globex)).headers.get('x-ratelimit-remaining')).toBe('0');
  });

  it('does not count requests with a missing or invalid token', async () => {
    const sim = createSimulator({ clock: createFakeClock(), rateLimitPerMinute: 1 });
    await get(sim, '/zones', null);
    const invalid = await get(sim, '/zones', 'kp_nope_nope_nope_nope_nope');
    expect(invalid.headers.get('x-ratelimit-remaining')).toBeNull();
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).status).toBe(200);
  });
});
