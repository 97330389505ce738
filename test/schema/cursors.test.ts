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

  it('an empty cursor is refused, not read as no cursor', async () => {
    await refused(globexVms, { after: '' });
    await refused(globexVms, { before: '' });
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

  it('a cursor from organization(subDomain:) pages on through node(id:), as Relay refetches, and the other way round', async () => {
    const { body: named } = await gateway.query('{ organization(subDomain: "globex") { id } acme: organization(subDomain: "acme") { id } }', { token });
    const globexId = (named.data as any).organization.id as string;
    const acmeId = (named.data as any).acme.id as string;
    const REFETCH = (id: string) => /* GraphQL */ `
      query($after: String, $before: String) {
        node(id: "${id}") { ... on Organization { virtualMachines(first: 3, after: $after, before: $before) { pageInfo { endCursor } edges { node { id } } } } }
      }
    `;
    const bySubDomain = await gateway.query(globexVms, { token, variables: { after: globexCursor } });
    const byId = await gateway.query(REFETCH(globexId), { token, variables: { after: globexCursor } });
    expect(byId.body.errors).toBeUndefined();
    const ids = (r: typeof byId, pick: (d: any) => any) => pick(r.body.data).virtualMachines.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(ids(byId, (d) => d.node)).toEqual(ids(bySubDomain, (d) => d.organization));
    expect(ids(byId, (d) => d.node)).toHaveLength(3);
    // The cursors it issues are for its own name, and take the client back the other way too.
    const idCursor = (byId.body.data as any).node.virtualMachines.pageInfo.endCursor as string;
    const third = await gateway.query(globexVms, { token, variables: { after: idCursor } });
    const thirdById = await gateway.query(REFETCH(globexId), { token, variables: { after: idCursor } });
    expect(third.body.errors).toBeUndefined();
    expect(ids(third, (d) => d.organization)).toEqual(ids(thirdById, (d) => d.node));
    expect(ids(third, (d) => d.organization)).toHaveLength(3);
    expect(ids(third, (d) => d.organization)).not.toContain(ids(byId, (d) => d.node)[0]);
    // Still bound to the organization: acme's cursor is no cursor of globex's, by either name.
    const acmeCursor = await endCursor(VMS('subDomain: "acme"'), (d) => d.organization.virtualMachines.pageInfo.endCursor);
    await refused(REFETCH(globexId), { after: acmeCursor });
    await refused(REFETCH(acmeId), { after: globexCursor });
  });

  it('a package cursor is portable between the two names of an organization too', async () => {
    const packageCursor = await endCursor(PACKAGES, (d) => d.organization.virtualMachinePackages.pageInfo.endCursor);
    const { body: named } = await gateway.query('{ organization(subDomain: "globex") { id } }', { token });
    const globexId = (named.data as any).organization.id as string;
    const byId = await gateway.query(
      `query($after: String) { virtualMachinePackages(organization: { id: "${globexId}" }, first: 3, after: $after) { edges { node { id } } } }`,
      { token, variables: { after: packageCursor } },
    );
    expect(byId.body.errors).toBeUndefined();
    const bySubDomain = await gateway.query(
      'query($after: String) { virtualMachinePackages(organization: { subDomain: "globex" }, first: 3, after: $after) { edges { node { id } } } }',
      { token, variables: { after: packageCursor } },
    );
    expect((byId.body.data as any).virtualMachinePackages.edges).toEqual((bySubDomain.body.data as any).virtualMachinePackages.edges);
    expect((byId.body.data as any).virtualMachinePackages.edges.length).toBeGreaterThan(0);
  });

  it('a cursor from countries is refused by GPU types', async () => {
    const countryCursor = await endCursor(COUNTRIES, (d) => d.countries.pageInfo.endCursor);
    await refused(GPU_TYPES, { after: countryCursor });
  });
});
