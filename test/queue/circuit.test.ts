import { describe, expect, it } from 'vitest';
import { createRequestQueue, type CircuitState } from '../../src/queue/index.js';
import { CircuitOpenError, UpstreamApiError, UpstreamMalformedError, UpstreamTimeoutError } from '../../src/upstream/errors.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createFakeKatapult } from './fake-katapult.js';

const unavailable = () => new UpstreamApiError(503, 'service_unavailable', 'Service unavailable', {});

function setup(globalConcurrency = 1) {
  const clock = createFakeClock();
  const katapult = createFakeKatapult(clock, { permitted: 1000 });
  const changes: CircuitState[] = [];
  const rejected: string[] = [];
  const queue = createRequestQueue({
    clock,
    random: () => 0,
    retryMaxAttempts: 1,
    globalConcurrency,
    circuitFailureThreshold: 3,
    circuitOpenMs: 5000,
    hooks: { onCircuitChange: (state) => void changes.push(state), onRejected: (reason) => void rejected.push(reason) },
  });
  const call = (lane: string) => queue.add(katapult.task(lane), { laneKey: lane, deadline: clock.now() + 60_000 });
  return { clock, katapult, queue, changes, rejected, call };
}

describe('circuit breaker', () => {
  it('opens after consecutive failures across lanes and fails new and waiting calls fast', async () => {
    const { clock, katapult, queue, changes, rejected, call } = setup();
    katapult.failNext(3, unavailable);
    const failing = ['a', 'b', 'a'].map((lane) => call(lane).catch((e: unknown) => e));
    const waiting = call('c').catch((e: unknown) => e);
    await clock.advance(100);
    expect(queue.circuitState()).toBe('open');
    expect(changes).toEqual(['open']);
    expect((await Promise.all(failing)).every((e) => e instanceof UpstreamApiError)).toBe(true);
    const waited = await waiting;
    expect(waited).toBeInstanceOf(CircuitOpenError);
    expect((waited as CircuitOpenError).retryAfterSeconds).toBe(5);
    const fresh = await call('d').catch((e: unknown) => e);
    expect(fresh).toBeInstanceOf(CircuitOpenError);
    expect(rejected).toEqual(['circuit_open', 'circuit_open']);
    expect(katapult.calls).toHaveLength(3);
    expect(queue.stats().circuit).toBe('open');
  });

  it('half-opens after the open period, lets one probe through, and closes when it succeeds', async () => {
    const { clock, katapult, queue, changes, call } = setup(8);
    katapult.failNext(3, () => new UpstreamTimeoutError(5000));
    const failing = Promise.allSettled([call('a'), call('a'), call('a')]);
    await clock.advance(100);
    await failing;
    await clock.advance(5000);
    expect(queue.circuitState()).toBe('half-open');
    const results = Promise.all([call('a'), call('b'), call('c')]);
    await clock.flush();
    expect(katapult.calls).toHaveLength(4);
    await clock.advance(10);
    expect(queue.circuitState()).toBe('closed');
    expect(katapult.calls).toHaveLength(6);
    await clock.advance(10);
    await results;
    expect(changes).toEqual(['open', 'half-open', 'closed']);
  });

  it('re-opens when the half-open probe fails', async () => {
    const { clock, katapult, queue, changes, call } = setup();
    katapult.failNext(4, unavailable);
    const failing = Promise.allSettled([call('a'), call('a'), call('a')]);
    await clock.advance(100);
    await failing;
    await clock.advance(5000);
    const probe = call('a').catch((e: unknown) => e);
    const behind = call('b').catch((e: unknown) => e);
    await clock.advance(10);
    expect(await probe).toBeInstanceOf(UpstreamApiError);
    expect(await behind).toBeInstanceOf(CircuitOpenError);
    expect(queue.circuitState()).toBe('open');
    expect(changes).toEqual(['open', 'half-open', 'open']);
    expect(katapult.calls).toHaveLength(4);
  });

  it('a success resets the count of consecutive failures', async () => {
    const { clock, katapult, queue, call } = setup();
    katapult.failNext(2, unavailable);
    const first = Promise.allSettled([call('a'), call('a'), call('a')]);
    await clock.advance(100);
    await first;
    katapult.failNext(2, unavailable);
    const second = Promise.allSettled([call('a'), call('a')]);
    await clock.advance(100);
    await second;
    expect(queue.circuitState()).toBe('closed');
  });

  it('does not count 4xx answers as failures', async () => {
    const { clock, katapult, queue, call } = setup();
    katapult.failNext(5, () => new UpstreamApiError(404, 'zone_not_found', 'No zone', {}));
    const all = Promise.allSettled([1, 2, 3, 4, 5].map(() => call('a')));
    await clock.advance(100);
    await all;
    expect(queue.circuitState()).toBe('closed');
  });

  it('does not count a 4xx that is not Katapult\'s JSON (a proxy\'s 414 page) as Katapult failing, but does a 5xx one', async () => {
    const { clock, katapult, queue, call } = setup();
    katapult.failNext(5, () => new UpstreamMalformedError(414, 'body is not JSON'));
    const pending = Promise.allSettled([1, 2, 3, 4, 5].map(() => call('a')));
    await clock.advance(100);
    const refused = await pending;
    expect(refused.every((r) => r.status === 'rejected' && r.reason instanceof UpstreamMalformedError)).toBe(true);
    expect(queue.circuitState()).toBe('closed');
    katapult.failNext(3, () => new UpstreamMalformedError(502, 'body is not JSON'));
    const failing = Promise.allSettled([1, 2, 3].map(() => call('a')));
    await clock.advance(100);
    await failing;
    expect(queue.circuitState()).toBe('open');
  });

  it('does not count 429s as failures, and the calls they pushed back still complete', async () => {
    const { clock, katapult, queue, call } = setup();
    katapult.failNext(4, () => new UpstreamApiError(429, 'rate_limit_reached', 'Rate limited', { total_permitted: 1000 }));
    const all = Promise.all(['a', 'b', 'c', 'd'].map((lane) => call(lane)));
    await clock.advance(100);
    expect(queue.circuitState()).toBe('closed');
    await clock.advance(60_000);
    await expect(all).resolves.toHaveLength(4);
    expect(katapult.calls.map((c) => c.status)).toEqual([429, 429, 429, 429, 200, 200, 200, 200]);
  });
});
