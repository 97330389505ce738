import { describe, expect, it, vi } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { errorCodes, IN_PROCESS_BASE_URL, startLoopbackGateway, type TestGatewayOptions } from '../helpers/gateway.js';
import { cannedError, expectContract, gatewayPerTest, ORG_NAME } from './error-contract.js';

/**
 * The error contract for failures that are Katapult's or the token's budget: rate limits
 * (HTTP 429 with Retry-After when nothing could be answered), Katapult unavailable,
 * unreadable or misaddressed (UPSTREAM_UNAVAILABLE), and partial data when only some
 * fields fail.
 */

const start = gatewayPerTest();
const UNKNOWN_VM = 'virtualMachine(id: "vm_aaaaaaaaaaaaaaaa") { name }';

describe('rate limits', () => {
  // One call per minute for every token; the fake clock keeps the minute from rolling over.
  const limited = () => start({ clock: createFakeClock(), simulatorOptions: { rateLimitPerMinute: 1 } });
  const tinyDeadline = { 'x-request-timeout-ms': '50' };

  it('says so when the request\'s own deadline, not the budget, kept a call from being sent', async () => {
    const clock = createFakeClock();
    const gateway = start({ clock, simulatorOptions: { latencyMs: 3000 } });
    const token = DEMO_TOKENS.globex;
    // A new token's first call goes alone; this request waits for its answer, and its deadline comes first.
    const first = gateway.query('{ dataCenters { id } }', { token });
    await clock.advance(10);
    const waiting = gateway.query(`{ ${UNKNOWN_VM} }`, { token, headers: { 'x-request-timeout-ms': '1000' } });
    await clock.advance(1000);
    const response = await waiting;
    expect(errorCodes(response.body)).toEqual(['RATE_LIMITED']);
    expect(response.body.errors![0]!.message).toMatch(/^The request's deadline passed before this token's Katapult call could be sent/);
    await clock.advance(3000);
    expect((await first).body.errors).toBeUndefined();
  });

  it('says the same when the call it waited for is shared with a request that can wait longer', async () => {
    const clock = createFakeClock();
    const gateway = start({ clock, simulatorOptions: { latencyMs: 3000 } });
    const token = DEMO_TOKENS.globex;
    const first = gateway.query('{ dataCenters { id } }', { token });
    await clock.advance(10);
    // The same call for both: it stays in line for the patient one when the short deadline passes.
    const patient = gateway.query(`{ ${UNKNOWN_VM} }`, { token, headers: { 'x-request-timeout-ms': '20000' } });
    const hurried = gateway.query(`{ ${UNKNOWN_VM} }`, { token, headers: { 'x-request-timeout-ms': '1000' } });
    await clock.advance(1100);
    const response = await hurried;
    expect(errorCodes(response.body)).toEqual(['RATE_LIMITED']);
    expect(response.body.errors![0]!.message).toMatch(/^The request's deadline passed before this token's Katapult call could be sent/);
    await clock.advance(10_000);
    expect((await first).body.errors).toBeUndefined();
    expect((await patient).body.data).toEqual({ virtualMachine: null });
  });

  it('a request whose every root field hit the budget gets RATE_LIMITED, HTTP 429 and Retry-After', async () => {
    const gateway = limited();
    const token = DEMO_TOKENS.globex;
    expect((await gateway.query('{ dataCenters { id } }', { token })).body.errors).toBeUndefined();

    const response = await gateway.query(`{ organization(subDomain: "globex") { name } ${UNKNOWN_VM} }`, { token, headers: tinyDeadline });
    expect(errorCodes(response.body)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    expect(response.body.data).toEqual({ organization: null, virtualMachine: null });
    // Said as it is: the call did not fit the request's deadline under the budget.
    expect(response.body.errors![0]!.message).toMatch(/^This token's Katapult budget does not allow the call within the request's deadline/);
    const retryAfterSeconds = response.body.errors![0]!.extensions?.retryAfterSeconds as number;
    expect(Number.isInteger(retryAfterSeconds)).toBe(true);
    expect(retryAfterSeconds).toBeGreaterThan(0);
    expect(retryAfterSeconds).toBeLessThanOrEqual(61);
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(retryAfterSeconds);
    expectContract(response, token);
    // The budget was known to be spent: the gateway did not send the calls only to get 429s.
    expect(gateway.sim.requests.map((r) => r.status)).toEqual([200]);
  });

  it('HTTP 429 also when the only root field is a list', async () => {
    const gateway = limited();
    const token = DEMO_TOKENS.globex;
    await gateway.query('{ dataCenters { id } }', { token });
    const response = await gateway.query('{ zones { id } }', { token, headers: tinyDeadline });
    expect(errorCodes(response.body)).toEqual(['RATE_LIMITED']);
    expect(response.status).toBe(429);
  });

  it('a request where only some fields hit the budget answers 200 with what it has', async () => {
    const gateway = limited();
    const token = DEMO_TOKENS.globex;
    await gateway.query(ORG_NAME, { token });
    const response = await gateway.query(`{ organization(subDomain: "globex") { name } ${UNKNOWN_VM} }`, { token, headers: tinyDeadline });
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({ organization: { name: 'Globex Corporation' }, virtualMachine: null });
    expect(errorCodes(response.body)).toEqual(['RATE_LIMITED']);
    expect(response.body.errors![0]!.path).toEqual(['virtualMachine']);
    expectContract(response, token);
  });

  it('Katapult’s own 429 (no rate-limit headers to learn from first) also ends as RATE_LIMITED', async () => {
    const gateway = start({ clock: createFakeClock(), simulatorOptions: { rateLimitPerMinute: 1, rateLimitHeaders: false } });
    const token = DEMO_TOKENS.globex;
    await gateway.query('{ dataCenters { id } }', { token });
    const response = await gateway.query(ORG_NAME, { token, headers: tinyDeadline });
    expect(gateway.sim.requests.map((r) => r.status)).toEqual([200, 429]);
    expect(errorCodes(response.body)).toEqual(['RATE_LIMITED']);
    expect(response.body.errors![0]!.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    expect(response.status).toBe(429);
    expectContract(response, token);
  });
});

describe('upstream failures with nothing stale to serve', () => {
  const once = { QUEUE_RETRY_MAX_ATTEMPTS: '1' };
  const cases: Array<[string, TestGatewayOptions, RegExp]> = [
    ['Katapult answering 503', { env: once, simulatorOptions: { failureRatio: 1 } }, /unavailable/],
    ['Katapult answering a cut-off body', { env: once, simulatorOptions: { malformedRatio: 1 } }, /unreadable/],
    ['the connection being reset', { env: once, simulatorOptions: { resetRatio: 1 } }, /could not be reached/],
    ['503 on every attempt, after retries', { env: { QUEUE_RETRY_BASE_DELAY_MS: '1', QUEUE_RETRY_MAX_DELAY_MS: '2' }, simulatorOptions: { failureRatio: 1 } }, /unavailable/],
    ['a wrong base URL (route_not_found)', { upstreamBaseUrl: IN_PROCESS_BASE_URL.replace('/core/v1', '/core/v2') }, /misconfigured/],
  ];
  for (const [name, options, message] of cases) {
    it(`${name} is UPSTREAM_UNAVAILABLE`, async () => {
      const gateway = start(options);
      const token = DEMO_TOKENS.globex;
      const response = await gateway.query(ORG_NAME, { token });
      expect(errorCodes(response.body)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(response.body.errors![0]!.message).toMatch(message);
      expect(response.body.data).toEqual({ organization: null });
      expectContract(response, token);
    });
  }

  it('a call still in flight at the request’s deadline: the request stops waiting, the call fills the cache', async () => {
    const clock = createFakeClock();
    const gateway = start({ clock, simulatorOptions: { latencyMs: 5000 } });
    const token = DEMO_TOKENS.globex;
    const pending = gateway.query(ORG_NAME, { token, headers: { 'x-request-timeout-ms': '1000' } });
    await clock.advance(999);
    // The simulator logs a call when it answers: this one is still Katapult's when the deadline comes.
    expect(gateway.sim.requests).toHaveLength(0);
    await clock.advance(2);
    const response = await pending;
    expect(errorCodes(response.body)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(response.body.errors![0]!.message).toMatch(/did not answer in time/);
    expect(response.body.data).toEqual({ organization: null });
    expectContract(response, token);
    // The call went on; its answer serves the next request without another one.
    await clock.advance(5000);
    const again = await gateway.query(ORG_NAME, { token });
    expect(again.body.data).toEqual({ organization: { name: 'Globex Corporation' } });
    expect(gateway.sim.requests).toHaveLength(1);
  });

  it('a call shared by two requests is not given up at the first one’s deadline while the other still waits', async () => {
    const clock = createFakeClock();
    const gateway = start({ clock, env: { QUEUE_TOKEN_CONCURRENCY: '1' }, simulatorOptions: { latencyMs: 3000 } });
    const token = DEMO_TOKENS.globex;
    // Takes the token's only slot for 3 s, so the data-center call waits in line behind it.
    const first = gateway.query(ORG_NAME, { token });
    await clock.advance(1);
    const hurried = gateway.query('{ dataCenters { name } }', { token, headers: { 'x-request-timeout-ms': '1000' } });
    await clock.advance(1);
    const patient = gateway.query('{ dataCenters { name } }', { token });
    await clock.advance(1000);
    const early = await hurried;
    // Katapult never saw the call: what held it was the token's line, as when it waits alone.
    expect(errorCodes(early.body)).toEqual(['RATE_LIMITED']);
    expect(early.status).toBe(429);
    expect(Number(early.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(early.body.data).toEqual({ dataCenters: null });
    await clock.advance(6000);
    expect((await first).body.errors).toBeUndefined();
    const late = await patient;
    expect(late.body.errors).toBeUndefined();
    expect((late.body.data!.dataCenters as unknown[]).length).toBeGreaterThan(0);
    // One data-center call served the patient request: it was held, not refused and made again.
    expect(gateway.sim.requests.filter((r) => r.path.endsWith('/data_centers'))).toHaveLength(1);
  });

  it('a shared call Katapult put back in line with a 429 is still the budget’s, not Katapult’s silence', async () => {
    const clock = createFakeClock();
    let refused = 0;
    const gateway = start({
      clock,
      env: { REQUEST_DEADLINE_MS: '120000' },
      simulatorOptions: { latencyMs: 200 },
      wrapFetch: (simulator) => async (input, init) => {
        const response = await simulator(input, init);
        if (!new URL(input).pathname.endsWith('/data_centers') || refused++ > 0) return response;
        return cannedError(429, 'rate_limit_reached');
      },
    });
    const token = DEMO_TOKENS.globex;
    const hurried = gateway.query('{ dataCenters { name } }', { token, headers: { 'x-request-timeout-ms': '1000' } });
    await clock.advance(1);
    const patient = gateway.query('{ dataCenters { name } }', { token, headers: { 'x-request-timeout-ms': '120000' } });
    // The 429 comes back and the call waits in line again, behind the lane's pause.
    await clock.advance(300);
    expect(refused).toBe(1);
    await clock.advance(800);
    const early = await hurried;
    expect(errorCodes(early.body)).toEqual(['RATE_LIMITED']);
    expect(early.status).toBe(429);
    await clock.advance(120_000);
    // Served once the lane's pause after the 429 is over.
    expect((await patient).body.errors).toBeUndefined();
  });

  it('a shared call nobody waits for any more is dropped from the queue, not sent', async () => {
    const clock = createFakeClock();
    const gateway = await startLoopbackGateway({ clock, env: { QUEUE_TOKEN_CONCURRENCY: '1' }, simulatorOptions: { latencyMs: 3000 } });
    try {
      const token = DEMO_TOKENS.globex;
      const first = gateway.query(ORG_NAME, { token });
      await vi.waitFor(() => expect(gateway.app.queue.pending).toBe(1));
      const hurried = gateway.query('{ dataCenters { name } }', { token, headers: { 'x-request-timeout-ms': '1000' } });
      await vi.waitFor(() => expect(gateway.app.queue.size).toBe(1));
      const gone = new AbortController();
      const patient = fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ dataCenters { name } }' }),
        signal: gone.signal,
      }).catch((error: unknown) => error);
      // Joined once its request is in and has had a moment to reach the cache.
      await vi.waitFor(() => expect(gateway.server.activity().inFlight).toBe(3));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await clock.advance(1001);
      expect(errorCodes((await hurried).body)).toEqual(['RATE_LIMITED']);
      // Still queued for the patient request; then its client goes away too.
      expect(gateway.app.queue.size).toBe(1);
      gone.abort();
      await patient;
      await vi.waitFor(() => expect(gateway.app.queue.size).toBe(0));
      await clock.advance(6000);
      expect((await first).body.errors).toBeUndefined();
      expect(gateway.sim.requests.filter((r) => r.path.endsWith('/data_centers'))).toHaveLength(0);
    } finally {
      await gateway.close();
    }
  });

  it('an unknown Katapult error or a 500 is UPSTREAM_UNAVAILABLE too', async () => {
    for (const [status, code] of [[500, 'unhandled_exception'], [418, 'something_new']] as const) {
      const gateway = start({ env: { QUEUE_RETRY_MAX_ATTEMPTS: '1' }, wrapFetch: () => async () => cannedError(status, code) });
      const response = await gateway.query(ORG_NAME, { token: DEMO_TOKENS.globex });
      expect(errorCodes(response.body)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expectContract(response, DEMO_TOKENS.globex);
      await gateway.close();
    }
  });
});

describe('partial data', () => {
  it('a failing data-center lookup nulls only each VM’s country, nothing around it', async () => {
    const gateway = start({
      env: { QUEUE_RETRY_MAX_ATTEMPTS: '1' },
      wrapFetch: (simulator) => (input, init) =>
        new URL(input).pathname.endsWith('/data_centers') ? Promise.resolve(cannedError(503, 'service_unavailable')) : simulator(input, init),
    });
    const token = DEMO_TOKENS.globex;
    const response = await gateway.query(
      '{ organization(subDomain: "globex") { name virtualMachines(first: 3) { edges { node { name zone { name dataCenter { name country { name } } } } } } } }',
      { token },
    );
    const edges = response.body.data!.organization.virtualMachines.edges as Array<{ node: { name: string; zone: { name: string; dataCenter: { name: string; country: unknown } } } }>;
    expect(edges).toHaveLength(3);
    for (const { node } of edges) {
      expect(node.name).toEqual(expect.any(String));
      expect(node.zone.name).toEqual(expect.any(String));
      expect(node.zone.dataCenter.name).toEqual(expect.any(String));
      expect(node.zone.dataCenter.country).toBeNull();
    }
    expect(errorCodes(response.body)).toEqual(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);
    expect(response.body.errors!.map((e) => e.path)).toEqual([0, 1, 2].map((i) => ['organization', 'virtualMachines', 'edges', i, 'node', 'zone', 'dataCenter', 'country']));
    expect(response.status).toBe(200);
    expectContract(response, token);
  });

  it('one VM whose own record fails nulls only that VM’s tagNames and annotations, not the list', async () => {
    let failed: string | null = null;
    const gateway = start({
      env: { QUEUE_RETRY_MAX_ATTEMPTS: '1' },
      wrapFetch: (simulator) => (input, init) => {
        const url = new URL(input);
        if (url.pathname.endsWith('/virtual_machines/virtual_machine') && (failed === null || url.search === failed)) {
          failed = url.search;
          return Promise.resolve(cannedError(503, 'service_unavailable'));
        }
        return simulator(input, init);
      },
    });
    const token = DEMO_TOKENS.globex;
    const response = await gateway.query('{ organization(subDomain: "globex") { virtualMachines(first: 5) { edges { node { id tagNames annotations { key } } } } } }', { token });
    const edges = response.body.data!.organization.virtualMachines.edges as Array<{ node: { id: string; tagNames: string[] | null; annotations: unknown[] | null } }>;
    expect(edges).toHaveLength(5);
    const broken = edges.findIndex((e) => e.node.tagNames === null);
    expect(broken).toBeGreaterThanOrEqual(0);
    edges.forEach(({ node }, i) => {
      expect(node.id).toMatch(/^vm_/);
      if (i === broken) {
        expect(node).toEqual({ id: node.id, tagNames: null, annotations: null });
      } else {
        expect(Array.isArray(node.tagNames) && Array.isArray(node.annotations)).toBe(true);
      }
    });
    expect(errorCodes(response.body)).toEqual(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);
    expect(response.body.errors!.map((e) => e.path).sort()).toEqual(
      ['annotations', 'tagNames'].map((field) => ['organization', 'virtualMachines', 'edges', broken, 'node', field]).sort(),
    );
    expect(response.status).toBe(200);
    expectContract(response, token);
  });

  it('a root list or connection that fails is null on its own; the other root fields keep their data', async () => {
    const gateway = start();
    const token = DEMO_TOKENS.globex;
    for (const failing of ['countries(first: 101) { totalCount }', 'gpuTypes(after: "bogus") { totalCount }', 'virtualMachinePackages(organization: { subDomain: "acme" }) { totalCount }']) {
      const response = await gateway.query(`{ ${failing} zones { id } }`, { token });
      const field = failing.slice(0, failing.search(/[(]/));
      expect(response.body.data, failing).toEqual({ [field]: null, zones: expect.any(Array) });
      expect(response.body.data!.zones.length, failing).toBeGreaterThan(0);
      expect(response.body.errors, failing).toHaveLength(1);
      expect(response.body.errors![0]!.path, failing).toEqual([field]);
      expectContract(response, token);
    }
  });
});
