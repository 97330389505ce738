import { describe, expect, it, vi } from 'vitest';
import { hmacs } from './helpers/hmac-count.js';

vi.mock('node:crypto', async (importOriginal) => (await import('./helpers/hmac-count.js')).countingCrypto(importOriginal));

const { createTokenKeyer } = await import('../src/token-key.js');

describe('token keys', () => {
  it('remembers a token-sized token, and keeps no long string sent as a token', () => {
    const keyer = createTokenKeyer('token-key-test-secret-0123456789');
    const token = 'kp_demo_globex_org_read_4Tz8WpK3';
    const key = keyer.key(token);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    let before = hmacs.count;
    expect(keyer.key(token)).toBe(key);
    expect(hmacs.count).toBe(before);

    const huge = `kp_${'x'.repeat(100_000)}`;
    const hugeKey = keyer.key(huge);
    before = hmacs.count;
    expect(keyer.key(huge)).toBe(hugeKey);
    expect(hmacs.count).toBe(before + 1);
    expect(keyer.fingerprint(huge)).toBe(hugeKey.slice(0, 12));
  });
});
