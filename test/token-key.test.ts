import { describe, expect, it, vi } from 'vitest';

// Counts HMAC computations, so the tests can tell a remembered key from one computed again.
const hmacs = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    createHmac: (...args: Parameters<typeof real.createHmac>) => {
      hmacs.count++;
      return real.createHmac(...args);
    },
  };
});

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
