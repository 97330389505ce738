import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpeningReadsMemory } from '../../src/data/opening-reads.js';
import { MAX_OPENING_READS, type OpeningRead } from '../../src/data/katapult-data.js';
import { createSimulator, LOAD_TOKEN_PREFIX, type Simulator } from '../../src/simulator/index.js';
import { bearer, post, startGateway, type TestGateway } from '../production/gateway.js';

const read = (path: string, page = 1): OpeningRead => ({ path, kind: 'vmList', params: [['page', String(page)]] });

describe('the memory of opening reads', () => {
  it('keeps the union of what requests for an operation opened with, in order, up to the cap', () => {
    const memory = createOpeningReadsMemory({ maxBytes: 1024 * 1024 });
    memory.remember('op', [read('/a')]);
    memory.remember('op', [read('/a'), read('/b')]);
    memory.remember('op', []);
    expect(memory.recall('op')).toEqual([read('/a'), read('/b')]);
    expect(memory.recall('other')).toBeUndefined();
    memory.remember('many', Array.from({ length: MAX_OPENING_READS + 5 }, (_, i) => read('/x', i)));
    expect(memory.recall('many')).toHaveLength(MAX_OPENING_READS);
  });

  it('is bounded by its bytes', () => {
    const memory = createOpeningReadsMemory({ maxBytes: 4096 });
    for (let i = 0; i < 200; i++) memory.remember(`op${i}`, [read('/organizations/organization/virtual_machines')]);
    expect(memory.recall('op0')).toBeUndefined();
    expect(memory.recall('op199')).toBeDefined();
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
  const summaries = (g: TestGateway) =>
    g.logs.map((line) => JSON.parse(line) as Record<string, any>).filter((record) => record.msg === 'graphql request');

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

    const [one, two] = summaries(gateway);
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
    expect(summaries(gateway).map((s) => s.prefetchedReads)).toEqual([0, 0, 0, 0]);
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
    const [ownRun, , earlyRun] = summaries(gateway);
    expect(earlyRun!.prefetchedReads).toBeGreaterThan(0);
    expect(earlyRun!.upstreamCalls).toBeLessThanOrEqual(ownRun!.upstreamCalls);
  });
});
