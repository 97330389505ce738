import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { negotiateEncoding, SYNC_COMPRESS_MAX_BYTES } from '../../src/server/compression.js';
import { bearer, ORG_NAME_QUERY, post, startGateway, type TestGateway } from './gateway.js';

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway?.close());

const auth = bearer(DEMO_TOKENS.acme);
const BIG = { query: '{ organization(subDomain: "acme") { virtualMachines(first: 50) { edges { cursor node { id name hostname state zone { name } } } } } }' };

describe('response compression', () => {
  it('gzips a large answer for a client that accepts gzip', async () => {
    const plain = await post(gateway.endpoint, BIG, auth);
    expect(plain.json.errors).toBeUndefined();
    expect(plain.body.length).toBeGreaterThan(1024);
    expect(plain.headers['content-encoding']).toBeUndefined();

    const zipped = await post(gateway.endpoint, BIG, { ...auth, 'accept-encoding': 'gzip' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toMatch(/Accept-Encoding/);
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(zipped.body.length).toBeLessThan(plain.body.length / 2);
    expect(gunzipSync(zipped.body).toString()).toBe(plain.text);
  });

  it('prefers brotli when the client takes both', async () => {
    const plain = await post(gateway.endpoint, BIG, auth);
    const compressed = await post(gateway.endpoint, BIG, { ...auth, 'accept-encoding': 'gzip, deflate, br' });
    expect(compressed.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(compressed.body).toString()).toBe(plain.text);
  });

  it('compresses an answer too large to compress on the event loop off it, with the same result', async () => {
    const HUGE = {
      query:
        '{ organization(subDomain: "acme") { a: virtualMachines(first: 100) { ...Page } b: virtualMachines(first: 100) { ...Page } } } ' +
        'fragment Page on VirtualMachineConnection { edges { cursor node { id name hostname fqdn state createdAt zone { id name dataCenter { id name country { id name } } } package { id name cpuCores memoryInGb } ipAddresses { address } } } }',
    };
    const plain = await post(gateway.endpoint, HUGE, auth);
    expect(plain.json.errors).toBeUndefined();
    expect(plain.body.length).toBeGreaterThan(SYNC_COMPRESS_MAX_BYTES);
    for (const [encoding, decode] of [['gzip', gunzipSync], ['br', brotliDecompressSync]] as const) {
      const compressed = await post(gateway.endpoint, HUGE, { ...auth, 'accept-encoding': encoding });
      expect(compressed.headers['content-encoding']).toBe(encoding);
      expect(Number(compressed.headers['content-length'])).toBe(compressed.body.length);
      expect(decode(compressed.body).toString()).toBe(plain.text);
    }
  });

  it('leaves an answer under 1 KiB uncompressed', async () => {
    const small = await post(gateway.endpoint, { query: ORG_NAME_QUERY }, { ...bearer(DEMO_TOKENS.globex), 'accept-encoding': 'gzip, br' });
    expect(small.body.length).toBeLessThan(1024);
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(small.json.data.organization.name).toBe('Globex Corporation');
  });
});

describe('negotiateEncoding', () => {
  it.each([
    [undefined, null],
    ['identity', null],
    ['gzip', 'gzip'],
    ['gzip, br', 'br'],
    ['br;q=0, gzip', 'gzip'],
    ['gzip;q=1.0, br;q=0.5', 'gzip'],
    ['*', 'br'],
    ['*;q=0', null],
  ] as const)('picks %s → %s', (header, expected) => {
    expect(negotiateEncoding(header)).toBe(expected);
  });
});
