import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { compress, compressSync, negotiateEncoding, SYNC_COMPRESS_MAX_BYTES, windowBitsFor } from '../../src/server/compression.js';
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

  it('compresses an answer under 1 KiB when the client refuses an unencoded one', async () => {
    const small = await post(gateway.endpoint, { query: ORG_NAME_QUERY }, { ...bearer(DEMO_TOKENS.globex), 'accept-encoding': 'gzip, identity;q=0' });
    expect(small.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(small.body).toString('utf8')).data.organization.name).toBe('Globex Corporation');
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
    ['gzip;q=0.001, br;q=0', 'gzip'],
    ['br; q=0.5 , gzip;q=0.4', 'br'],
    ['br ;q=0, gzip ; q=0.5', 'gzip'],
    // A weight that is not a qvalue drops its member instead of counting as q=1.
    ['br;q=-1, gzip', 'gzip'],
    ['br;q=abc, gzip;q=0.5', 'gzip'],
    ['br;q=1e-3', null],
    ['br;q=1.5', null],
    ['br;q=', null],
  ] as const)('picks %s → %s', (header, expected) => {
    expect(negotiateEncoding(header).encoding).toBe(expected);
  });

  it.each([
    [undefined, 1024],
    ['gzip', 1024],
    ['gzip, identity;q=0.5', 1024],
    // identity refused, and an encoding on offer: every body is compressed.
    ['gzip, identity;q=0', 0],
    ['br, *;q=0', 0],
    // identity listed keeps its own weight over `*`.
    ['br, identity, *;q=0', 1024],
    // Nothing else on offer: an unencoded answer is still better than none.
    ['identity;q=0', 1024],
  ] as const)('compresses from %s bytes up for %s', (header, expected) => {
    expect(negotiateEncoding(header).minBytes).toBe(expected);
  });
});

/** The window a brotli stream declares in its first bits (RFC 7932, section 9.1). */
function brotliWindowBits(stream: Buffer): number {
  const bits = stream[0]! | (stream[1]! << 8);
  if ((bits & 1) === 0) return 16;
  const n = (bits >> 1) & 7;
  if (n !== 0) return 17 + n;
  const m = (bits >> 4) & 7;
  return m === 0 ? 17 : 8 + m;
}

/** JSON shaped like an answer, `length` bytes long, that does not repeat itself at short range. */
function answerLike(length: number): Buffer {
  let text = '{"data":{"items":[';
  for (let i = 0; text.length < length; i++) text += `{"id":"vm_${(i * 2654435761) % 1e9}","name":"web-${i}"},`;
  return Buffer.from(text.slice(0, length));
}

describe('compression windows', () => {
  it('sizes the window to the body, within each format\'s bounds', () => {
    expect(windowBitsFor(1024, 9, 15)).toBe(10);
    expect(windowBitsFor(1025, 9, 15)).toBe(11);
    expect(windowBitsFor(3785, 9, 15)).toBe(12);
    expect(windowBitsFor(1 << 20, 9, 15)).toBe(15);
    expect(windowBitsFor(100, 10, 22)).toBe(10);
    expect(windowBitsFor(64 << 20, 10, 22)).toBe(22);
  });

  it('declares a small window for a small answer, brotli\'s default for a large one', () => {
    expect(brotliWindowBits(compressSync(answerLike(3785), 'br'))).toBe(12);
    expect(brotliWindowBits(compressSync(answerLike(40_000), 'br'))).toBe(16);
    expect(brotliWindowBits(compressSync(answerLike(5_000_000), 'br'))).toBe(22);
  });

  it('round-trips bodies on both sides of each window boundary, on and off the event loop', async () => {
    for (const length of [1024, 1025, 4096, 4097, 32_768, 32_769, 70_000]) {
      const body = answerLike(length);
      expect(gunzipSync(compressSync(body, 'gzip')).equals(body)).toBe(true);
      expect(brotliDecompressSync(compressSync(body, 'br')).equals(body)).toBe(true);
      expect(gunzipSync(await compress(body, 'gzip')).equals(body)).toBe(true);
      expect(brotliDecompressSync(await compress(body, 'br')).equals(body)).toBe(true);
    }
  });
});
