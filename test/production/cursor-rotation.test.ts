import { afterAll, describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS } from '../../src/simulator/index.js';
import { bearer, gatewaysPerTest, post, type TestGateway } from './gateway.js';

const OLD_SECRET = 'old-cursor-secret-0123456789';
const NEW_SECRET = 'new-cursor-secret-9876543210';
const PAGE = 'query Page($after: String) { organization(subDomain: "globex") { virtualMachines(first: 3, after: $after) { edges { node { name } } pageInfo { endCursor } } } }';

const simulator = createSimulator();
const start = gatewaysPerTest({ simulator });
afterAll(() => simulator.close());
const gatewayWith = (cursorSecret: string) => start({ env: { CURSOR_SECRET: cursorSecret } });
const page = async (gateway: TestGateway, after?: string) =>
  (await post(gateway.endpoint, { query: PAGE, variables: { after } }, bearer(DEMO_TOKENS.globex))).json;

describe('cursor secret rotation', () => {
  it('accepts a cursor signed with the previous secret while it is still listed, and signs new cursors with the newest', async () => {
    const before = await gatewayWith(OLD_SECRET);
    const first = await page(before);
    const oldCursor: string = first.data.organization.virtualMachines.pageInfo.endCursor;

    const rotated = await gatewayWith(`${NEW_SECRET},${OLD_SECRET}`);
    const next = await page(rotated, oldCursor);
    expect(next.errors).toBeUndefined();
    const expected = await page(before, oldCursor);
    expect(next.data.organization.virtualMachines.edges).toEqual(expected.data.organization.virtualMachines.edges);

    const newCursor: string = next.data.organization.virtualMachines.pageInfo.endCursor;
    expect((await page(before, newCursor)).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('refuses the old cursor once the previous secret is dropped', async () => {
    const before = await gatewayWith(OLD_SECRET);
    const oldCursor: string = (await page(before)).data.organization.virtualMachines.pageInfo.endCursor;
    const after = await gatewayWith(NEW_SECRET);
    const refused = await page(after, oldCursor);
    expect(refused.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});
