import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createTestGateway, rewritingAnswers, type TestGateway } from '../helpers/gateway.js';

/**
 * Apia's schema, which Katapult's serialisers are built from, lets a data center's permalink be
 * null (the OpenAPI document does not say so). The simulator always names one, so these tests
 * blank it in every answer that carries a data center: the field is null and nothing around it
 * is lost.
 */

/** Sets `permalink: null` on every object with a `dc_`/`loc_` id, at any depth. */
function blankDataCenterPermalinks(value: unknown): void {
  if (Array.isArray(value)) return value.forEach(blankDataCenterPermalinks);
  if (value === null || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  if (typeof record.id === 'string' && /^(dc|loc)_/.test(record.id) && 'permalink' in record) record.permalink = null;
  for (const child of Object.values(record)) blankDataCenterPermalinks(child);
}

const withoutDataCenterPermalinks = rewritingAnswers(/./, blankDataCenterPermalinks);

const QUERY = /* GraphQL */ `
  {
    dataCenters { id name permalink }
    zones { id permalink dataCenter { id permalink } }
    organization(subDomain: "globex") {
      virtualMachines(first: 5) { edges { node { id zone { id dataCenter { id name permalink country { name } } } } } }
    }
  }
`;

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

type DataCenter = { id: string; name?: string; permalink: string | null };

describe('DataCenter.permalink', () => {
  it('is the permalink Katapult sends', async () => {
    gateway = createTestGateway();
    const { body } = await gateway.query(QUERY, { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    const permalinks = (body.data!.dataCenters as DataCenter[]).map((dc) => dc.permalink);
    expect(permalinks.length).toBeGreaterThan(0);
    expect(permalinks.every((p) => typeof p === 'string' && p.length > 0)).toBe(true);
  });

  it('is null, with no error and nothing else lost, when Katapult sends null', async () => {
    gateway = createTestGateway({ wrapFetch: withoutDataCenterPermalinks });
    const { body } = await gateway.query(QUERY, { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    const dataCenters = body.data!.dataCenters as DataCenter[];
    expect(dataCenters.length).toBeGreaterThan(0);
    expect(dataCenters.every((dc) => dc.permalink === null && dc.name)).toBe(true);
    const zones = body.data!.zones as Array<{ permalink: string | null; dataCenter: DataCenter }>;
    expect(zones.length).toBeGreaterThan(0);
    expect(zones.every((z) => z.dataCenter.permalink === null)).toBe(true);
    // Only the data centers' permalinks were blanked: the zones keep theirs.
    expect(zones.some((z) => typeof z.permalink === 'string')).toBe(true);
    const vms = body.data!.organization.virtualMachines.edges as Array<{ node: { zone: { dataCenter: DataCenter & { country: { name: string } } } } }>;
    expect(vms.length).toBe(5);
    expect(vms.every((e) => e.node.zone.dataCenter.permalink === null && e.node.zone.dataCenter.country.name)).toBe(true);
  });
});

describe('DataCenter.country', () => {
  it('is null, not an internal error, when the data center list sends a null country (the answer check lets it through)', async () => {
    const noCountries = rewritingAnswers(/\/data_centers(\/data_center)?$/, (body) => {
      for (const dc of [body.data_center, ...(body.data_centers ?? [])]) if (dc) dc.country = null;
    });
    gateway = createTestGateway({ wrapFetch: noCountries });
    const { body } = await gateway.query(
      '{ dataCenters { id country { name } } organization(subDomain: "globex") { virtualMachines(first: 2) { edges { node { zone { dataCenter { name country { name } } } } } } } }',
      { token: DEMO_TOKENS.globex },
    );
    expect(body.errors).toBeUndefined();
    const dataCenters = body.data!.dataCenters as Array<{ id: string; country: unknown }>;
    expect(dataCenters.length).toBeGreaterThan(0);
    expect(dataCenters.every((dc) => dc.country === null)).toBe(true);
    const vms = body.data!.organization.virtualMachines.edges as Array<{ node: { zone: { dataCenter: { name: string; country: unknown } } } }>;
    expect(vms).toHaveLength(2);
    expect(vms.every((e) => e.node.zone.dataCenter.name && e.node.zone.dataCenter.country === null)).toBe(true);
  });
});
