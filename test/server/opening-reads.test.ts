import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpeningReadsMemory } from '../../src/data/opening-reads.js';
import { MAX_OPENING_READS, type OpeningRead } from '../../src/data/katapult-data.js';
import { createSimulator, DEMO_TOKENS, LOAD_TOKEN_PREFIX, type Simulator } from '../../src/simulator/index.js';
import { bearer, post, requestSummaries, startGateway, type TestGateway } from '../production/gateway.js';

/** The body without its request ids, which differ per request. */
function withoutRequestIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutRequestIds);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'requestId').map(([key, inner]) => [key, withoutRequestIds(inner)]));
}

const read = (path: string, page = 1): OpeningRead => ({ path, kind: 'vmList', params: [['page', String(page)]] });

describe('the memory of opening reads', () => {
  it('keeps the union of what requests for an operation opened with, in order, up to the cap', () => {
    const memory = createOpeningReadsMemory({ maxBytes: 1024 * 1024 });
    memory.remember('op', [read('/a')], 't1');
    memory.remember('op', [read('/a'), read('/b')], 't2');
    memory.remember('op', [], 't1');
    expect(memory.recall('op')).toEqual([read('/a'), read('/b')]);
    expect(memory.recall('other')).toBeUndefined();
    memory.remember('many', Array.from({ length: MAX_OPENING_READS + 5 }, (_, i) => read('/x', i)), 't1');
    expect(memory.recall('many')).toHaveLength(MAX_OPENING_READS);
  });

  it('is bounded by its bytes', () => {
    const memory = createOpeningReadsMemory({ maxBytes: 4096, maxTokenBytes: 4096 });
    for (let i = 0; i < 200; i++) memory.remember(`op${i}`, [read('/organizations/organization/virtual_machines')], 't1');
    expect(memory.recall('op0')).toBeUndefined();
    expect(memory.recall('op199')).toBeDefined();
  });

  it("gives each token a share: one token's stream of operations pushes out its own entries, not others'", () => {
    const memory = createOpeningReadsMemory({ maxBytes: 64 * 1024, maxTokenBytes: 4096 });
    memory.remember('dashboard', [read('/organizations/organization/virtual_machines')], 'steady');
    for (let i = 0; i < 1000; i++) memory.remember(`search${i}`, [read('/organizations/organization/virtual_machines', i)], 'flood');
    expect(memory.recall('dashboard')).toBeDefined();
    expect(memory.recall('search999')).toBeDefined();
    expect(memory.recall('search0')).toBeUndefined();
  });
});

describe('reads started on arrival, over HTTP', () => {
  let gateway: TestGateway | undefined;
  let simulator: Simulator | undefined;
  afterEach(async () => {
    await gateway?.close();
    await simulator?.close();
  });
  // With Katapult's answers a few milliseconds away, as they are, a cold request asks for all of
  // its opening reads before the first answer comes.
  const start = async () => startGateway({ env: { LOG_LEVEL: 'info' }, simulator: (simulator = createSimulator({ latencyMs: 5 })) });

  const DASHBOARD = 'query Dashboard($n: Int) { organization(subDomain: "globex") { virtualMachines(first: $n) { edges { node { name zone { name dataCenter { name } } package { name cpuCores } } } } } }';
  const loadToken = () => `${LOAD_TOKEN_PREFIX}opening_${randomBytes(6).toString('hex')}`;

  it('starts the reads a request for the same operation opened with, for another token, with no second call for any', async () => {
    gateway = await start();
    const first = await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 5 } }, bearer(loadToken()));
    expect(first.status).toBe(200);
    const before = gateway.simulator.requests.length;
    const secondToken = loadToken();
    const second = await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 5 } }, bearer(secondToken));
    expect(second.status).toBe(200);
    expect(second.json.errors).toBeUndefined();
    // The same VMs, zones and packages: the token's own reads answered the same operation.
    expect(second.json).toEqual(first.json);

    const [one, two] = requestSummaries(gateway);
    expect(one).toMatchObject({ prefetchedReads: 0 });
    expect(one!.upstreamCalls).toBeGreaterThanOrEqual(2);
    // Every read the first request opened with was started on arrival, and none was sent twice.
    expect(two).toMatchObject({ prefetchedReads: one!.upstreamCalls, upstreamCalls: one!.upstreamCalls });
    // Each read counted once: a resolver that asked for a started read joined it, not the cache's flight.
    expect(two!.cache).toEqual(one!.cache);
    const sent = gateway.simulator.requests.slice(before);
    expect(sent).toHaveLength(one!.upstreamCalls);
    expect(new Set(sent.map((r) => `${r.path}?${r.query}`)).size).toBe(sent.length);
  });

  it('starts nothing for another operation, another set of variables, or a request for a refresh', async () => {
    gateway = await start();
    await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 5 } }, bearer(loadToken()));
    await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 6 } }, bearer(loadToken()));
    await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 5 } }, { ...bearer(loadToken()), 'cache-control': 'no-cache' });
    await post(gateway.endpoint, { query: DASHBOARD.replace('cpuCores', 'memoryInGb'), variables: { n: 5 } }, bearer(loadToken()));
    expect(requestSummaries(gateway).map((s) => s.prefetchedReads)).toEqual([0, 0, 0, 0]);
  });

  it("answers each token from its own reads: another token's run of the operation changes no answer", async () => {
    // What each token gets when no one ran the operation before it.
    const alone = new Map<string, unknown>();
    const others = [DEMO_TOKENS.acme, DEMO_TOKENS.noVmScope, DEMO_TOKENS.user];
    for (const token of others) {
      gateway = await start();
      alone.set(token, withoutRequestIds((await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 4 } }, bearer(token))).json));
      await gateway.close();
      await simulator!.close();
      gateway = undefined;
    }
    gateway = await start();
    await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 4 } }, bearer(DEMO_TOKENS.globex));
    for (const token of others) {
      const after = await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 4 } }, bearer(token));
      expect(withoutRequestIds(after.json)).toEqual(alone.get(token));
    }
    // Each of them started its reads early (so the check above is about reads started early).
    expect(requestSummaries(gateway).slice(1).map((s) => s.prefetchedReads > 0)).toEqual([true, true, true]);
    // acme's token cannot read globex, and the token without the VM scope cannot list its VMs.
    expect(alone.get(DEMO_TOKENS.acme)).toHaveProperty('errors');
    expect(alone.get(DEMO_TOKENS.noVmScope)).toHaveProperty('errors');
  });

  it('starts nothing early for a request with little time left', async () => {
    gateway = await start();
    await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 5 } }, bearer(loadToken()));
    await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 5 } }, { ...bearer(loadToken()), 'x-request-timeout-ms': '200' });
    await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 5 } }, { ...bearer(loadToken()), 'x-request-timeout-ms': '2000' });
    expect(requestSummaries(gateway).map((s) => s.prefetchedReads > 0)).toEqual([false, false, true]);
  });

  it('costs a token Katapult refuses no more calls than its own run would', async () => {
    gateway = await start();
    const refused = () => `kp_${randomBytes(12).toString('hex')}`;
    // Cold, with nothing started early: what a refused token costs.
    const own = await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 7 } }, bearer(refused()));
    await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 7 } }, bearer(loadToken()));
    const early = await post(gateway.endpoint, { query: DASHBOARD, variables: { n: 7 } }, bearer(refused()));
    expect(early.status).toBe(own.status);
    expect(early.json.errors?.[0]?.extensions?.code).toBe(own.json.errors?.[0]?.extensions?.code);
    const [ownRun, , earlyRun] = requestSummaries(gateway);
    expect(earlyRun!.prefetchedReads).toBeGreaterThan(0);
    expect(earlyRun!.upstreamCalls).toBeLessThanOrEqual(ownRun!.upstreamCalls);
  });
});
