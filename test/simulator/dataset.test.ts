import { describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS, LOAD_TOKEN_PREFIX, VM_COUNTS } from '../../src/simulator/index.js';
import { get } from './client.js';

const ID = /^[a-z]+_[A-Za-z0-9]{16}$/;
const ACME_VMS = '/organizations/organization/virtual_machines?organization[sub_domain]=acme';

describe('simulator dataset and shapes', () => {
  it('gives identical bodies and Etags from two simulators built the same way', async () => {
    const a = createSimulator();
    const b = createSimulator();
    for (const path of [`${ACME_VMS}&page=3`, '/virtual_machine_packages?organization[sub_domain]=acme', '/organizations', '/data_centers', '/users/current']) {
      const [ra, rb] = [await get(a, path, DEMO_TOKENS.user), await get(b, path, DEMO_TOKENS.user)];
      expect(ra.status).toBe(200);
      expect(rb.text).toBe(ra.text);
      expect(rb.headers.get('etag')).toBe(ra.headers.get('etag'));
    }
    const other = await get(createSimulator({ seed: 99 }), `${ACME_VMS}&page=3`, DEMO_TOKENS.user);
    expect(other.text).not.toBe((await get(a, `${ACME_VMS}&page=3`, DEMO_TOKENS.user)).text);
  });

  it('keeps fixed ids for the fixed part of the world whatever the seed', () => {
    const a = createSimulator().dataset;
    const b = createSimulator({ seed: 1 }).dataset;
    expect(b.organizations.map((o) => o.id)).toEqual(a.organizations.map((o) => o.id));
    expect(b.packages.map((p) => p.package.id)).toEqual(a.packages.map((p) => p.package.id));
    expect(a.gpuTypes.every((g) => g.id.startsWith('gput_'))).toBe(true);
  });

  it('has the documented sizes: 1,250 acme VMs, 12 globex VMs, 20 public packages', () => {
    const { dataset } = createSimulator();
    const [acme, globex, initech] = dataset.organizations;
    expect([acme?.sub_domain, globex?.sub_domain, initech?.sub_domain]).toEqual(['acme', 'globex', 'initech']);
    expect(dataset.liveVirtualMachines(acme!.id)).toHaveLength(VM_COUNTS.acme.live);
    expect(dataset.liveVirtualMachines(globex!.id)).toHaveLength(12);
    expect(initech?.suspended).toBe(true);
    expect(dataset.packagesFor(null)).toHaveLength(20);
    expect(dataset.zones.filter((z) => z.data_center.name === 'London')).toHaveLength(2);
  });

  it('uses Katapult-shaped ids, integer timestamps and packages the owner can use', () => {
    const { dataset } = createSimulator();
    for (const record of dataset.virtualMachines) {
      const vm = record.virtualMachine;
      expect(vm.id).toMatch(ID);
      expect(Number.isInteger(vm.created_at)).toBe(true);
      expect(vm.fqdn).toBe(`${vm.hostname}.${vm.organization.sub_domain}.katapult.cloud`);
      if (vm.package) expect(dataset.packagesFor(vm.organization.id).map((p) => p.package.name)).toContain(vm.package.name);
    }
    for (const id of [...dataset.countries, ...dataset.dataCenters, ...dataset.zones, ...dataset.organizations].map((x) => x.id)) expect(id).toMatch(ID);
    expect(dataset.dataCenters.some((d) => d.id.startsWith('loc_'))).toBe(true);
    expect(dataset.dataCenters.some((d) => d.id.startsWith('dc_'))).toBe(true);
  });

  it('serves the VM list item in the real shape: no country, package name only, no hypervisor', async () => {
    const res = await get(createSimulator(), `${ACME_VMS}&per_page=200`, DEMO_TOKENS.acme);
    const item = res.json.virtual_machines[0];
    expect(Object.keys(item)).toEqual(['id', 'name', 'hostname', 'fqdn', 'created_at', 'zone', 'package', 'gpu_type', 'ip_addresses']);
    expect(Object.keys(item.zone)).toEqual(['id', 'name', 'permalink', 'data_center']);
    expect(Object.keys(item.zone.data_center)).toEqual(['id', 'name', 'permalink']);
    expect(Object.keys(item.package)).toEqual(['name']);
    expect(Object.keys(item.ip_addresses[0])).toEqual(['address']);
    const withGpu = res.json.virtual_machines.find((vm: { gpu_type: unknown }) => vm.gpu_type !== null);
    expect(Object.keys(withGpu.gpu_type)).toEqual(['id', 'name', 'permalink']);
    expect(res.json.virtual_machines.some((vm: { gpu_type: unknown }) => vm.gpu_type === null)).toBe(true);
  });

  it('serves the full VM with a fake root password, full zone and organization, and hypervisor only when asked', async () => {
    const sim = createSimulator();
    const record = sim.dataset.liveVirtualMachines(sim.dataset.organizations[0]!.id).find((vm) => vm.virtualMachine.initial_root_password !== null)!;
    const res = await get(sim, `/virtual_machines/virtual_machine?virtual_machine[id]=${record.virtualMachine.id}`, DEMO_TOKENS.acme);
    const vm = res.json.virtual_machine;
    expect(Object.keys(vm)).toEqual([
      'id', 'name', 'hostname', 'fqdn', 'description', 'created_at', 'initial_root_password', 'state', 'zone', 'organization', 'group', 'package',
      'attached_iso', 'memory_in_gb', 'cpu_cores', 'use_dedicated_cpus', 'gpu_type', 'gpus', 'tags', 'tag_names', 'ip_addresses',
    ]);
    expect(vm.initial_root_password).toMatch(/^sim-/);
    expect(Object.keys(vm.zone.data_center.country)).toEqual(['id', 'name', 'iso_code2', 'iso_code3', 'time_zone', 'eu']);
    expect(vm.organization.currency.iso_code).toBe('GBP');
    sim.setFaults({ hypervisor: true });
    const withHv = await get(sim, `/virtual_machines/${record.virtualMachine.id}`, DEMO_TOKENS.acme);
    expect(Object.keys(withHv.json.virtual_machine.hypervisor)).toEqual(['id', 'name', 'ip_address']);
  });

  it('serves data centers with a partial country and zones with none', async () => {
    const sim = createSimulator();
    const dcs = await get(sim, '/data_centers', DEMO_TOKENS.acme);
    expect(Object.keys(dcs.json.data_centers[0].country)).toEqual(['id', 'name']);
    const zones = await get(sim, '/zones', DEMO_TOKENS.acme);
    expect(Object.keys(zones.json.zones[0].data_center)).toEqual(['id', 'name', 'permalink']);
    expect(zones.json.zones.some((z: { permalink: string | null }) => z.permalink === null)).toBe(true);
    const dcGpus = await get(sim, '/data_centers/data_center/gpu_types?data_center[permalink]=uk-lon-01', DEMO_TOKENS.acme);
    expect(dcGpus.json.gpu_types.length).toBeGreaterThan(0);
    expect(dcGpus.json.gpu_types[0]).not.toHaveProperty('data_centers');
  });

  it('shows an organization its private package only when it is named', async () => {
    const sim = createSimulator();
    const names = async (query: string) =>
      (await get(sim, `/virtual_machine_packages${query}`, DEMO_TOKENS.acme)).json.virtual_machine_packages.map((p: { name: string }) => p.name);
    expect(await names('')).not.toContain('ACME-GPU-L40S');
    expect(await names('?organization[sub_domain]=acme')).toContain('ACME-GPU-L40S');
    expect(await names('?organization[sub_domain]=acme')).not.toContain('GLOBEX-XL');
  });

  it('reports the user, their organizations and the token id at /users/current', async () => {
    const res = await get(createSimulator(), '/users/current', DEMO_TOKENS.user);
    expect(Object.keys(res.json)).toEqual(['user', 'organizations', 'api_token_id']);
    expect(res.json.user).toMatchObject({ first_name: 'Jane', last_name: 'Marsh' });
    expect(res.json.organizations.map((o: { sub_domain: string }) => o.sub_domain)).toEqual(['acme', 'globex']);
  });

  it('treats any token with the load prefix as a globex token, and the bare prefix as invalid', async () => {
    const sim = createSimulator();
    const res = await get(sim, '/organizations', `${LOAD_TOKEN_PREFIX}worker-17`);
    expect(res.json.organizations.map((o: { sub_domain: string }) => o.sub_domain)).toEqual(['globex']);
    expect(sim.visibleVirtualMachines(`${LOAD_TOKEN_PREFIX}x`, 'globex')).toHaveLength(12);
    expect((await get(sim, '/organizations', LOAD_TOKEN_PREFIX)).json.error.code).toBe('invalid_api_token');
  });

  it('exposes fixed, readable demo tokens', () => {
    for (const token of Object.values(DEMO_TOKENS)) {
      expect(token.length).toBeGreaterThanOrEqual(24);
      expect(token.startsWith('kp_demo_')).toBe(true);
    }
    expect(DEMO_TOKENS.acme).toBe('kp_demo_acme_org_read_7Hq2LmX9');
    expect(new Set(Object.values(DEMO_TOKENS)).size).toBe(5);
  });

  it('tells tests what a token can see', () => {
    const sim = createSimulator();
    expect(sim.visibleOrganizations(DEMO_TOKENS.user).map((o) => o.sub_domain)).toEqual(['acme', 'globex']);
    expect(sim.visibleVirtualMachines(DEMO_TOKENS.globex, 'acme')).toEqual([]);
    expect(sim.visibleVirtualMachines(DEMO_TOKENS.suspended, 'initech')).toEqual([]);
    expect(sim.visiblePackages(DEMO_TOKENS.globex).map((p) => p.name)).toContain('GLOBEX-XL');
    expect(sim.visiblePackages(DEMO_TOKENS.globex).map((p) => p.name)).not.toContain('ACME-GPU-L40S');
  });
});
