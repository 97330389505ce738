import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mayBeGpuTypeId } from '../../src/schema/node-ids.js';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createTestGateway, errorCodes, rewritingAnswers, type TestGateway } from '../helpers/gateway.js';
import { cannedError } from './error-contract.js';

/**
 * `node(id:)` / `nodes(ids:)` resolve a Katapult id by its prefix. For every Node type, an id
 * taken from a list comes back as the same object with the right `__typename`; an unknown
 * prefix is null without calling Katapult; an id Katapult does not know is null.
 */

const FIELDS: Record<string, string> = {
  VirtualMachine: 'id name fqdn zone { id }',
  Organization: 'id name subDomain',
  // permalink on both: the same name with the same type, so one selection can ask for it on either.
  Zone: 'id name permalink dataCenter { id }',
  DataCenter: 'id name permalink country { id }',
  Country: 'id name isoCode2',
  VirtualMachinePackage: 'id name cpuCores privacy',
  GpuType: 'id name manufacturer',
};

const LISTS = /* GraphQL */ `
  {
    organization(subDomain: "globex") {
      virtualMachines(first: 100) { edges { node { ${FIELDS.VirtualMachine} } } }
      virtualMachinePackages(first: 100) { edges { node { ${FIELDS.VirtualMachinePackage} } } }
    }
    organizations { ${FIELDS.Organization} }
    zones { ${FIELDS.Zone} }
    dataCenters { ${FIELDS.DataCenter} }
    countries(first: 100) { edges { node { ${FIELDS.Country} } } }
    gpuTypes(first: 100) { edges { node { ${FIELDS.GpuType} } } }
  }
`;

const fragments = Object.entries(FIELDS)
  .map(([type, fields]) => `... on ${type} { ${fields} }`)
  .join(' ');
const NODE = `query Node($id: ID!) { node(id: $id) { __typename ${fragments} } }`;
const NODES = `query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename ${fragments} } }`;

type Item = Record<string, unknown> & { id: string };

let gateway: TestGateway;
const byType = new Map<string, Item[]>();
const token = DEMO_TOKENS.globex;

beforeAll(async () => {
  gateway = createTestGateway();
  const { body } = await gateway.query(LISTS, { token });
  expect(body.errors).toBeUndefined();
  const data = body.data!;
  const nodes = (connection: { edges: Array<{ node: Item }> }) => connection.edges.map((e) => e.node);
  byType.set('VirtualMachine', nodes(data.organization.virtualMachines));
  byType.set('VirtualMachinePackage', nodes(data.organization.virtualMachinePackages));
  byType.set('Organization', data.organizations);
  byType.set('Zone', data.zones);
  byType.set('DataCenter', data.dataCenters);
  byType.set('Country', nodes(data.countries));
  byType.set('GpuType', nodes(data.gpuTypes));
});
afterAll(() => gateway.close());

describe('node(id:) and nodes(ids:)', () => {
  it('has ids of every Node type to try, data centers with both the old loc_ and the new dc_ prefix', () => {
    for (const type of Object.keys(FIELDS)) expect(byType.get(type)?.length, type).toBeGreaterThan(0);
    const dataCenters = byType.get('DataCenter')!.map((dc) => dc.id);
    expect(dataCenters.some((id) => id.startsWith('loc_'))).toBe(true);
    expect(dataCenters.some((id) => id.startsWith('dc_'))).toBe(true);
    expect(byType.get('VirtualMachinePackage')!.some((p) => p.privacy === 'PRIVATE')).toBe(true);
  });

  for (const type of Object.keys(FIELDS)) {
    it(`node(id:) returns the same ${type} a list returned`, async () => {
      for (const item of byType.get(type)!) {
        const { body } = await gateway.query(NODE, { token, variables: { id: item.id } });
        expect(body.errors).toBeUndefined();
        expect(body.data!.node).toEqual({ __typename: type, ...item });
      }
    });
  }

  it('nodes(ids:) returns every object in the order asked, null for unknown ids', async () => {
    const items = [...byType.entries()].flatMap(([type, list]) => list.map((item) => ({ __typename: type, ...item })));
    const ids = items.flatMap((item, i) => (i % 5 === 0 ? [item.id, 'nope_1234567890abcdef'] : [item.id]));
    const { body } = await gateway.query(NODES, { token, variables: { ids } });
    expect(body.errors).toBeUndefined();
    const expected = items.flatMap((item, i) => (i % 5 === 0 ? [item, null] : [item]));
    expect(body.data!.nodes).toEqual(expected);
  });

  it('answers an id that is not a Katapult id, or names no node, with null, calling Katapult not at all (even without a token)', async () => {
    gateway.sim.clearRequests();
    for (const id of ['ip_aaaaaaaaaaaaaaaa', 'vmpkgrp_aaaaaaaaaaaaaaaa', 'netw_aaaaaaaa', 'sbnt_aaaaaaaaaaaaaaaa', 'cur_aaaaaaaaaaaaaaaa', '', 'VM_abc', 'abc-123', 'x'.repeat(300)]) {
      for (const withToken of [true, false]) {
        const { status, body } = await gateway.query(NODE, { token: withToken ? token : undefined, variables: { id } });
        expect(status).toBe(200);
        expect(body).toEqual({ data: { node: null } });
      }
    }
    expect(gateway.sim.requests).toHaveLength(0);
    // Not even the GPU type list (which an earlier read may have cached here): these prefixes are Katapult's own for other objects.
    for (const prefix of ['ip_', 'netw_', 'sbnt_', 'vmpkgrp_', 'cur_']) expect(mayBeGpuTypeId(`${prefix}aaaaaaaaaaaaaaaa`), prefix).toBe(false);
    expect(mayBeGpuTypeId('gpux_aaaaaaaaaaaaaaaa')).toBe(true);
  });

  it('looks an id of an unknown prefix up in the GPU type list (whose prefix is a guess): null when absent, from one cached read', async () => {
    const fresh = createTestGateway();
    try {
      for (const ids of [['abc_1', 'def_2'], ['ghi_3']]) {
        const { body } = await fresh.query(NODES, { token, variables: { ids } });
        expect(body).toEqual({ data: { nodes: ids.map(() => null) } });
      }
      expect(fresh.sim.requests.map((r) => r.path)).toEqual(['/core/v1/gpu_types']);
      // Without a token nothing can be read, and the id stays unknown.
      expect((await fresh.query(NODE, { variables: { id: 'abc_1' } })).body).toEqual({ data: { node: null } });
    } finally {
      await fresh.close();
    }
  });

  it('reports a GPU type list Katapult fails to give as the error it is, not as an id that names nothing', async () => {
    const failing = createTestGateway({
      wrapFetch: (simulator) => async (input, init) => (new URL(input).pathname.endsWith('/gpu_types') ? cannedError(503, 'service_unavailable') : simulator(input, init)),
      env: { QUEUE_RETRY_MAX_ATTEMPTS: '1' },
    });
    try {
      const { body } = await failing.query(NODE, { token, variables: { id: 'abc_1' } });
      expect(body.data).toEqual({ node: null });
      expect(errorCodes(body)).toEqual(['UPSTREAM_UNAVAILABLE']);
    } finally {
      await failing.close();
    }
  });

  it('finds a GPU type whose id has another prefix than the simulator’s, by node and nodes, with its type', async () => {
    const renamed = createTestGateway({
      wrapFetch: rewritingAnswers(/\/gpu_types$/, (body: { gpu_types: Array<{ id: string }> }) => {
        for (const gpu of body.gpu_types) gpu.id = gpu.id.replace(/^gput_/, 'gpu_');
      }),
    });
    try {
      const listed = await renamed.query('{ gpuTypes(first: 100) { edges { node { id name } } } }', { token });
      const gpus = (listed.body.data!.gpuTypes.edges as Array<{ node: { id: string; name: string } }>).map((e) => e.node);
      expect(gpus.length).toBeGreaterThan(0);
      expect(gpus.every((gpu) => gpu.id.startsWith('gpu_'))).toBe(true);
      const { body } = await renamed.query('query($id: ID!, $ids: [ID!]!) { node(id: $id) { __typename id ... on GpuType { name } } nodes(ids: $ids) { __typename id } }', {
        token,
        variables: { id: gpus[0]!.id, ids: gpus.map((gpu) => gpu.id) },
      });
      expect(body.errors).toBeUndefined();
      expect(body.data!.node).toEqual({ __typename: 'GpuType', id: gpus[0]!.id, name: gpus[0]!.name });
      expect(body.data!.nodes).toEqual(gpus.map((gpu) => ({ __typename: 'GpuType', id: gpu.id })));
    } finally {
      await renamed.close();
    }
  });

  it('answers an id Katapult does not know (or one in the trash, or another organization’s) with null', async () => {
    const trashed = gateway.sim.dataset.virtualMachines.find((vm) => vm.trash && vm.virtualMachine.organization.sub_domain === 'globex')!;
    const acmeVm = gateway.sim.visibleVirtualMachines(DEMO_TOKENS.acme, 'acme')[0]!;
    const acmeOrg = gateway.sim.dataset.organizations.find((o) => o.sub_domain === 'acme')!;
    const unknown = [
      'vm_aaaaaaaaaaaaaaaa',
      trashed.virtualMachine.id,
      acmeVm.id,
      'org_aaaaaaaaaaaaaaaa',
      acmeOrg.id,
      'zone_aaaaaaaaaaaaaaaa',
      'dc_aaaaaaaaaaaaaaaa',
      'loc_aaaaaaaaaaaaaaaa',
      'ctry_aaaaaaaaaaaaaaaa',
      'vmpkg_aaaaaaaaaaaaaaaa',
      'gput_aaaaaaaaaaaaaaaa',
    ];
    for (const id of unknown) {
      const { body } = await gateway.query(NODE, { token, variables: { id } });
      expect(body, id).toEqual({ data: { node: null } });
    }
    const { body } = await gateway.query(NODES, { token, variables: { ids: unknown } });
    expect(body).toEqual({ data: { nodes: unknown.map(() => null) } });
  });

  it('answers a record whose own id has no known prefix as the type the id asked for named', async () => {
    // Reached only for a data center missing from the list; its record then names no type.
    const odd = createTestGateway({
      wrapFetch: (simulator) =>
        rewritingAnswers(/\/data_centers$/, (body: { data_centers: unknown[] }) => {
          body.data_centers = [];
        })(rewritingAnswers(/\/data_centers\/data_center$/, (body: { data_center: { id: string } }) => {
          body.data_center.id = '';
        })(simulator)),
    });
    try {
      const id = gateway.sim.dataset.dataCenters[0]!.id;
      const { body } = await odd.query('query ($id: ID!) { node(id: $id) { __typename ... on DataCenter { name } } }', { token, variables: { id } });
      expect(body.errors).toBeUndefined();
      expect(body.data!.node).toMatchObject({ __typename: 'DataCenter', name: expect.any(String) });
    } finally {
      await odd.close();
    }
  });

  it('refuses more than 100 ids', async () => {
    const { body } = await gateway.query(NODES, { token, variables: { ids: Array.from({ length: 101 }, (_, i) => `abc_${i}`) } });
    expect(errorCodes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.message).toMatch(/at most 100 ids/);
  });
});

describe('nodes(ids:) with a token Katapult refuses', () => {
  it('sends the lookups queued behind the first refusal nowhere: they fail with it', async () => {
    const gateway = createTestGateway({ simulatorOptions: { latencyMs: 5 } });
    try {
      const token = 'made-up-token-for-nodes';
      const ids = Array.from({ length: 100 }, (_, i) => `vm_${String(i).padStart(16, 'x')}`);
      const response = await gateway.query(`{ nodes(ids: ${JSON.stringify(ids)}) { id } }`, { token });
      expect(response.status).toBe(401);
      expect(errorCodes(response.body)).toContain('UNAUTHENTICATED');
      // At most one turn of the token's lane (QUEUE_TOKEN_CONCURRENCY, 6) reached Katapult, not a hundred calls.
      expect(gateway.sim.countRequests({ token })).toBeLessThanOrEqual(6);
    } finally {
      await gateway.close();
    }
  });
});
