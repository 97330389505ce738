import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createSimulator, DEMO_TOKENS, LOAD_TOKEN_PREFIX } from '../../src/simulator/index.js';
import { bearer, get, ORG_NAME_QUERY, post, raw, startGateway, type TestGateway } from './gateway.js';

const DISTINCTIVE_TOKEN = `${LOAD_TOKEN_PREFIX}metricsleak_${randomBytes(8).toString('hex')}`;
const VM_ID = 'vm_metricsprobe0001';

let gateway: TestGateway;
let scrape: string;

/** The value of one sample line, e.g. `cache_reads_total{status="hit",kind="vm"}`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

beforeAll(async () => {
  const simulator = createSimulator();
  // A fake clock standing a second after a minute boundary: the 429 below pauses the lane until
  // the next window, 59 s away, so the queued call must fail fast whatever the wall clock says.
  gateway = await startGateway({ simulator, clock: createFakeClock() });
  const { endpoint } = gateway;
  const auth = bearer(DISTINCTIVE_TOKEN);
  await post(endpoint, { query: ORG_NAME_QUERY, operationName: 'OrgName' }, auth);
  await post(endpoint, { query: ORG_NAME_QUERY }, auth);
  await get(endpoint, { query: `{ virtualMachine(id: "${VM_ID}") { name } }` }, auth);
  await post(endpoint, { query: 'query Fleet { organization(subDomain: "globex") { virtualMachines(first: 3) { totalCount } } }' }, auth);
  await post(endpoint, { query: '{ organizations { name } }' }, bearer(DEMO_TOKENS.noVmScope));
  // The token's budget shrinks behind the gateway's back: its next call gets a 429.
  simulator.setTokenLimit(DEMO_TOKENS.noVmScope, 1);
  await post(endpoint, { query: '{ zones { name } }' }, bearer(DEMO_TOKENS.noVmScope));
  await raw(`${endpoint}?query=${encodeURIComponent('{ zones { name } }')}`, { headers: auth }); // refused: no CSRF header
  scrape = (await raw(`${gateway.url}/metrics`)).text;
});

afterAll(async () => {
  await gateway?.close();
  await gateway?.simulator.close();
});

describe('/metrics', () => {
  it('serves Prometheus text with request, upstream, cache and queue series', () => {
    expect(sample(scrape, 'graphql_requests_total', { operation: 'OrgName', status: '200' })).toBe(2);
    expect(sample(scrape, 'graphql_requests_total', { operation: 'anonymous', status: '403' })).toBe(1);
    expect(sample(scrape, 'graphql_request_duration_seconds_count', { operation: 'Fleet' })).toBe(1);
    expect(sample(scrape, 'upstream_requests_total', { endpoint: '/organizations/organization', status: '200' })).toBe(1);
    expect(sample(scrape, 'upstream_requests_total', { endpoint: '/organizations/organization/virtual_machines', status: '200' })).toBe(1);
    expect(sample(scrape, 'upstream_request_duration_seconds_count', { endpoint: '/organizations/organization' })).toBe(1);
    expect(sample(scrape, 'cache_reads_total', { status: 'miss', kind: 'organization' })).toBe(1);
    expect(sample(scrape, 'cache_reads_total', { status: 'hit', kind: 'organization' })).toBe(1);
    expect(sample(scrape, 'cache_entries')).toBeGreaterThan(0);
    expect(sample(scrape, 'cache_bytes')).toBeGreaterThan(0);
    expect(sample(scrape, 'queue_depth')).toBe(0);
    expect(sample(scrape, 'queue_in_flight')).toBe(0);
    expect(sample(scrape, 'queue_wait_seconds_count')).toBeGreaterThanOrEqual(4);
    expect(sample(scrape, 'queue_budget_remaining', { aggregate: 'min' })).toBeGreaterThanOrEqual(0);
    expect(sample(scrape, 'upstream_rate_limited_total')).toBe(1);
    expect(sample(scrape, 'queue_rejections_total', { reason: 'rate_limited' })).toBeGreaterThanOrEqual(1);
    expect(sample(scrape, 'inbound_rejections_total', { reason: 'csrf' })).toBe(1);
    for (const name of ['cache_evictions_total', 'queue_rejections_total', 'response_cache_hits_total']) expect(scrape).toContain(`# TYPE ${name} counter`);
  });

  it('never carries a token, a token fingerprint, an id or a raw URL in a label', () => {
    expect(scrape).not.toContain(DISTINCTIVE_TOKEN);
    expect(scrape).not.toContain('metricsleak');
    expect(scrape).not.toContain(gateway.app.tokens.fingerprint(DISTINCTIVE_TOKEN));
    expect(scrape).not.toContain(VM_ID);
    expect(scrape).not.toMatch(/endpoint="[^"]*[?=&]/);
    expect(scrape).not.toContain('/core/v1');
  });

  it('keeps a registry per app: a second gateway starts from zero', async () => {
    const other = await startGateway();
    try {
      const text = (await raw(`${other.url}/metrics`)).text;
      expect(sample(text, 'graphql_requests_total', { operation: 'OrgName' })).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it('is not served when METRICS_ENABLED=false', async () => {
    const other = await startGateway({ env: { METRICS_ENABLED: 'false' } });
    try {
      expect((await raw(`${other.url}/metrics`)).status).toBe(404);
    } finally {
      await other.close();
    }
  });
});

describe('operation labels', () => {
  it('cannot all be taken by requests that read nothing from Katapult with their token', async () => {
    const own = await startGateway();
    try {
      // More invented names than there are label slots (200): with no token, with a made-up one
      // (answered 200 when nothing is read), and with a made-up one that Katapult refuses.
      for (let i = 0; i < 210; i++) {
        const document = i % 3 === 2 ? `query Junk${i} { zones { id } }` : `query Junk${i} { __typename }`;
        await post(own.endpoint, { query: document }, i % 3 === 0 ? {} : bearer(`made-up-${i}`));
      }
      const answered = await post(own.endpoint, { query: 'query Fleet { organization(subDomain: "globex") { virtualMachines(first: 3) { totalCount } } }' }, bearer(DEMO_TOKENS.globex));
      expect(answered.status).toBe(200);
      const text = (await raw(`${own.url}/metrics`)).text;
      expect(sample(text, 'graphql_requests_total', { operation: 'Fleet', status: '200' })).toBe(1);
      expect(text).not.toMatch(/operation="Junk\d+"/);
      expect(sample(text, 'graphql_requests_total', { operation: 'other', status: '200' })).toBe(140);
    } finally {
      await own.close();
      await own.simulator.close();
    }
  });
});
