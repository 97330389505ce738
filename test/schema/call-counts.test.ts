import { getNamedType, Kind, parse, print, TypeInfo, visit, visitWithTypeInfo, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { fingerprintToken } from '../../src/simulator/dispatch.js';
import { callsPerUrl, createTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * What a typical dashboard costs upstream. The VM list carries each VM's zone and data
 * center but only its package's name and no country; the gateway fills those in from two
 * list calls shared by every VM on the page (`/data_centers`, the organization's package
 * list) rather than one call per VM.
 */

const dashboard = (org: string) => /* GraphQL */ `
  {
    organization(${org}) {
      virtualMachines(first: 30) {
        edges { node { name zone { name dataCenter { name country { name } } } package { cpuCores memoryInGb } ipAddresses { address } } }
      }
    }
  }
`;

let gateway: TestGateway;
afterEach(() => gateway?.close());

const paths = () => gateway.sim.requests.map((r) => r.path.replace('/core/v1', '')).sort();

describe('upstream calls per query', () => {
  it('asks Katapult for an organization token’s user once, not on every `viewer` query, though the null is never a stored answer', async () => {
    gateway = createTestGateway();
    for (let i = 0; i < 3; i++) {
      const { body } = await gateway.query('{ viewer { firstName } zones { id } }', { token: DEMO_TOKENS.globex });
      expect(body.errors).toBeUndefined();
      expect(body.data!.viewer).toBeNull();
    }
    expect(gateway.sim.countRequests({ path: '/users/current' })).toBe(1);
    expect(gateway.app.responseCache.stats().entries).toBe(0);
  });

  for (const sub of ['globex', 'acme'] as const) {
    it(`the cold dashboard for ${sub} costs at most 3 calls: a VM list page, /data_centers, the organization's packages`, async () => {
      gateway = createTestGateway();
      const token = DEMO_TOKENS[sub];
      const { body } = await gateway.query(dashboard(`subDomain: "${sub}"`), { token });
      expect(body.errors).toBeUndefined();
      expect(gateway.sim.requests.length).toBeLessThanOrEqual(3);
      expect(paths()).toEqual(['/data_centers', '/organizations/organization/virtual_machines', '/virtual_machine_packages']);

      // And the answer is right: every VM as the simulator holds it.
      const vms = gateway.sim.dataset.virtualMachines.filter((vm) => vm.trash === null && vm.virtualMachine.organization.sub_domain === sub).slice(0, 30);
      const edges = body.data!.organization.virtualMachines.edges as Array<{ node: Record<string, any> }>;
      expect(edges.map((e) => e.node)).toEqual(
        vms.map(({ virtualMachine: vm }) => ({
          name: vm.name,
          zone: { name: vm.zone.name, dataCenter: { name: vm.zone.data_center.name, country: { name: vm.zone.data_center.country.name } } },
          package: vm.package ? { cpuCores: vm.package.cpu_cores, memoryInGb: vm.package.memory_in_gb } : null,
          ipAddresses: vm.ip_addresses.map((ip) => ({ address: ip.address })),
        })),
      );

      // Warm: nothing more.
      gateway.sim.clearRequests();
      await gateway.query(dashboard(`subDomain: "${sub}"`), { token });
      expect(gateway.sim.requests).toHaveLength(0);
    });
  }

  it('costs the same once a Relay compiler has added `id` to every selection whose type has an ID-typed id', async () => {
    gateway = createTestGateway();
    const token = DEMO_TOKENS.globex;
    const schema = gateway.app.yoga.getEnveloped().schema as GraphQLSchema;
    // What relay-compiler's generate_id_field transform does to a document.
    const typeInfo = new TypeInfo(schema);
    const withIds = visit(
      parse(dashboard('subDomain: "globex"')),
      visitWithTypeInfo(typeInfo, {
        SelectionSet(node) {
          const type = getNamedType(typeInfo.getType());
          const id = type && 'getFields' in type ? (type as GraphQLObjectType).getFields().id : undefined;
          if (!id || getNamedType(id.type).name !== 'ID' || node.selections.some((s) => s.kind === Kind.FIELD && s.name.value === 'id')) return undefined;
          return { ...node, selections: [...node.selections, { kind: Kind.FIELD, name: { kind: Kind.NAME, value: 'id' } }] };
        },
      }),
    );
    const relayText = print(withIds);
    expect(relayText).toContain('ipAddresses {\n            address\n          }');
    const { body } = await gateway.query(relayText, { token });
    expect(body.errors).toBeUndefined();
    // The organization's own id needs its record (one call, as `name` does); nothing per VM.
    expect(paths()).toEqual(['/data_centers', '/organizations/organization', '/organizations/organization/virtual_machines', '/virtual_machine_packages']);
  });

  it('organization(id:) with another type\'s id is null, without a call, whatever is selected', async () => {
    gateway = createTestGateway();
    const vm = gateway.sim.dataset.virtualMachines[0]!.virtualMachine;
    for (const selection of ['__typename id', 'id virtualMachines(first: 1) { totalCount }', 'name']) {
      const { body } = await gateway.query(`{ organization(id: "${vm.id}") { ${selection} } }`, { token: DEMO_TOKENS.globex });
      expect(body, selection).toEqual({ data: { organization: null } });
    }
    expect(gateway.sim.requests).toHaveLength(0);
  });

  it('organization(id:) { virtualMachines } costs no call for the organization itself', async () => {
    gateway = createTestGateway();
    const globex = gateway.sim.dataset.organizations.find((o) => o.sub_domain === 'globex')!;
    const { body } = await gateway.query(`{ organization(id: "${globex.id}") { id __typename virtualMachines(first: 5) { edges { node { id } } } } }`, {
      token: DEMO_TOKENS.globex,
    });
    expect(body.errors).toBeUndefined();
    expect(body.data!.organization.id).toBe(globex.id);
    expect(paths()).toEqual(['/organizations/organization/virtual_machines']);
  });

  it('asking for the organization’s own fields costs exactly one call for it', async () => {
    gateway = createTestGateway();
    const { body } = await gateway.query('{ organization(subDomain: "globex") { name virtualMachines(first: 5) { edges { node { id } } } } }', { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    expect(paths()).toEqual(['/organizations/organization', '/organizations/organization/virtual_machines']);
  });

  it('100 concurrent identical cold dashboards for one token cost one call per distinct URL', async () => {
    gateway = createTestGateway();
    const responses = await Promise.all(Array.from({ length: 100 }, () => gateway.query(dashboard('subDomain: "globex"'), { token: DEMO_TOKENS.globex })));
    for (const response of responses) expect(response.body.errors).toBeUndefined();
    expect(new Set(responses.map((r) => r.text)).size).toBe(1);
    const counts = callsPerUrl(gateway.sim);
    expect(counts.size).toBe(3);
    expect([...counts.values()]).toEqual([1, 1, 1]);
  });

  it('the same from two tokens costs two calls per URL, one for each token', async () => {
    gateway = createTestGateway();
    const tokens = [DEMO_TOKENS.globex, DEMO_TOKENS.user];
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => gateway.query(dashboard('subDomain: "globex"'), { token: tokens[i % 2] })),
    );
    for (const response of responses) expect(response.body.errors).toBeUndefined();
    const counts = callsPerUrl(gateway.sim);
    expect(counts.size).toBe(3);
    expect([...counts.values()]).toEqual([2, 2, 2]);
    for (const token of tokens) {
      const mine = gateway.sim.requests.filter((r) => r.tokenFingerprint === fingerprintToken(token));
      expect(mine).toHaveLength(3);
    }
  });
});
