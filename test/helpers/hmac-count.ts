/**
 * Counts HMAC computations, so a test can tell a remembered result from one computed again.
 * Use as the factory of `vi.mock('node:crypto', …)` (see test/data/cursor-memo.test.ts); it
 * takes the real module from `importOriginal`, never from an import of its own.
 */
export const hmacs = { count: 0 };

export async function countingCrypto(importOriginal: () => Promise<unknown>) {
  const real = (await importOriginal()) as typeof import('node:crypto');
  return {
    ...real,
    createHmac: (...args: Parameters<typeof real.createHmac>) => {
      hmacs.count++;
      return real.createHmac(...args);
    },
  };
}
