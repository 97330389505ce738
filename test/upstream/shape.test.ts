import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS } from '../../src/simulator/index.js';
import { answerShapeFault, knowsAnswerShape } from '../../src/upstream/shape.js';

/**
 * The checks of Katapult's answers: the shapes its reference describes (explicit nulls, the
 * fields real lists leave out) pass; what the gateway could not read is named, by field and
 * type, never by value.
 */

type Body = Record<string, any>;

const VM_LIST = '/organizations/organization/virtual_machines';
const VM = '/virtual_machines/virtual_machine';

const pagination = (total: number | null = 1) => ({ current_page: 1, total_pages: total === null ? null : 1, total, per_page: 200, large_set: total === null });

/** The reference's real VM list item (2026), values shortened. */
const listItem = (): Body => ({
  id: 'vm_a1b2c3d4e5f6g7h8',
  name: 'web-1',
  hostname: 'web-1',
  fqdn: 'web-1.acme.katapult.cloud',
  created_at: 1787048193,
  zone: { id: 'zone_a1b2c3d4e5f6g7h8', name: 'LON-1', permalink: 'lon-zone-1', data_center: { id: 'loc_a1b2c3d4e5f6g7h8', name: 'London', permalink: 'uk-lon-01' } },
  package: { name: 'ROCK-1' },
  gpu_type: null,
  ip_addresses: [{ address: '185.44.253.225' }],
});
const vmPage = (items: unknown[] = [listItem()]): Body => ({ pagination: pagination(items.length), virtual_machines: items });

const fullPackage = (): Body => ({
  id: 'vmpkg_a1b2c3d4e5f6g7h8',
  name: 'ROCK-3',
  permalink: 'rock-3',
  cpu_cores: 1,
  ipv4_addresses: 1,
  memory_in_gb: 3,
  storage_in_gb: 25,
  monthly_bandwidth_allowance_in_gb: 2048,
  privacy: 'public',
  icon: null,
  use_dedicated_cpus: false,
  group: { id: 'vmpkgrp_a1b2c3d4e5f6g7h8', name: 'Standard vCPU' },
});

const fullCountry = (): Body => ({ id: 'ctry_a1b2c3d4e5f6g7h8', name: 'United Kingdom', iso_code2: 'GB', iso_code3: 'GBR', time_zone: null, eu: false });
const fullZone = () => ({ ...listItem().zone, data_center: { ...listItem().zone.data_center, country: fullCountry() } });

const fullVm = (): Body => ({
  virtual_machine: {
    ...listItem(),
    description: null,
    initial_root_password: null,
    state: 'started',
    zone: fullZone(),
    organization: { id: 'org_a1b2c3d4e5f6g7h8', name: 'Acme', sub_domain: 'acme', infrastructure_domain: 'acme.katapult.cloud', created_at: 1700000000, activated_at: null, suspended: false, managed: false },
    group: null,
    package: fullPackage(),
    attached_iso: null,
    memory_in_gb: null,
    cpu_cores: null,
    use_dedicated_cpus: null,
    gpu_type: null,
    gpus: [],
    tags: [],
    tag_names: [],
    ip_addresses: [
      { id: 'ip_a1b2c3d4e5f6g7h8', address: '185.44.253.225', reverse_dns: 'x.rdns.katapult.cloud', vip: false, label: null, address_with_mask: '185.44.253.225/24', network: {}, allocation_id: null, allocation_type: null },
    ],
  },
  annotations: [{ key: 'env', value: null }],
});

const fault = (path: string, body: unknown) => answerShapeFault(path, body);

describe('answers of the shape the gateway reads', () => {
  it('knows the shape of every endpoint the data layer calls', () => {
    const source = readFileSync(new URL('../../src/data/katapult-data.ts', import.meta.url), 'utf8');
    const paths = [...source.matchAll(/get(?:<[^>]*>)?\(\s*'(\/[a-z_/]+)'/g)].map((match) => match[1]!);
    expect(new Set(paths).size).toBe(15);
    for (const path of paths) expect(knowsAnswerShape(path), path).toBe(true);
  });

  it('passes every answer of the simulator, which follows the reference', async () => {
    for (const hypervisor of [false, true]) {
      const sim = createSimulator({ hypervisor });
      const get = async (path: string, token: string = DEMO_TOKENS.globex) => {
        const response = await sim.fetch(`http://127.0.0.1/core/v1${path}`, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
        expect(response.status, path).toBe(200);
        const body = (await response.json()) as Body;
        expect(fault(path.split('?')[0]!, body), path).toBeNull();
        return body;
      };
      const vms = await get(`${VM_LIST}?organization[sub_domain]=globex&per_page=200`);
      await get(`${VM_LIST}?organization[sub_domain]=acme&per_page=200&page=2`, DEMO_TOKENS.acme);
      await get(`${VM}?virtual_machine[id]=${vms.virtual_machines[0].id}`);
      const packages = await get('/virtual_machine_packages?organization[sub_domain]=globex&per_page=200');
      await get('/virtual_machine_packages?per_page=200');
      await get(`/virtual_machine_packages/virtual_machine_package?virtual_machine_package[id]=${packages.virtual_machine_packages[0].id}`);
      await get('/organizations');
      await get('/organizations/organization?organization[sub_domain]=globex');
      const dataCenters = await get('/data_centers');
      await get(`/data_centers/data_center?data_center[id]=${dataCenters.data_centers[0].id}`);
      const zones = await get('/zones');
      await get(`/zones/zone?zone[id]=${zones.zones[0].id}`);
      const countries = await get('/countries?per_page=200');
      await get(`/countries/country?country[id]=${countries.countries[0].id}`);
      const gpuTypes = await get('/gpu_types?per_page=200');
      await get(`/gpu_types/gpu_type?gpu_type[id]=${gpuTypes.gpu_types[0].id}`);
      await get('/users/current', DEMO_TOKENS.user);
    }
  });

  it('passes the reference’s own examples and the nulls and gaps it allows', () => {
    expect(fault(VM_LIST, vmPage())).toBeNull();
    expect(fault(VM_LIST, vmPage([]))).toBeNull();
    // Uncounted lists; nullable fields null or left out; a hypervisor, and a data center's country when a list names one.
    const uncounted = { pagination: pagination(null), virtual_machines: [{ ...listItem(), package: null, gpu_type: { id: 'gput_1', name: 'A100', permalink: 'a100' }, hypervisor: { id: 'hv_1', name: 'hv-1' } }] };
    expect(fault(VM_LIST, uncounted)).toBeNull();
    const sparse = listItem();
    delete sparse.gpu_type;
    sparse.zone.permalink = null;
    sparse.zone.data_center.permalink = null;
    sparse.zone.data_center.country = { id: 'ctry_1', name: 'UK' };
    expect(fault(VM_LIST, vmPage([sparse]))).toBeNull();

    expect(fault(VM, fullVm())).toBeNull();
    const vm = fullVm();
    vm.virtual_machine.memory_in_gb = 32;
    vm.virtual_machine.package.icon = { url: 'https://x/i.png', file_name: 'i.png', file_type: 'image/png', file_size: 10, digest: 'd', token: 't' };
    delete vm.virtual_machine.package.group;
    vm.virtual_machine.gpu_type = { id: 'gput_1', name: 'A100', manufacturer: 'NVIDIA', memory_in_gb: 80, memory_type: 'HBM2', permalink: 'a100' };
    vm.virtual_machine.hypervisor = { id: 'hv_1', name: 'hv-1', ip_address: '10.0.0.1' };
    // The organization inside a VM: what it leaves out is read from its own record.
    vm.virtual_machine.organization = { id: 'org_a1b2c3d4e5f6g7h8' };
    expect(fault(VM, vm)).toBeNull();

    // Apia's shorter package list: fewer fields, an icon's URL only.
    const short = { id: 'vmpkg_1', name: 'ROCK-1', permalink: 'rock-1', cpu_cores: 1, memory_in_gb: 1, storage_in_gb: 10, privacy: 'public', ipv4_addresses: 1, icon: { url: 'https://x/i.png' } };
    expect(fault('/virtual_machine_packages', { pagination: pagination(2), virtual_machine_packages: [short, { ...fullPackage(), monthly_bandwidth_allowance_in_gb: null, group: null }] })).toBeNull();
    expect(fault('/virtual_machine_packages/virtual_machine_package', { virtual_machine_package: fullPackage() })).toBeNull();

    // Apia's organization object has no activation time.
    const { activated_at: _, ...withoutActivation } = fullVm().virtual_machine.organization;
    expect(fault('/organizations', { organizations: [withoutActivation] })).toBeNull();
    expect(fault('/organizations/organization', { organization: { ...withoutActivation, activated_at: 1700000000, billing_name: null } })).toBeNull();

    expect(fault('/data_centers', { data_centers: [{ id: 'loc_1', name: 'London', permalink: null, country: { id: 'ctry_1', name: 'UK' } }] })).toBeNull();
    expect(fault('/zones/zone', { zone: fullZone() })).toBeNull();
    expect(fault('/countries', { pagination: pagination(1), countries: [{ id: 'ctry_1', name: 'UK' }] })).toBeNull();
    expect(fault('/countries/country', { country: fullCountry() })).toBeNull();
    const gpu = { id: 'gput_1', name: 'A100', manufacturer: 'NVIDIA', memory_in_gb: 80, memory_type: 'HBM2', permalink: 'a100' };
    for (const dataCenters of [null, [], [null, { id: 'loc_1', name: 'London', permalink: 'uk-lon-01' }]]) {
      expect(fault('/gpu_types', { pagination: pagination(1), gpu_types: [{ ...gpu, data_centers: dataCenters }] })).toBeNull();
    }
    expect(fault('/users/current', { user: { id: 'user_1', first_name: 'Jane', last_name: 'Marsh', avatar_url: 'https://x' }, organizations: [{ id: 'org_1', name: 'Acme', sub_domain: 'acme' }], api_token_id: null })).toBeNull();
  });

  it('passes a null wherever the GraphQL field it feeds may be null, whatever the reference says of it', () => {
    const vm = fullVm();
    Object.assign(vm.virtual_machine, { state: null, memory_in_gb: null, cpu_cores: null });
    Object.assign(vm.virtual_machine.package, { cpu_cores: null, memory_in_gb: null, storage_in_gb: null, ipv4_addresses: null, permalink: null, use_dedicated_cpus: null });
    expect(fault(VM, vm)).toBeNull();
    const short = { id: 'vmpkg_1', name: 'ROCK-1', permalink: null, cpu_cores: null, memory_in_gb: null, storage_in_gb: null, privacy: 'public', ipv4_addresses: null, icon: { url: 'https://x/i.png' } };
    expect(fault('/virtual_machine_packages', { pagination: pagination(1), virtual_machine_packages: [short] })).toBeNull();
    expect(fault('/gpu_types', { pagination: pagination(1), gpu_types: [{ id: 'gput_1', name: 'A100', manufacturer: null, memory_in_gb: null, memory_type: null, permalink: null }] })).toBeNull();
    expect(fault('/users/current', { user: { id: 'user_1', first_name: 'Jane', last_name: 'Marsh', avatar_url: null }, organizations: [], api_token_id: null })).toBeNull();
    const more = fullVm();
    Object.assign(more.virtual_machine, { tag_names: null, hypervisor: { id: 'hv_1', name: 'hv-1', ip_address: null } });
    Object.assign(more.virtual_machine.zone.data_center.country, { eu: null, iso_code3: null });
    more.virtual_machine.ip_addresses[0].id = null;
    expect(fault(VM, { ...more, annotations: null })).toBeNull();
    expect(fault('/data_centers', { data_centers: [{ id: 'loc_1', name: 'London', permalink: null, country: null }, { id: 'loc_2', name: 'Amsterdam', permalink: null }] })).toBeNull();
    // Where the GraphQL field may not be null, a null is still refused.
    expect(fault('/users/current', { user: { id: 'user_1', first_name: 'Jane', last_name: null, avatar_url: null }, organizations: [], api_token_id: null })).toBe('user.last_name: expected a string, found null');
  });

  it('does not look at endpoints it does not know', () => {
    expect(knowsAnswerShape('/somewhere/else')).toBe(false);
    expect(fault('/somewhere/else', {})).toBeNull();
    expect(knowsAnswerShape('toString')).toBe(false);
    expect(fault('toString', {})).toBeNull();
  });
});

describe('answers the gateway could not read', () => {
  const withItem = (edit: (item: Body) => void) => {
    const item = listItem();
    edit(item);
    return vmPage([item]);
  };
  const withVm = (edit: (vm: Body) => void) => {
    const body = fullVm();
    edit(body.virtual_machine);
    return body;
  };

  const cases: Array<[string, string, unknown, string]> = [
    ['an empty object', VM_LIST, {}, 'pagination: expected an object, found nothing'],
    ['nulls for the page', VM_LIST, { virtual_machines: null, pagination: null }, 'pagination: expected an object, found null'],
    ['a null item', VM_LIST, vmPage([listItem(), null]), 'virtual_machines[1]: expected an object, found null'],
    ['a VM without its zone', VM_LIST, withItem((vm) => delete vm.zone), 'virtual_machines[0].zone: expected an object, found nothing'],
    ['a zone without its data center', VM_LIST, withItem((vm) => delete vm.zone.data_center), 'virtual_machines[0].zone.data_center: expected an object, found nothing'],
    ['null addresses', VM_LIST, withItem((vm) => (vm.ip_addresses = null)), 'virtual_machines[0].ip_addresses: expected an array, found null'],
    ['an address that is not one', VM_LIST, withItem((vm) => (vm.ip_addresses = ['185.44.253.225'])), 'virtual_machines[0].ip_addresses[0]: expected an object, found a string'],
    ['a time as text', VM_LIST, withItem((vm) => (vm.created_at = '2026-08-01')), 'virtual_machines[0].created_at: expected a time in Unix seconds, found a string'],
    // Past what a date holds, the time would fail as the answer is written, as an internal error.
    ['a time past what a date holds', VM_LIST, withItem((vm) => (vm.created_at = 2 ** 53)), 'virtual_machines[0].created_at: expected a time in Unix seconds, found a number'],
    ['an activation time past what a date holds', '/organizations/organization', { organization: { ...fullVm().virtual_machine.organization, activated_at: -1e15 } }, 'organization.activated_at: expected a time in Unix seconds or null, found a number'],
    ['a null id', VM_LIST, withItem((vm) => (vm.id = null)), 'virtual_machines[0].id: expected a string, found null'],
    ['a package without its name', VM_LIST, withItem((vm) => (vm.package = {})), 'virtual_machines[0].package.name: expected a string, found nothing'],
    ['a count as text', VM_LIST, { ...vmPage(), pagination: { ...pagination(), total: '1' } }, 'pagination.total: expected a 32-bit integer or null, found a string'],
    ['a flag as text', VM_LIST, { ...vmPage(), pagination: { ...pagination(), large_set: 'false' } }, 'pagination.large_set: expected a boolean, found a string'],
    ['memory as text', VM, withVm((vm) => (vm.memory_in_gb = '32GB')), 'virtual_machine.memory_in_gb: expected a 32-bit integer or null, found a string'],
    ['memory in fractions', VM, withVm((vm) => (vm.memory_in_gb = 1.5)), 'virtual_machine.memory_in_gb: expected a 32-bit integer or null, found a fractional number'],
    ['tag names that are not a list', VM, withVm((vm) => (vm.tag_names = {})), 'virtual_machine.tag_names: expected an array or null, found an object'],
    ['a VM without its organization', VM, withVm((vm) => delete vm.organization), 'virtual_machine.organization: expected an object, found nothing'],
    ['a VM’s organization whose name is null', VM, withVm((vm) => (vm.organization.name = null)), 'virtual_machine.organization.name: expected a string, found null'],
    ['a VM’s package with its cores as text', VM, withVm((vm) => (vm.package.cpu_cores = '2')), 'virtual_machine.package.cpu_cores: expected a 32-bit integer or null, found a string'],
    ['a VM’s full country with an EU flag in words', VM, withVm((vm) => (vm.zone.data_center.country.eu = 'yes')), 'virtual_machine.zone.data_center.country.eu: expected a boolean or null, found a string'],
    ['annotations that are not a list', VM, { ...fullVm(), annotations: {} }, 'annotations: expected an array or null, found an object'],
    ['a null data-center list', '/data_centers', { data_centers: null }, 'data_centers: expected an array, found null'],
    ['a data center whose country is a name', '/data_centers', { data_centers: [{ id: 'loc_1', name: 'London', permalink: null, country: 'UK' }] }, 'data_centers[0].country: expected an object or null, found a string'],
    // A GraphQL Int holds 32 bits: a larger count would fail as the answer is written, as an internal error.
    ['a package’s cores past 32 bits', '/virtual_machine_packages/virtual_machine_package', { virtual_machine_package: { ...fullPackage(), cpu_cores: 2 ** 53 } }, 'virtual_machine_package.cpu_cores: expected a 32-bit integer or null, found a number'],
    ['a VM’s memory past 32 bits', VM, withVm((vm) => (vm.memory_in_gb = 2 ** 31)), 'virtual_machine.memory_in_gb: expected a 32-bit integer or null, found a number'],
    ['a page count past 32 bits', VM_LIST, { ...vmPage(), pagination: { ...pagination(), total: 1e12 } }, 'pagination.total: expected a 32-bit integer or null, found a number'],
    ['a listed package whose cores are text', '/virtual_machine_packages', { pagination: pagination(), virtual_machine_packages: [{ ...fullPackage(), cpu_cores: '1' }] }, 'virtual_machine_packages[0].cpu_cores: expected a 32-bit integer or null, found a string'],
    ['an organization not suspended in words', '/organizations/organization', { organization: { ...fullVm().virtual_machine.organization, suspended: 'no' } }, 'organization.suspended: expected a boolean, found a string'],
    ['a body that is a list', '/zones', [], 'the body: expected an object, found an array'],
    ['a GPU type list of another shape', '/gpu_types', { pagination: pagination(), gpu_types: [{ id: 'gput_1', name: 'A100', permalink: 'a100', manufacturer: 7 }] }, 'gpu_types[0].manufacturer: expected a string or null, found a number'],
    ['a user without a name', '/users/current', { user: { id: 'user_1', first_name: 'Jane', avatar_url: 'https://x' }, organizations: [] }, 'user.last_name: expected a string, found nothing'],
    ['an error envelope', VM_LIST, { error: { code: 'internal_error', description: 'Something went wrong', detail: {} } }, 'an error envelope, with a success status'],
  ];
  for (const [name, path, body, expected] of cases) {
    it(`${name}: ${expected}`, () => {
      expect(fault(path, body)).toBe(expected);
    });
  }

  it('never quotes a value from the answer', () => {
    const secret = 'value-from-katapult-3f9c';
    expect(fault(VM, withVm((vm) => (vm.memory_in_gb = secret)))).not.toContain(secret);
    expect(fault(VM_LIST, { error: { code: secret, description: secret, detail: {} } })).not.toContain(secret);
  });
});
