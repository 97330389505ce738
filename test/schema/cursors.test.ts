import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createTestGateway, errorCodes, type TestGateway } from '../helpers/gateway.js';

/**
 * Cursors are opaque, tamper-evident and bound to the connection that issued them: an edited,
 * made-up or replayed cursor is the client's mistake (BAD_USER_INPUT), never a server error
 * and never a window of some other list.
 */

const token = DEMO_TOKENS.user; // sees both acme and globex
let gateway: TestGateway;

const VMS = (org: string, extra = '') => /* GraphQL */ `
  query($after: String, $before: String) {
    organization(${org}) {
      virtualMachines(first: 3, after: $after, before: $before${extra}) { pageInfo { endCursor } edges { node { id } } }
    }
  }
`;
const PACKAGES = /* GraphQL */ `
  query($after: String) {
    organization(subDomain: "globex") { virtualMachinePackages(first: 3, after: $after) { pageInfo { endCursor } } }
  }
`;
const COUNTRIES = '{ countries(first: 2) { pageInfo { endCursor } } }';
const GPU_TYPES = 'query($after: String) { gpuTypes(first: 2, after: $after) { pageInfo { endCursor } } }';

async function endCursor(document: string, pick: (data: Record<string, any>) => string): Promise<string> {
  const { body } = await gateway.query(document, { token });
  expect(body.errors).toBeUndefined();
  return pick(body.data!);
}

const globexVms = VMS('subDomain: "globex"');
let globexCursor: string;

async function refused(document: string, variables: Record<string, unknown>) {
  const response = await gateway.query(document, { token, variables });
  expect(response.status).toBe(200);
  expect(errorCodes(response.body)).toEqual(['BAD_USER_INPUT']);
  expect(response.body.errors![0]!.message).toMatch(/cursor is not valid for this connection; use a cursor this connection returned/);
  expect(response.text).not.toContain('INTERNAL_SERVER_ERROR');
  return response;
}

beforeAll(async () => {
  gateway = createTestGateway();
  globexCursor = await endCursor(globexVms, (d) => d.organization.virtualMachines.pageInfo.endCursor);
});
afterAll(() => gateway.close());

describe('cursor tampering', () => {
  it('a genuine cursor resumes where it was issued (the baseline)', async () => {
    const { body } = await gateway.query(globexVms, { token, variables: { after: globexCursor } });
    expect(body.errors).toBeUndefined();
    expect(body.data!.organization.virtualMachines.edges).toHaveLength(3);
  });

  it('an edited payload, an edited signature, or a forged offset is refused', async () => {
    const [payload, signature] = globexCursor.split('.') as [string, string];
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString()) as [number, string];
    const forgedPayload = Buffer.from(JSON.stringify([decoded[0] + 100, decoded[1]])).toString('base64url');
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    for (const tampered of [`${forgedPayload}.${signature}`, `${payload}.${flip(signature, 3)}`, `${flip(payload, 1)}.${signature}`, `${payload}.`, payload]) {
      await refused(globexVms, { after: tampered });
      await refused(globexVms, { before: tampered });
    }
  });

  it('any made-up string is refused as bad input, never as a server error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ minLength: 1 }), fc.base64String({ minLength: 1 }), fc.string({ minLength: 513, maxLength: 600 })), async (garbage) => {
        await refused(globexVms, { after: garbage });
      }),
      { numRuns: 40 },
    );
  });
});

describe('cursor replay across connections', () => {
  it('a cursor from another organization’s VM list is refused', async () => {
    const acmeCursor = await endCursor(VMS('subDomain: "acme"'), (d) => d.organization.virtualMachines.pageInfo.endCursor);
    await refused(globexVms, { after: acmeCursor });
    await refused(VMS('subDomain: "acme"'), { before: globexCursor });
  });

  it('a cursor from the packages connection is refused by the VM connection, and the other way round', async () => {
    const packageCursor = await endCursor(PACKAGES, (d) => d.organization.virtualMachinePackages.pageInfo.endCursor);
    await refused(globexVms, { after: packageCursor });
    await refused(PACKAGES, { after: globexCursor });
  });

  it('a cursor from other annotation filters is refused', async () => {
    const filtered = VMS('subDomain: "globex"', ', annotations: [{ key: "env" }]');
    const filteredCursor = await endCursor(filtered, (d) => d.organization.virtualMachines.pageInfo.endCursor);
    await refused(globexVms, { after: filteredCursor });
    await refused(filtered, { after: globexCursor });
  });

  it('a cursor from countries is refused by GPU types', async () => {
    const countryCursor = await endCursor(COUNTRIES, (d) => d.countries.pageInfo.endCursor);
    await refused(GPU_TYPES, { after: countryCursor });
  });
});
