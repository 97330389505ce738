import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS, type Simulator } from '../../src/simulator/index.js';

const open: Simulator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((sim) => sim.close()));
});

async function listening(options: Parameters<typeof createSimulator>[0] = {}) {
  const sim = createSimulator(options);
  open.push(sim);
  return { sim, ...(await sim.listen({ port: 0 })) };
}

describe('simulator over a real socket', () => {
  it('listens on an ephemeral loopback port and serves the API under /core/v1', async () => {
    const { baseUrl, port } = await listening();
    expect(port).toBeGreaterThan(0);
    expect(baseUrl).toBe(`http://127.0.0.1:${port}/core/v1`);
    const res = await fetch(`${baseUrl}/organizations`, { headers: { Authorization: `Bearer ${DEMO_TOKENS.user}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toMatch(/^W\/"[0-9a-f]{32}"$/);
    expect(res.headers.get('cache-control')).toBe('max-age=0, private, must-revalidate');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-ratelimit-permitted')).toBe('1000');
    expect((await res.json()).organizations).toHaveLength(2);
  });

  it('destroys the socket on a reset fault so fetch fails', async () => {
    const { baseUrl, sim } = await listening({ resetRatio: 1 });
    const error = await fetch(`${baseUrl}/zones`, { headers: { Authorization: `Bearer ${DEMO_TOKENS.acme}` } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe('fetch failed');
    expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain(((error as TypeError).cause as { code?: string }).code);
    expect(sim.requests.at(-1)?.status).toBe(0);
  });

  it('merges a JSON body over the query on GET, the body winning', async () => {
    const { port } = await listening();
    const body = JSON.stringify({ organization: { sub_domain: 'globex' }, per_page: 2 });
    const answer = await new Promise<{ status: number; json: { pagination: { per_page: number }; virtual_machines: unknown[] } }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'GET',
          path: '/core/v1/organizations/organization/virtual_machines?per_page=5',
          headers: { Authorization: `Bearer ${DEMO_TOKENS.globex}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status).toBe(200);
    expect(answer.json.pagination.per_page).toBe(2);
    expect(answer.json.virtual_machines).toHaveLength(2);
  });

  it('logs each request with its raw query and a token fingerprint, never the token', async () => {
    const { baseUrl, sim } = await listening();
    await fetch(`${baseUrl}/organizations/organization/virtual_machines?organization%5Bsub_domain%5D=acme&page=2`, {
      headers: { Authorization: `Bearer ${DEMO_TOKENS.acme}` },
    });
    await fetch(`${baseUrl}/zones`);
    const [first, second] = sim.requests;
    expect(first).toMatchObject({ method: 'GET', path: '/core/v1/organizations/organization/virtual_machines', query: 'organization%5Bsub_domain%5D=acme&page=2', status: 200 });
    expect(first?.tokenFingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(JSON.stringify(sim.requests)).not.toContain(DEMO_TOKENS.acme);
    expect(second).toMatchObject({ path: '/core/v1/zones', tokenFingerprint: null, status: 400 });
    expect(sim.countRequests({ token: DEMO_TOKENS.acme })).toBe(1);
    expect(sim.countRequests({ path: '/zones' })).toBe(1);
    expect(sim.countRequests({ path: '/core/v1/zones' })).toBe(1);
    expect(sim.countRequests()).toBe(2);
    sim.clearRequests();
    expect(sim.countRequests()).toBe(0);
  });

  it('closes cleanly and can be closed twice', async () => {
    const { sim, baseUrl } = await listening();
    await fetch(`${baseUrl}/zones`, { headers: { Authorization: `Bearer ${DEMO_TOKENS.acme}` } });
    await sim.close();
    await sim.close();
    await expect(fetch(`${baseUrl}/zones`)).rejects.toThrow();
  });
});
