import { describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS } from '../../src/simulator/index.js';
import { get, readReference, referenceDescriptions, type SimResponse } from './client.js';

const ORG_VMS = '/organizations/organization/virtual_machines';

function expectErrorEnvelope(res: SimResponse, status: number, code: string, detail: Record<string, unknown> = {}) {
  expect(res.status).toBe(status);
  expect(Object.keys(res.json)).toEqual(['error']);
  expect(Object.keys(res.json.error)).toEqual(['code', 'description', 'detail']);
  expect(res.json.error.code).toBe(code);
  expect(res.json.error.detail).toEqual(detail);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(res.headers.get('cache-control')).toBe('no-cache');
  expect(res.headers.get('x-api-schema')).toBe('json-error');
  expect(res.headers.get('etag')).toBeNull();
  expect(res.headers.get('retry-after')).toBeNull();
}

function expectRateLimitHeaders(res: SimResponse) {
  expect(res.headers.get('x-ratelimit-permitted')).toMatch(/^\d+$/);
  expect(res.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
}

describe('simulator error conformance', () => {
  it('answers a request without a bearer token with 400 missing_api_token and no rate-limit headers', async () => {
    const sim = createSimulator();
    const res = await get(sim, '/data_centers', null);
    expectErrorEnvelope(res, 400, 'missing_api_token');
    expect(res.headers.get('x-ratelimit-remaining')).toBeNull();
    const basic = await get(sim, '/data_centers', null, { headers: { Authorization: 'Basic abc' } });
    expect(basic.json.error.code).toBe('missing_api_token');
  });

  it('answers an unknown token with 403 invalid_api_token whose detail has a null details field', async () => {
    const res = await get(createSimulator(), '/data_centers', 'kp_not_a_real_token_000000');
    expectErrorEnvelope(res, 403, 'invalid_api_token', { details: null });
  });

  it('answers a token lacking the VM scopes with 403 scope_not_granted listing the endpoint scopes', async () => {
    const sim = createSimulator();
    const res = await get(sim, `${ORG_VMS}?organization[sub_domain]=globex`, DEMO_TOKENS.noVmScope);
    expectErrorEnvelope(res, 403, 'scope_not_granted', { scopes: ['virtual_machines', 'virtual_machines:read'] });
    expectRateLimitHeaders(res);
    const ok = await get(sim, '/organizations', DEMO_TOKENS.noVmScope);
    expect(ok.status).toBe(200);
  });

  it('checks the scope before the arguments, so a bad per_page still gives scope_not_granted', async () => {
    const res = await get(createSimulator(), `${ORG_VMS}?per_page=abc`, DEMO_TOKENS.noVmScope);
    expect(res.json.error.code).toBe('scope_not_granted');
  });

  it('answers the suspended organization with 403 organization_suspended', async () => {
    const sim = createSimulator();
    const res = await get(sim, `${ORG_VMS}?organization[sub_domain]=initech`, DEMO_TOKENS.suspended);
    expectErrorEnvelope(res, 403, 'organization_suspended');
    expectRateLimitHeaders(res);
    const info = await get(sim, '/organizations/organization?organization[sub_domain]=initech', DEMO_TOKENS.suspended);
    expect(info.json.error.code).toBe('organization_suspended');
  });

  it('hides other organizations from an organization-level token with 404 organization_not_found', async () => {
    const res = await get(createSimulator(), `${ORG_VMS}?organization[sub_domain]=globex`, DEMO_TOKENS.acme);
    expectErrorEnvelope(res, 404, 'organization_not_found');
    expectRateLimitHeaders(res);
  });

  it.each([
    ['/virtual_machines/virtual_machine?virtual_machine[id]=vm_0000000000000000', 'virtual_machine_not_found'],
    ['/data_centers/data_center?data_center[permalink]=xx-nope-01', 'data_center_not_found'],
    ['/zones/zone?zone[id]=zone_0000000000000000', 'zone_not_found'],
    ['/countries/country?country[iso_code2]=ZZ', 'country_not_found'],
    ['/gpu_types/gpu_type?gpu_type[permalink]=nope', 'gpu_type_not_found'],
    ['/virtual_machine_packages/virtual_machine_package?virtual_machine_package[permalink]=rock-999', 'package_not_found'],
    ['/data_centers/data_center/gpu_types?data_center[id]=dc_0000000000000000', 'data_center_not_found'],
  ])('answers %s with 404 %s', async (path, code) => {
    const res = await get(createSimulator(), path, DEMO_TOKENS.acme);
    expectErrorEnvelope(res, 404, code);
    expectRateLimitHeaders(res);
  });

  it('does not show another organization its private package', async () => {
    const sim = createSimulator();
    const res = await get(sim, '/virtual_machine_packages/virtual_machine_package?virtual_machine_package[permalink]=globex-xl', DEMO_TOKENS.acme);
    expect(res.json.error.code).toBe('package_not_found');
    const own = await get(sim, '/virtual_machine_packages/virtual_machine_package?virtual_machine_package[permalink]=globex-xl', DEMO_TOKENS.globex);
    expect(own.json.virtual_machine_package.privacy).toBe('private');
  });

  it('answers a VM in the trash with 406 object_in_trash carrying the trash object', async () => {
    const sim = createSimulator();
    const trashed = sim.dataset.virtualMachines.find((vm) => vm.trash && vm.virtualMachine.organization.sub_domain === 'globex');
    expect(trashed?.trash).toBeTruthy();
    const res = await get(sim, `/virtual_machines/virtual_machine?virtual_machine[fqdn]=${trashed!.virtualMachine.fqdn}`, DEMO_TOKENS.globex);
    expectErrorEnvelope(res, 406, 'object_in_trash', { trash_object: trashed!.trash });
    expect(Object.keys(res.json.error.detail.trash_object)).toEqual(['id', 'keep_until', 'object_id', 'object_type']);
  });

  it('answers /users/current for an organization-level token with 404 no_user_associated_with_identity', async () => {
    const res = await get(createSimulator(), '/users/current', DEMO_TOKENS.globex);
    expectErrorEnvelope(res, 404, 'no_user_associated_with_identity');
    expect(res.json.error.description).toBe('There is no user associated with this API token');
  });

  it('answers an unknown route with 404 route_not_found naming the path and method, before any auth', async () => {
    const sim = createSimulator();
    const res = await get(sim, '/organizations/organization/load_balancerz', null);
    expectErrorEnvelope(res, 404, 'route_not_found');
    expect(res.json.error.description).toBe("No route matches 'organizations/organization/load_balancerz' for GET");
    const post = await sim.fetch('http://127.0.0.1/core/v1/data_centers', { method: 'POST', headers: { Authorization: `Bearer ${DEMO_TOKENS.acme}` } });
    expect((await post.json()).error.description).toBe("No route matches 'data_centers' for POST");
  });

  it('uses the exact descriptions of the upstream reference for every error it can raise', async (ctx) => {
    const reference = readReference();
    if (reference === null) {
      console.warn('upstream reference README not found next to the repository: skipping the description cross-check');
      ctx.skip();
      return;
    }
    const expected = referenceDescriptions(reference);
    const sim = createSimulator({ rateLimitPerMinute: 1000 });
    sim.setTokenLimit(DEMO_TOKENS.user, 0);
    const trashed = sim.dataset.virtualMachines.find((vm) => vm.trash && vm.virtualMachine.organization.sub_domain === 'acme')!;
    const seen = new Map<string, string>();
    const record = (res: SimResponse) => seen.set(res.json.error.code, res.json.error.description);
    record(await get(sim, '/zones', null));
    record(await get(sim, '/zones', 'kp_nope_nope_nope_nope_nope'));
    record(await get(sim, ORG_VMS, DEMO_TOKENS.noVmScope));
    record(await get(sim, `${ORG_VMS}?organization[sub_domain]=initech`, DEMO_TOKENS.suspended));
    record(await get(sim, '/virtual_machine_packages/_', DEMO_TOKENS.acme));
    record(await get(sim, `/virtual_machines/${trashed.virtualMachine.id}`, DEMO_TOKENS.acme));
    record(await get(sim, '/zones', DEMO_TOKENS.user));
    sim.setFaults({ failureRatio: 1 });
    record(await get(sim, '/zones', DEMO_TOKENS.acme));
    for (const code of ['missing_api_token', 'invalid_api_token', 'scope_not_granted', 'organization_suspended', 'package_not_found', 'object_in_trash', 'rate_limit_reached', 'service_unavailable']) {
      expect(expected.get(code), `reference row for ${code}`).toBeDefined();
      expect(seen.get(code), code).toBe(expected.get(code));
    }
    sim.setFaults({ failureRatio: 0 });
    const notFound = await get(sim, '/virtual_machines/_', DEMO_TOKENS.acme);
    // The reference quotes this body verbatim in its envelope example.
    expect(reference).toContain(notFound.text);
  });
});
