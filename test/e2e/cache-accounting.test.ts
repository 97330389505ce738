import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES, PARSED_BODY_HEAP_FACTOR } from '../../src/cache/rest-cache.js';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createTestGateway } from '../helpers/gateway.js';

describe('what the REST cache charges for an entry', () => {
  it('keeps the bytes Katapult sent, charged exactly, and charges a parsed copy its estimated heap size', async () => {
    const gateway = createTestGateway();
    let textBytes = 0;
    const response = await gateway.query('{ zones { id name } dataCenters { id name } }', { token: DEMO_TOKENS.globex });
    expect(response.body.errors).toBeUndefined();
    for (const path of ['/zones', '/data_centers']) {
      const upstream = await gateway.sim.fetch(`http://sim/core/v1${path}`, { headers: { authorization: `Bearer ${DEMO_TOKENS.globex}` } });
      textBytes += Buffer.byteLength(await upstream.text());
    }
    const { bytes, parsedBytes, entries } = gateway.app.cache.stats();
    expect(entries).toBe(2);
    expect(bytes).toBe(textBytes + 2 * ENTRY_OVERHEAD_BYTES);
    expect(PARSED_BODY_HEAP_FACTOR).toBeGreaterThanOrEqual(2);
    expect(parsedBytes).toBe(textBytes * PARSED_BODY_HEAP_FACTOR);
    await gateway.close();
  });

  it('splits CACHE_MAX_BYTES so bodies, parsed copies and finished responses together stay within it', () => {
    const gateway = createTestGateway({ env: { CACHE_MAX_BYTES: String(64 * 1024 * 1024) } });
    const { cache } = gateway.app.config;
    expect(cache.bodyMaxBytes + cache.parsedMaxBytes + cache.responseCacheMaxBytes).toBe(64 * 1024 * 1024);
    return gateway.close();
  });
});
