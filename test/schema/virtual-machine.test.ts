import { getNamedType, isLeafType, isObjectType, type GraphQLObjectType } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/schema/index.js';
import { DEMO_TOKENS, type SimulatorVirtualMachine } from '../../src/simulator/index.js';
import { createTestGateway, requestsTo, rewritingAnswers, type TestGateway } from '../helpers/gateway.js';

/**
 * A virtual machine field by field against the simulator's record, with a selection built
 * from the schema itself: every field there is (so a field added later is covered too), and
 * never the VM's initial root password, whatever the field is called.
 */

/** Every field reachable from `type` without arguments, down to `depth` object levels; no connections. */
function selectAll(type: GraphQLObjectType, depth: number): string {
  const parts: string[] = [];
  for (const field of Object.values(type.getFields())) {
    if (field.args.some((arg) => arg.type.toString().endsWith('!'))) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named)) parts.push(field.name);
    else if (isObjectType(named) && !named.name.endsWith('Connection') && depth > 0) parts.push(`${field.name} { ${selectAll(named, depth - 1)} }`);
  }
  return parts.join(' ');
}

const VM_TYPE = buildSchema().getType('VirtualMachine') as GraphQLObjectType;
const EVERY_FIELD = selectAll(VM_TYPE, 3);

let gateway: TestGateway;
afterEach(() => gateway?.close());

const globexVms = (sim: TestGateway['sim']): SimulatorVirtualMachine[] =>
  sim.dataset.virtualMachines.filter((vm) => vm.trash === null && vm.virtualMachine.organization.sub_domain === 'globex');

describe('a virtual machine, every field', () => {
  it('selects the fields that matter (sanity check of the generated selection)', () => {
    for (const field of ['state', 'annotations', 'hypervisor', 'ipAddresses', 'organization', 'package', 'gpuType', 'zone']) expect(EVERY_FIELD).toContain(field);
  });

  it('matches the simulator’s record for every globex VM, and no response holds a root password', async () => {
    gateway = createTestGateway({ simulatorOptions: { hypervisor: true } });
    const token = DEMO_TOKENS.globex;
    const vms = globexVms(gateway.sim);
    const passwords = vms.map((vm) => vm.virtualMachine.initial_root_password).filter((p): p is string => p !== null);
    expect(passwords.length).toBeGreaterThan(0);

    for (const record of vms) {
      const vm = record.virtualMachine;
      const { body, text } = await gateway.query(`query($id: ID!) { virtualMachine(id: $id) { ${EVERY_FIELD} } }`, { token, variables: { id: vm.id } });
      expect(body.errors).toBeUndefined();
      for (const password of passwords) expect(text).not.toContain(password);
      const got = body.data!.virtualMachine;
      expect(got).toMatchObject({
        id: vm.id,
        name: vm.name,
        hostname: vm.hostname,
        fqdn: vm.fqdn,
        description: vm.description,
        createdAt: new Date(vm.created_at * 1000).toISOString(),
        state: vm.state.toUpperCase(),
        cpuCores: vm.cpu_cores,
        memoryInGb: vm.memory_in_gb,
        useDedicatedCpus: vm.use_dedicated_cpus,
        tagNames: vm.tag_names,
        annotations: record.annotations.map((a) => ({ key: a.key, value: a.value })),
        zone: { id: vm.zone.id, name: vm.zone.name, permalink: vm.zone.permalink, dataCenter: { id: vm.zone.data_center.id, country: { id: vm.zone.data_center.country.id, isoCode2: vm.zone.data_center.country.iso_code2 } } },
        organization: { id: vm.organization.id, name: vm.organization.name, subDomain: 'globex', suspended: false },
        hypervisor: { id: record.hypervisor.id, name: record.hypervisor.name, ipAddress: record.hypervisor.ip_address },
        gpuType: vm.gpu_type ? { id: vm.gpu_type.id, name: vm.gpu_type.name, memoryInGb: vm.gpu_type.memory_in_gb } : null,
        ipAddresses: vm.ip_addresses.map((ip) => ({ id: ip.id, address: ip.address, reverseDns: ip.reverse_dns, vip: ip.vip, label: ip.label, addressWithMask: ip.address_with_mask })),
      });
      if (vm.package) {
        expect(got.package).toMatchObject({ id: vm.package.id, name: vm.package.name, cpuCores: vm.package.cpu_cores, privacy: vm.package.privacy.toUpperCase(), group: vm.package.group });
      } else {
        expect(got.package).toBeNull();
      }
    }
  });

  it('maps every state Katapult sends onto the enum', async () => {
    gateway = createTestGateway();
    const { body } = await gateway.query('{ organization(subDomain: "acme") { virtualMachines(first: 100) { edges { node { id state } } } } }', { token: DEMO_TOKENS.acme });
    expect(body.errors).toBeUndefined();
    const states = new Map(gateway.sim.dataset.virtualMachines.map((vm) => [vm.virtualMachine.id, vm.virtualMachine.state]));
    const edges = body.data!.organization.virtualMachines.edges as Array<{ node: { id: string; state: string } }>;
    for (const { node } of edges) expect(node.state).toBe(states.get(node.id)!.toUpperCase());
    expect(new Set(edges.map((e) => e.node.state)).size).toBeGreaterThan(2);
  });

  it('a state Katapult sends as null reads null, not UNKNOWN (which says Katapult sent a state the gateway does not know)', async () => {
    gateway = createTestGateway({ wrapFetch: rewritingAnswers(/\/virtual_machines\/virtual_machine$/, (body) => void (body.virtual_machine.state = null)) });
    const vm = globexVms(gateway.sim)[0]!;
    const { body } = await gateway.query(`{ virtualMachine(id: "${vm.virtualMachine.id}") { id state } }`, { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    expect(body.data!.virtualMachine).toEqual({ id: vm.virtualMachine.id, state: null });
  });

  it('every field of every listed VM is also free of root passwords', async () => {
    gateway = createTestGateway();
    const { text, body } = await gateway.query(`{ organization(subDomain: "globex") { virtualMachines(first: 100) { edges { node { ${EVERY_FIELD} } } } } }`, {
      token: DEMO_TOKENS.globex,
    });
    expect(body.errors).toBeUndefined();
    for (const vm of globexVms(gateway.sim)) {
      if (vm.virtualMachine.initial_root_password) expect(text).not.toContain(vm.virtualMachine.initial_root_password);
    }
  });
});

describe('hypervisor on listed VMs', () => {
  const LIST = '{ organization(subDomain: "globex") { virtualMachines(first: 20) { edges { node { id hypervisor { id name } } } } } }';

  it('comes from the list when Katapult includes it, with no per-VM call', async () => {
    gateway = createTestGateway({ simulatorOptions: { hypervisor: true } });
    const { body } = await gateway.query(LIST, { token: DEMO_TOKENS.globex });
    const edges = body.data!.organization.virtualMachines.edges as Array<{ node: { hypervisor: unknown } }>;
    expect(edges.every((e) => e.node.hypervisor !== null)).toBe(true);
    expect(requestsTo(gateway.sim, '/virtual_machines/virtual_machine')).toHaveLength(0);
  });

  it('reads the same on a list as through the VM itself: its address comes from the VM\'s own record', async () => {
    gateway = createTestGateway({ simulatorOptions: { hypervisor: true } });
    const token = DEMO_TOKENS.globex;
    const listed = await gateway.query('{ organization(subDomain: "globex") { virtualMachines(first: 3) { edges { node { id hypervisor { id name ipAddress } } } } } }', { token });
    expect(listed.body.errors).toBeUndefined();
    const edges = listed.body.data!.organization.virtualMachines.edges as Array<{ node: { id: string; hypervisor: { ipAddress: string | null } } }>;
    // One call per VM for the address, none for id and name (the test above).
    expect(requestsTo(gateway.sim, '/virtual_machines/virtual_machine')).toHaveLength(3);
    for (const { node } of edges) {
      expect(node.hypervisor.ipAddress).toEqual(expect.any(String));
      const alone = await gateway.query(`{ node(id: "${node.id}") { ... on VirtualMachine { hypervisor { id name ipAddress } } } }`, { token });
      expect(alone.body.data!.node.hypervisor).toEqual(node.hypervisor);
    }
  });

  it('is null when the list leaves it out (as the real API does), still with no per-VM call', async () => {
    gateway = createTestGateway();
    const { body } = await gateway.query(LIST, { token: DEMO_TOKENS.globex });
    const edges = body.data!.organization.virtualMachines.edges as Array<{ node: { hypervisor: unknown } }>;
    expect(edges.map((e) => e.node.hypervisor)).toEqual(edges.map(() => null));
    expect(requestsTo(gateway.sim, '/virtual_machines/virtual_machine')).toHaveLength(0);
  });
});
