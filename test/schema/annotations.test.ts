import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createTestGateway, errorCodes, requestsTo, type TestGateway } from '../helpers/gateway.js';

/**
 * Annotation filters: every filter must match (AND), a filter without a value matches any
 * value of its key, and they go to Katapult as interleaved key/value pairs, the only order
 * in which Rack pairs them up correctly.
 */

const VM_LIST = '/organizations/organization/virtual_machines';
const FILTERED = /* GraphQL */ `
  query Filtered($annotations: [AnnotationFilter!], $first: Int, $after: String) {
    organization(subDomain: "acme") {
      virtualMachines(first: $first, after: $after, annotations: $annotations) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { id } }
      }
    }
  }
`;

type Filter = { key: string; value?: string };

let gateway: TestGateway;
beforeAll(() => {
  gateway = createTestGateway();
});
afterAll(() => gateway.close());

/** The acme VMs that carry every annotation asked for, from the simulator's own data. */
function expectedIds(filters: Filter[]): string[] {
  const acme = gateway.sim.dataset.organizations.find((o) => o.sub_domain === 'acme')!;
  return gateway.sim.dataset
    .liveVirtualMachines(acme.id)
    .filter((vm) => filters.every((f) => vm.annotations.some((a) => a.key === f.key && (f.value === undefined || a.value === f.value))))
    .map((vm) => vm.virtualMachine.id);
}

async function filtered(annotations: Filter[] | null, extra: Record<string, unknown> = {}) {
  const { body } = await gateway.query(FILTERED, { token: DEMO_TOKENS.acme, variables: { annotations, first: 100, ...extra } });
  return body;
}

async function allFiltered(annotations: Filter[]): Promise<{ ids: string[]; totalCount: number | null }> {
  const ids: string[] = [];
  let after: string | null = null;
  let totalCount: number | null = null;
  for (;;) {
    const body = await filtered(annotations, { after });
    expect(body.errors).toBeUndefined();
    const connection = body.data!.organization.virtualMachines;
    totalCount = connection.totalCount;
    ids.push(...connection.edges.map((e: { node: { id: string } }) => e.node.id));
    if (!connection.pageInfo.hasNextPage) return { ids, totalCount };
    after = connection.pageInfo.endCursor;
  }
}

/** The annotation parameters of a logged upstream query string, decoded, in wire order. */
function annotationPairs(rawQuery: string): Array<[string, string]> {
  return rawQuery
    .split('&')
    .map((part) => part.split('=').map(decodeURIComponent) as [string, string])
    .filter(([name]) => name.startsWith('annotations'));
}

describe('annotation filters on virtualMachines', () => {
  it('return only VMs matching every filter (AND)', async () => {
    const filters = [
      { key: 'env', value: 'production' },
      { key: 'team', value: 'payments' },
    ];
    const expected = expectedIds(filters);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(expectedIds([{ key: 'env', value: 'production' }]).length);
    const { ids, totalCount } = await allFiltered(filters);
    expect(ids).toEqual(expected);
    // A filtered list small enough to count has a totalCount even on acme.
    expect(totalCount).toBe(expected.length);
  });

  it('match any value of a key given without a value', async () => {
    const filters = [{ key: 'team' }, { key: 'env', value: 'staging' }];
    const expected = expectedIds(filters);
    expect(expected.length).toBeGreaterThan(0);
    expect((await allFiltered(filters)).ids).toEqual(expected);
  });

  it('go upstream as interleaved key/value pairs, in the order given, a key without a value last', async () => {
    gateway.sim.clearRequests();
    await filtered([
      { key: 'env', value: 'production' },
      { key: 'team' },
      { key: 'team', value: 'data' },
    ]);
    const [call] = requestsTo(gateway.sim, VM_LIST);
    expect(call).toBeDefined();
    expect(call!.query).toContain('annotations%5B%5D%5Bkey%5D=env&annotations%5B%5D%5Bvalue%5D=production&annotations%5B%5D%5Bkey%5D=team');
    expect(annotationPairs(call!.query)).toEqual([
      ['annotations[][key]', 'env'],
      ['annotations[][value]', 'production'],
      ['annotations[][key]', 'team'],
      ['annotations[][value]', 'data'],
      ['annotations[][key]', 'team'],
    ]);
  });

  it('refuse arguments that would make the Katapult request too long, before any call', async () => {
    gateway.sim.clearRequests();
    const many = Array.from({ length: 300 }, (_, i) => ({ key: `key-${i}`, value: 'x'.repeat(10) }));
    const body = await filtered(many);
    expect(body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.message).toBe('Pass at most 20 annotation filters');
    const twenty = Array.from({ length: 20 }, (_, i) => ({ key: `key-${i}`, value: 'x'.repeat(300) }));
    const longFilters = await filtered(twenty);
    expect(longFilters.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(longFilters.errors![0]!.message).toMatch(/annotation filters are too long/);
    const long = await gateway.query(`{ organization(subDomain: "${'a'.repeat(5000)}") { name } }`, { token: DEMO_TOKENS.globex });
    expect(long.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(gateway.sim.requests).toHaveLength(0);
  });

  it('bind cursors: a cursor from one filter set is refused by another, or by the unfiltered list', async () => {
    const production = [{ key: 'env', value: 'production' }];
    const body = await filtered(production, { first: 5 });
    const cursor = body.data!.organization.virtualMachines.pageInfo.endCursor as string;

    // The same filters accept it.
    expect((await filtered(production, { first: 5, after: cursor })).errors).toBeUndefined();

    for (const other of [null, [{ key: 'env', value: 'staging' }], [{ key: 'env' }], [...production, { key: 'team' }]]) {
      const refused = await filtered(other, { first: 5, after: cursor });
      expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);
      expect(refused.errors![0]!.message).toMatch(/"after" cursor is not valid for this connection/);
      expect(refused.data).toEqual({ organization: { virtualMachines: null } });
    }
  });
});
