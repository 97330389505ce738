import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import type { FetchLike } from '../../src/upstream/http.js';
import { createTestGateway, errorCodes, requestsTo, rewritingAnswers, type TestGateway } from '../helpers/gateway.js';
import { cannedError } from './error-contract.js';

/**
 * Katapult refuses to show an organization that is suspended or not yet activated (403
 * organization_suspended / organization_not_activated on the organization lookup). A user's
 * organization list (`/users/current`) names them with id, name and sub-domain only, so any
 * other field needs that lookup. The simulator never refuses one of the demo user's
 * organizations, so these tests make it refuse globex.
 */

const refusing =
  (code: string) =>
  (simulator: FetchLike): FetchLike =>
  async (input, init) => {
    const url = new URL(input);
    if (url.pathname.endsWith('/organizations/organization') && [...url.searchParams.values()].some((v) => v === globexId || v === 'globex')) {
      return cannedError(403, code);
    }
    return simulator(input, init);
  };

/** Apia's organization list names no activation time: it needs the organization lookup. */
const withoutActivation = rewritingAnswers(/\/organizations$/, (body: { organizations: Array<Record<string, unknown>> }) => {
  for (const org of body.organizations) delete org.activated_at;
});

let globexId = '';
let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

async function viewerOrganizations(code: string, fields: string) {
  gateway = createTestGateway();
  const ids = await gateway.query('{ viewer { organizations { id subDomain } } }', { token: DEMO_TOKENS.user });
  globexId = (ids.body.data!.viewer.organizations as Array<{ id: string; subDomain: string }>).find((o) => o.subDomain === 'globex')!.id;
  await gateway.close();
  gateway = createTestGateway({ wrapFetch: refusing(code) });
  return gateway.query(`{ viewer { firstName organizations { subDomain ${fields} } } }`, { token: DEMO_TOKENS.user });
}

describe('organizations Katapult refuses to show', () => {
  it('a suspended organization reads as suspended, with no error', async () => {
    const { body } = await viewerOrganizations('organization_suspended', 'suspended');
    expect(body.errors).toBeUndefined();
    const organizations = body.data!.viewer.organizations as Array<{ subDomain: string; suspended: boolean }>;
    expect(organizations).toContainEqual({ subDomain: 'globex', suspended: true });
    expect(organizations).toContainEqual({ subDomain: 'acme', suspended: false });
  });

  it('a field the refusal does not answer nulls that organization only, not the viewer', async () => {
    const { body } = await viewerOrganizations('organization_suspended', 'createdAt');
    expect(errorCodes(body)).toEqual(['FORBIDDEN']);
    expect(body.data!.viewer.firstName).toBeTruthy();
    const organizations = body.data!.viewer.organizations as Array<{ subDomain: string; createdAt: string } | null>;
    expect(organizations).toHaveLength(2);
    expect(organizations.filter((o) => o === null)).toHaveLength(1);
    expect(organizations.find((o) => o !== null)).toMatchObject({ subDomain: 'acme', createdAt: expect.any(String) });
  });

  it('an organization not yet activated has activatedAt null, with no error', async () => {
    gateway = createTestGateway();
    const ids = await gateway.query('{ organizations { id subDomain } }', { token: DEMO_TOKENS.user });
    globexId = (ids.body.data!.organizations as Array<{ id: string; subDomain: string }>).find((o) => o.subDomain === 'globex')!.id;
    await gateway.close();
    gateway = createTestGateway({ wrapFetch: (simulator) => withoutActivation(refusing('organization_not_activated')(simulator)) });
    const { body } = await gateway.query('{ organizations { subDomain activatedAt } }', { token: DEMO_TOKENS.user });
    expect(body.errors).toBeUndefined();
    const organizations = body.data!.organizations as Array<{ subDomain: string; activatedAt: string | null }>;
    expect(organizations).toContainEqual({ subDomain: 'globex', activatedAt: null });
    expect(organizations.find((o) => o.subDomain === 'acme')!.activatedAt).toEqual(expect.any(String));
  });

  it('another refusal is still the field’s error', async () => {
    const { body } = await viewerOrganizations('organization_not_activated', 'suspended');
    expect(errorCodes(body)).toEqual(['FORBIDDEN']);
    expect((body.data!.viewer.organizations as unknown[]).filter((o) => o === null)).toHaveLength(1);
  });

  it('asked for by name, a suspended organization reads as suspended, with no error', async () => {
    gateway = createTestGateway();
    const { body } = await gateway.query('{ organization(subDomain: "initech") { subDomain suspended } }', { token: DEMO_TOKENS.suspended });
    expect(body).toEqual({ data: { organization: { subDomain: 'initech', suspended: true } } });
  });

  it('asked for by name, its other fields carry the refusal, from one read of the organization', async () => {
    gateway = createTestGateway();
    const { body } = await gateway.query('{ organization(subDomain: "initech") { suspended managed createdAt } }', { token: DEMO_TOKENS.suspended });
    // managed and createdAt are non-null: the first error nulls the organization, and graphql reports that one.
    expect(errorCodes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.extensions?.katapultCode).toBe('organization_suspended');
    expect(body.data).toEqual({ organization: null });
    expect(requestsTo(gateway.sim, '/organizations/organization')).toHaveLength(1);
  });

  it('fetched again by id through node(id:), a suspended organization reads as suspended too', async () => {
    gateway = createTestGateway();
    const initech = gateway.sim.visibleOrganizations(DEMO_TOKENS.suspended).find((o) => o.sub_domain === 'initech')!;
    const { body } = await gateway.query(`{ node(id: "${initech.id}") { __typename id ... on Organization { suspended } } }`, { token: DEMO_TOKENS.suspended });
    expect(body).toEqual({ data: { node: { __typename: 'Organization', id: initech.id, suspended: true } } });
  });

  it('asked for by name, an organization not yet activated has activatedAt null, with no error', async () => {
    gateway = createTestGateway({ wrapFetch: refusing('organization_not_activated') });
    const { body } = await gateway.query('{ organization(subDomain: "globex") { subDomain activatedAt } }', { token: DEMO_TOKENS.globex });
    expect(body).toEqual({ data: { organization: { subDomain: 'globex', activatedAt: null } } });
  });
});
