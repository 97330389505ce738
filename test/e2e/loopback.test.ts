import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { callsPerUrl, errorCodes, startLoopbackGateway, type LoopbackGateway } from '../helpers/gateway.js';

/**
 * The way users run it: the simulator on its own loopback port, the gateway (createApp +
 * createHttpServer, real undici pool) on another, pointed at it through KATAPULT_API_URL,
 * and the dashboard query sent over HTTP.
 */

const DASHBOARD = /* GraphQL */ `
  {
    organization(subDomain: "globex") {
      virtualMachines(first: 30) {
        edges { node { name zone { name dataCenter { name country { name } } } package { cpuCores memoryInGb } ipAddresses { address } } }
      }
    }
  }
`;

let gateway: LoopbackGateway;
beforeAll(async () => {
  gateway = await startLoopbackGateway();
});
afterAll(() => gateway.close());

describe('gateway and simulator on real loopback ports', () => {
  it('are both on 127.0.0.1, the gateway configured through KATAPULT_API_URL', () => {
    expect(gateway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(gateway.upstreamUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/core\/v1$/);
    expect(gateway.app.config.upstream.baseUrl).toBe(gateway.upstreamUrl);
  });

  it('answers the dashboard query over HTTP in at most 3 upstream calls', async () => {
    const response = await gateway.query(DASHBOARD, { token: DEMO_TOKENS.globex });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/(graphql-response\+)?json/);
    expect(response.body.errors).toBeUndefined();
    const edges = response.body.data!.organization.virtualMachines.edges as Array<{ node: Record<string, any> }>;
    expect(edges).toHaveLength(12);
    expect(edges.map((e) => e.node.name)).toEqual(gateway.sim.visibleVirtualMachines(DEMO_TOKENS.globex, 'globex').map((vm) => vm.name));
    for (const { node } of edges) expect(node.zone.dataCenter.country.name).toEqual(expect.any(String));
    expect(gateway.sim.requests.length).toBeLessThanOrEqual(3);
    expect([...callsPerUrl(gateway.sim).values()].every((n) => n === 1)).toBe(true);
  });

  it('answers a missing token with 401 and a Bearer challenge over HTTP', async () => {
    const response = await gateway.query(DASHBOARD);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    expect(errorCodes(response.body)).toEqual(['UNAUTHENTICATED']);
  });

  it('sends the request id back and passes it on to every error', async () => {
    const response = await gateway.query(DASHBOARD, { token: DEMO_TOKENS.noVmScope, headers: { 'x-request-id': 'e2e-req-7' } });
    expect(response.headers.get('x-request-id')).toBe('e2e-req-7');
    expect(errorCodes(response.body)).toEqual(['FORBIDDEN']);
    expect(response.body.errors![0]!.extensions?.requestId).toBe('e2e-req-7');
  });
});
