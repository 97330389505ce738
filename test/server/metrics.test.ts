import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/server/metrics.js';

const operationsIn = (text: string) => new Set([...text.matchAll(/graphql_requests_total\{operation="([^"]+)"/g)].map((m) => m[1]));

describe('createMetrics', () => {
  it('caps distinct operation labels and counts the rest as "other"', async () => {
    const metrics = createMetrics({ maxOperationLabels: 3 });
    for (const name of ['A', 'B', 'C', 'D', 'E', 'A']) metrics.graphqlRequest(name, 200, 1, `token-${name}`);
    const text = await metrics.render();
    expect(operationsIn(text)).toEqual(new Set(['A', 'B', 'C', 'other']));
    expect(text).toContain('graphql_requests_total{operation="A",status="200"} 2');
    expect(text).toContain('graphql_requests_total{operation="other",status="200"} 2');
  });

  it('gives a name a label of its own only for a request that read Katapult data and was answered', async () => {
    const metrics = createMetrics({ maxOperationLabels: 2 });
    for (const name of ['Junk1', 'Junk2', 'Junk3']) metrics.graphqlRequest(name, 401, 1, null);
    metrics.graphqlRequest('Dashboard', 200, 1, 't1');
    // Once it has one, every request under that name uses it.
    metrics.graphqlRequest('Dashboard', 429, 1, null);
    const text = await metrics.render();
    expect(operationsIn(text)).toEqual(new Set(['other', 'Dashboard']));
    expect(text).toContain('graphql_requests_total{operation="other",status="401"} 3');
    expect(text).toContain('graphql_requests_total{operation="Dashboard",status="429"} 1');
  });

  it('lets one token take a quarter of the slots at most: one user\'s made-up names cannot take them all', async () => {
    const metrics = createMetrics({ maxOperationLabels: 8 });
    for (let i = 0; i < 5; i++) metrics.graphqlRequest(`Junk${i}`, 200, 1, 'greedy');
    for (const name of ['Dashboard', 'VmPage', 'Zones']) metrics.graphqlRequest(name, 200, 1, `user-${name}`);
    const text = await metrics.render();
    expect(operationsIn(text)).toEqual(new Set(['Junk0', 'Junk1', 'other', 'Dashboard', 'VmPage', 'Zones']));
    expect(text).toContain('graphql_requests_total{operation="other",status="200"} 3');
  });

  it('labels unnamed operations "anonymous" and refuses names that are not GraphQL names', async () => {
    const metrics = createMetrics();
    metrics.graphqlRequest(null, 400, 1, null);
    metrics.graphqlRequest('Bearer kp_live_x y', 200, 1, 't1');
    expect(operationsIn(await metrics.render())).toEqual(new Set(['anonymous', 'other']));
  });

  it('labels an upstream call that is not a path template as "other"', async () => {
    const metrics = createMetrics();
    metrics.upstreamCall('/virtual_machines/virtual_machine?virtual_machine[id]=vm_1', 200, 5);
    metrics.upstreamCall('/zones', null, 5);
    const text = await metrics.render();
    expect(text).toContain('upstream_requests_total{endpoint="other",status="200"} 1');
    expect(text).toContain('upstream_requests_total{endpoint="/zones",status="error"} 1');
    expect(text).not.toContain('vm_1');
  });

  it('reads queue and cache gauges at scrape time and leaves the budget absent until one is known', async () => {
    const metrics = createMetrics();
    const queue = { lanes: 1, waiting: 4, inFlight: 2, pausedLanes: 0, minRemaining: null as number | null, avgRemaining: null as number | null, circuit: 'closed' as const };
    metrics.watch({ queue: () => queue, cache: () => ({ entries: 7, bytes: 7000 }) });
    let text = await metrics.render();
    expect(text).toContain('queue_depth 4');
    expect(text).toContain('queue_in_flight 2');
    expect(text).toContain('cache_entries 7');
    expect(text).toContain('cache_bytes 7000');
    expect(text).not.toMatch(/^queue_budget_remaining/m);
    queue.minRemaining = 12;
    queue.avgRemaining = 40;
    text = await metrics.render();
    expect(text).toContain('queue_budget_remaining{aggregate="min"} 12');
    expect(text).toContain('queue_budget_remaining{aggregate="avg"} 40');
  });

  it('registers nothing in the process-wide default registry', async () => {
    const { register } = await import('prom-client');
    createMetrics();
    expect(await register.getSingleMetric('graphql_requests_total')).toBeUndefined();
  });
});

describe('process series', () => {
  it('are exported only when asked for, on the app\'s own registry', async () => {
    expect(await createMetrics().render()).not.toMatch(/^process_resident_memory_bytes/m);
    const text = await createMetrics({ processMetrics: true }).render();
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+/m);
    expect(text).toMatch(/^nodejs_external_memory_bytes \d+/m);
  });

  it('include the finished-response cache gauges once sources are watched', async () => {
    const metrics = createMetrics();
    const queue = { lanes: 0, waiting: 0, inFlight: 0, pausedLanes: 0, minRemaining: null, avgRemaining: null, circuit: 'closed' as const };
    metrics.watch({ queue: () => queue, cache: () => ({ entries: 0, bytes: 0 }), responseCache: () => ({ entries: 3, bytes: 4096 }) });
    const text = await metrics.render();
    expect(text).toContain('response_cache_bytes 4096');
    expect(text).toContain('response_cache_entries 3');
  });
});
