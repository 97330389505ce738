import { describe, expect, it } from 'vitest';
import { PARSED_BODY_HEAP_FACTOR } from '../../src/data/katapult-source.js';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createTestGateway } from '../helpers/gateway.js';

describe('what the REST cache charges for an entry', () => {
  it('charges a parsed body its estimated heap size, not its JSON text, so CACHE_MAX_BYTES bounds memory', async () => {
    const gateway = createTestGateway();
    let textBytes = 0;
    const response = await gateway.query('{ zones { id name } dataCenters { id name } }', { token: DEMO_TOKENS.globex });
    expect(response.body.errors).toBeUndefined();
    for (const path of ['/zones', '/data_centers']) {
      const upstream = await gateway.sim.fetch(`http://sim/core/v1${path}`, { headers: { authorization: `Bearer ${DEMO_TOKENS.globex}` } });
      textBytes += Buffer.byteLength(await upstream.text());
    }
    const { bytes, entries } = gateway.app.cache.stats();
    expect(entries).toBe(2);
    expect(PARSED_BODY_HEAP_FACTOR).toBeGreaterThanOrEqual(2);
    expect(bytes).toBeGreaterThanOrEqual(textBytes * PARSED_BODY_HEAP_FACTOR);
    await gateway.close();
  });
});
