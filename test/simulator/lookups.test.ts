import { describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS, type SimulatorVirtualMachine } from '../../src/simulator/index.js';
import { get } from './client.js';

const VMS = '/organizations/organization/virtual_machines';

function ids(body: { virtual_machines: Array<{ id: string }> }): string[] {
  return body.virtual_machines.map((vm) => vm.id);
}

function filterIds(vms: readonly SimulatorVirtualMachine[], filters: Array<{ key: string; value?: string }>): string[] {
  return vms
    .filter((vm) => filters.every((f) => vm.annotations.some((a) => a.key === f.key && (f.value === undefined || a.value === f.value))))
    .map((vm) => vm.virtualMachine.id);
}

describe('simulator lookups and filters', () => {
  it('accepts bracketed lookups both raw and percent-encoded', async () => {
    const sim = createSimulator();
    const raw = await get(sim, `${VMS}?organization[sub_domain]=globex&per_page=100`, DEMO_TOKENS.globex);
    const encoded = await get(sim, `${VMS}?organization%5Bsub_domain%5D=globex&per_page=100`, DEMO_TOKENS.globex);
    const byId = await get(sim, `${VMS}?organization%5Bid%5D=${sim.dataset.organizations[1]!.id}&per_page=100`, DEMO_TOKENS.globex);
    expect(raw.status).toBe(200);
    expect(encoded.text).toBe(raw.text);
    expect(byId.text).toBe(raw.text);
  });

  it('rejects two members of one lookup set with invalid_argument ambiguous_lookup_values', async () => {
    const sim = createSimulator();
    const orgId = sim.dataset.organizations[1]!.id;
    const res = await get(sim, `${VMS}?organization%5Bid%5D=${orgId}&organization[sub_domain]=globex`, DEMO_TOKENS.globex);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: {
        code: 'invalid_argument',
        description: "The 'organization' argument is invalid",
        detail: {
          path: ['organization'],
          index: null,
          issue: 'ambiguous_lookup_values',
          issue_description: 'More than one value has been provided for a lookup argument set. Only one option may be provided.',
          errors: [],
          argument: { id: 'CoreAPI/Endpoints/VirtualMachines/ListEndpoint/BaseArgumentSet/OrganizationArgument', name: 'organization', description: null },
        },
      },
    });
  });

  it.each([
    ['/countries/country?country[iso_code2]=GB&country[iso_code3]=GBR', 'country'],
    ['/zones/zone?zone[id]=x&zone[permalink]=lon-zone-1', 'zone'],
    ['/virtual_machines/virtual_machine?virtual_machine[id]=x&virtual_machine[fqdn]=y', 'virtual_machine'],
  ])('treats every lookup set as exclusive: %s', async (path, name) => {
    const res = await get(createSimulator(), path, DEMO_TOKENS.acme);
    expect(res.status).toBe(400);
    expect(res.json.error.detail).toMatchObject({ path: [name], issue: 'ambiguous_lookup_values' });
  });

  it('uses the path segment as the id when no bracketed lookup is given', async () => {
    const sim = createSimulator();
    const globex = sim.dataset.organizations.find((o) => o.sub_domain === 'globex')!;
    const byPath = await get(sim, `/organizations/${globex.id}/virtual_machines?per_page=100`, DEMO_TOKENS.globex);
    const byQuery = await get(sim, `${VMS}?organization[id]=${globex.id}&per_page=100`, DEMO_TOKENS.globex);
    expect(byPath.status).toBe(200);
    expect(byPath.text).toBe(byQuery.text);
    const vm = sim.dataset.liveVirtualMachines(globex.id)[0]!.virtualMachine;
    expect((await get(sim, `/virtual_machines/${vm.id}`, DEMO_TOKENS.globex)).json.virtual_machine.id).toBe(vm.id);
  });

  it.each([`${VMS}`, '/organizations/_/virtual_machines', '/organizations/organization'])(
    'looks up the placeholder itself as an id and answers %s with organization_not_found',
    async (path) => {
      const res = await get(createSimulator(), path, DEMO_TOKENS.acme);
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe('organization_not_found');
    },
  );

  it('lets a query lookup win over the path segment', async () => {
    const res = await get(createSimulator(), '/organizations/_/virtual_machines?organization[sub_domain]=acme', DEMO_TOKENS.acme);
    expect(res.status).toBe(200);
  });

  it('finds countries by any of id, iso_code2 and iso_code3', async () => {
    const sim = createSimulator();
    const uk = sim.dataset.countries.find((c) => c.iso_code2 === 'GB')!;
    for (const query of [`country[id]=${uk.id}`, 'country[iso_code2]=GB', 'country%5Biso_code3%5D=GBR']) {
      const res = await get(sim, `/countries/country?${query}`, DEMO_TOKENS.acme);
      expect(res.json).toEqual({ country: uk });
    }
  });

  it('lists both organizations for the user-level token and resolves each', async () => {
    const sim = createSimulator();
    const list = await get(sim, '/organizations', DEMO_TOKENS.user);
    expect(list.json.organizations.map((o: { sub_domain: string }) => o.sub_domain)).toEqual(['acme', 'globex']);
    expect((await get(sim, `${VMS}?organization[sub_domain]=globex`, DEMO_TOKENS.user)).status).toBe(200);
    expect((await get(sim, `${VMS}?organization[sub_domain]=acme`, DEMO_TOKENS.user)).status).toBe(200);
    expect((await get(sim, `${VMS}?organization[sub_domain]=initech`, DEMO_TOKENS.user)).json.error.code).toBe('organization_not_found');
  });

  it('pairs interleaved annotation params one to one and filters with AND', async () => {
    const sim = createSimulator();
    const globex = sim.dataset.liveVirtualMachines(sim.dataset.organizations[1]!.id);
    const q = 'annotations[][key]=env&annotations[][value]=production&annotations[][key]=team&annotations[][value]=web';
    const res = await get(sim, `${VMS}?organization[sub_domain]=globex&${q}`, DEMO_TOKENS.globex);
    expect(res.status).toBe(200);
    const expected = filterIds(globex, [{ key: 'env', value: 'production' }, { key: 'team', value: 'web' }]);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(filterIds(globex, [{ key: 'env', value: 'production' }]).length);
    expect(ids(res.json)).toEqual(expected);
  });

  it('mis-pairs grouped annotation params the way Rack does, leaving a value without a key', async () => {
    const sim = createSimulator();
    const q = 'annotations[][key]=env&annotations[][key]=team&annotations[][value]=production&annotations[][value]=web';
    const res = await get(sim, `${VMS}?organization[sub_domain]=globex&${q}`, DEMO_TOKENS.globex);
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({
      code: 'missing_required_argument',
      description: "The 'annotations.key' argument is required but has not been provided",
      detail: { path: ['annotations', 'key'], argument: { name: 'key', description: null } },
    });
  });

  it('pairs a grouped key list without values differently from the interleaved form', async () => {
    const sim = createSimulator();
    const acme = sim.dataset.liveVirtualMachines(sim.dataset.organizations[0]!.id);
    const grouped = 'annotations[][key]=env&annotations[][key]=team&annotations[][value]=staging';
    const interleaved = 'annotations[][key]=env&annotations[][value]=staging&annotations[][key]=team';
    const base = `${VMS}?organization[sub_domain]=acme&per_page=200`;
    const a = await get(sim, `${base}&${grouped}`, DEMO_TOKENS.acme);
    const b = await get(sim, `${base}&${interleaved}`, DEMO_TOKENS.acme);
    // Grouped: [{env}, {team: staging}]; interleaved: [{env: staging}, {team}].
    expect(ids(a.json)).toEqual(filterIds(acme, [{ key: 'env' }, { key: 'team', value: 'staging' }]).slice(0, 200));
    expect(ids(b.json)).toEqual(filterIds(acme, [{ key: 'env', value: 'staging' }, { key: 'team' }]).slice(0, 200));
    expect(ids(b.json).length).toBeGreaterThan(0);
    expect(ids(a.json)).not.toEqual(ids(b.json));
  });

  it('matches any value when an annotation key comes without a value', async () => {
    const sim = createSimulator();
    const globex = sim.dataset.liveVirtualMachines(sim.dataset.organizations[1]!.id);
    const res = await get(sim, `${VMS}?organization[sub_domain]=globex&annotations%5B%5D%5Bkey%5D=team`, DEMO_TOKENS.globex);
    const expected = filterIds(globex, [{ key: 'team' }]);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(globex.length);
    expect(ids(res.json)).toEqual(expected);
  });

  it('returns the annotations of a single VM beside it', async () => {
    const sim = createSimulator();
    const vm = sim.dataset.virtualMachines.find((v) => v.annotations.length === 2 && !v.trash && v.virtualMachine.organization.sub_domain === 'acme')!;
    const res = await get(sim, `/virtual_machines/virtual_machine?virtual_machine[fqdn]=${vm.virtualMachine.fqdn}`, DEMO_TOKENS.user);
    expect(Object.keys(res.json)).toEqual(['virtual_machine', 'annotations']);
    expect(res.json.annotations).toEqual(vm.annotations);
  });
});
