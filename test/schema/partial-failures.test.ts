import { describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createTestGateway, errorCodes } from '../helpers/gateway.js';
import { cannedError } from './error-contract.js';

/** A gateway whose Katapult refuses `path` (exactly) for every token. */
function refusing(path: string, answer: () => Response) {
  return createTestGateway({
    wrapFetch: (simulator) => async (input, init) => (new URL(input).pathname === `/core/v1${path}` ? answer() : simulator(input, init)),
  });
}

describe('a follow-up read that fails under a list', () => {
  it('nulls the organization of each VM, not the page of VMs, when the organization record is refused', async () => {
    const gateway = refusing('/organizations/organization', () => cannedError(403, 'scope_not_granted', { scopes: ['organizations:read'] }));
    try {
      const { body } = await gateway.query('{ organization(subDomain: "globex") { virtualMachines(first: 3) { edges { node { id name organization { name } } } } } }', { token: DEMO_TOKENS.globex });
      const edges = (body.data as { organization: { virtualMachines: { edges: Array<{ node: { name: string; organization: unknown } }> } } }).organization.virtualMachines.edges;
      expect(edges).toHaveLength(3);
      for (const edge of edges) {
        expect(edge.node.name).toBeTruthy();
        expect(edge.node.organization).toBeNull();
      }
      expect(new Set(errorCodes(body))).toEqual(new Set(['FORBIDDEN']));
    } finally {
      await gateway.close();
    }
  });

  it('nulls a data center\'s zones, not the VMs in them, when the zone list cannot be read', async () => {
    const gateway = refusing('/zones', () => cannedError(503, 'service_unavailable'));
    try {
      const { body } = await gateway.query('{ organization(subDomain: "globex") { virtualMachines(first: 2) { edges { node { name zone { name dataCenter { name zones { id } } } } } } } }', { token: DEMO_TOKENS.globex });
      const edges = (body.data as { organization: { virtualMachines: { edges: Array<{ node: { zone: { name: string; dataCenter: { zones: unknown } } } }> } } }).organization.virtualMachines.edges;
      expect(edges).toHaveLength(2);
      for (const edge of edges) {
        expect(edge.node.zone.name).toBeTruthy();
        expect(edge.node.zone.dataCenter.zones).toBeNull();
      }
      expect(errorCodes(body).length).toBeGreaterThan(0);
    } finally {
      await gateway.close();
    }
  });

  it('nulls a country\'s codes, not the list of countries, when its own record cannot be read', async () => {
    const gateway = refusing('/countries/country', () => cannedError(503, 'service_unavailable'));
    try {
      const { body } = await gateway.query('{ countries(first: 3) { edges { node { name isoCode2 } } } }', { token: DEMO_TOKENS.globex });
      const data = body.data as { countries: { edges: Array<{ node: { name: string; isoCode2: unknown } }> } | null };
      expect(data.countries?.edges.length).toBeGreaterThan(0);
      for (const edge of data.countries!.edges) expect(edge.node.name).toBeTruthy();
    } finally {
      await gateway.close();
    }
  });
});

describe('a VM\'s package, for a token that may not list packages', () => {
  it('is read from the VM\'s own record when the package list is refused', async () => {
    const gateway = refusing('/virtual_machine_packages', () => cannedError(403, 'scope_not_granted', { scopes: ['virtual_machine_packages:read'] }));
    try {
      const { body } = await gateway.query('{ organization(subDomain: "globex") { virtualMachines(first: 2) { edges { node { name package { name cpuCores } } } } } }', { token: DEMO_TOKENS.globex });
      expect(body.errors).toBeUndefined();
      const edges = (body.data as { organization: { virtualMachines: { edges: Array<{ node: { package: { name: string; cpuCores: number } } }> } } }).organization.virtualMachines.edges;
      for (const edge of edges) {
        expect(edge.node.package.name).toBeTruthy();
        expect(edge.node.package.cpuCores).toBeGreaterThan(0);
      }
    } finally {
      await gateway.close();
    }
  });
});
