import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createTestGateway, requestsTo, type TestGateway } from '../helpers/gateway.js';

/**
 * Windows map onto page-aligned upstream pages of 200 (Katapult's maximum), so a client
 * paging through in small windows costs one upstream call per 200 rows, and windows from
 * different requests that overlap read the same cached pages.
 */

const VM_LIST = '/organizations/organization/virtual_machines';
const PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String, $last: Int, $before: String) {
    organization(subDomain: "acme") {
      virtualMachines(first: $first, after: $after, last: $last, before: $before) {
        pageInfo { hasNextPage endCursor startCursor }
        edges { node { id name } }
      }
    }
  }
`;

let gateway: TestGateway;
afterEach(() => gateway?.close());

async function page(variables: Record<string, unknown>) {
  const { body } = await gateway.query(PAGE, { token: DEMO_TOKENS.acme, variables });
  expect(body.errors).toBeUndefined();
  return body.data!.organization.virtualMachines as {
    pageInfo: { hasNextPage: boolean; endCursor: string | null; startCursor: string | null };
    edges: Array<{ node: { id: string } }>;
  };
}

const listPages = () => requestsTo(gateway.sim, VM_LIST).map((r) => new URLSearchParams(r.query).get('page'));

describe('page-aligned upstream cost', () => {
  it('reads 1,000 acme VMs in windows of 25 with at most 5 upstream calls of 200 each', async () => {
    gateway = createTestGateway();
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 40; i++) {
      const connection = await page({ first: 25, after });
      seen.push(...connection.edges.map((e) => e.node.id));
      expect(connection.pageInfo.hasNextPage).toBe(true);
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual(gateway.sim.visibleVirtualMachines(DEMO_TOKENS.acme, 'acme').slice(0, 1000).map((vm) => vm.id));
    const calls = requestsTo(gateway.sim, VM_LIST);
    expect(calls.length).toBeLessThanOrEqual(5);
    expect(listPages()).toEqual(['1', '2', '3', '4', '5']);
    for (const call of calls) expect(new URLSearchParams(call.query).get('per_page')).toBe('200');
  });

  it('serves an overlapping window from another request with no upstream call', async () => {
    gateway = createTestGateway();
    const first = await page({ first: 50 });
    expect(requestsTo(gateway.sim, VM_LIST)).toHaveLength(1);
    gateway.sim.clearRequests();

    // Another request, a window overlapping the first one and ending on the same page.
    const cursor = first.pageInfo.endCursor;
    const overlapping = await page({ last: 30, before: cursor });
    expect(overlapping.edges).toHaveLength(30);
    const resumed = await page({ first: 100, after: cursor });
    expect(resumed.edges).toHaveLength(100);
    expect(requestsTo(gateway.sim, VM_LIST)).toHaveLength(0);
  });

  it('reads two pages for a window that straddles a page boundary, then none for the windows inside them', async () => {
    gateway = createTestGateway();
    let after: string | null = null;
    for (let i = 0; i < 2; i++) after = (await page({ first: 90, after })).pageInfo.endCursor; // rows 0–179
    gateway.sim.clearRequests();
    const straddling = await page({ first: 40, after }); // rows 180–219: pages 1 and 2
    expect(straddling.edges).toHaveLength(40);
    expect(listPages()).toEqual(['2']); // page 1 is already cached from the first windows
    gateway.sim.clearRequests();
    await page({ last: 100, before: straddling.pageInfo.endCursor });
    await page({ first: 100, after: straddling.pageInfo.startCursor });
    expect(listPages()).toEqual([]);
  });
});
