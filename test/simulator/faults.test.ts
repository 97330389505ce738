import { describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS } from '../../src/simulator/index.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { BASE, get } from './client.js';

describe('simulator faults', () => {
  it('answers 503 service_unavailable at failure ratio 1, after auth and with rate-limit headers', async () => {
    const sim = createSimulator({ failureRatio: 1 });
    const res = await get(sim, '/zones', DEMO_TOKENS.acme);
    expect(res.status).toBe(503);
    expect(res.json).toEqual({ error: { code: 'service_unavailable', description: 'The service is currently unavailable, please try again later', detail: {} } });
    expect(res.headers.get('x-api-schema')).toBe('json-error');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('999');
    expect((await get(sim, '/zones', null)).status).toBe(400);
    expect((await get(sim, '/zones', 'kp_nope_nope_nope_nope_nope')).status).toBe(403);
  });

  it('checks the rate limit before rolling the 503', async () => {
    const sim = createSimulator({ failureRatio: 1, rateLimitPerMinute: 0 });
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).status).toBe(429);
  });

  it('answers 200 with a truncated body that does not parse at malformed ratio 1', async () => {
    const sim = createSimulator({ malformedRatio: 1 });
    const res = await get(sim, '/data_centers', DEMO_TOKENS.acme);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.text.length).toBeGreaterThan(0);
    expect(() => JSON.parse(res.text)).toThrow();
    sim.setFaults({ malformedRatio: 0 });
    const clean = await get(sim, '/data_centers', DEMO_TOKENS.acme);
    expect(clean.text.startsWith(res.text)).toBe(true);
  });

  it('rejects an in-process fetch like undici does when the connection is reset', async () => {
    const sim = createSimulator({ resetRatio: 1 });
    const error = await sim.fetch(`${BASE}/zones`, { headers: { Authorization: `Bearer ${DEMO_TOKENS.acme}` } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe('fetch failed');
    expect(((error as TypeError).cause as { code?: string }).code).toBe('ECONNRESET');
    await expect(sim.handle(new Request(`${BASE}/zones`))).rejects.toThrow('fetch failed');
    expect(sim.requests.map((r) => r.status)).toEqual([0, 0]);
  });

  it('does not spend the rate-limit budget on a reset connection', async () => {
    const sim = createSimulator({ resetRatio: 1 });
    await sim.fetch(`${BASE}/zones`, { headers: { Authorization: `Bearer ${DEMO_TOKENS.acme}` } }).catch(() => undefined);
    sim.setFaults({ resetRatio: 0 });
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).headers.get('x-ratelimit-remaining')).toBe('999');
  });

  it('waits latencyMs on the injected clock before answering', async () => {
    const clock = createFakeClock();
    const sim = createSimulator({ clock, latencyMs: 250 });
    let settled = false;
    const pending = get(sim, '/zones', DEMO_TOKENS.acme).then((res) => {
      settled = true;
      return res;
    });
    await clock.advance(249);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(settled).toBe(true);
    expect((await pending).status).toBe(200);
  });

  it('merges setFaults over the current settings', async () => {
    const clock = createFakeClock();
    const sim = createSimulator({ clock, latencyMs: 100 });
    sim.setFaults({ failureRatio: 1 });
    const pending = get(sim, '/zones', DEMO_TOKENS.acme);
    await clock.advance(100);
    expect((await pending).status).toBe(503);
    sim.setFaults({ latencyMs: 0, failureRatio: 0, hypervisor: true });
    const list = await get(sim, '/organizations/organization/virtual_machines?organization[sub_domain]=globex', DEMO_TOKENS.globex);
    expect(list.json.virtual_machines[0].hypervisor).toEqual(expect.objectContaining({ id: expect.any(String), name: expect.any(String) }));
  });

  it('rejects out-of-range fault settings', () => {
    expect(() => createSimulator({ failureRatio: 1.5 })).toThrow(/failureRatio/);
    expect(() => createSimulator().setFaults({ latencyMs: -1 })).toThrow(/latencyMs/);
  });

  it('rolls the same fault dice for the same seed', async () => {
    const statuses = async () => {
      const sim = createSimulator({ seed: 7, failureRatio: 0.5 });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await get(sim, '/zones', DEMO_TOKENS.acme)).status);
      return out;
    };
    const first = await statuses();
    expect(first).toContain(503);
    expect(first).toContain(200);
    expect(await statuses()).toEqual(first);
  });

  it('takes its dice from an injected random source', async () => {
    const sim = createSimulator({ failureRatio: 0.5, random: () => 0.49 });
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).status).toBe(503);
    sim.setFaults({ failureRatio: 0.49 });
    expect((await get(sim, '/zones', DEMO_TOKENS.acme)).status).toBe(200);
  });
});
