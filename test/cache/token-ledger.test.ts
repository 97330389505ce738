import { describe, expect, it } from 'vitest';
import { createTokenLedger } from '../../src/cache/token-ledger.js';

describe('the per-token ledger', () => {
  it('makes room out of the token’s own least recently used entries, never the one being replaced', () => {
    const ledger = createTokenLedger();
    for (const key of ['a', 'b', 'c']) ledger.add('t1', key, 10);
    ledger.add('t2', 'x', 10);
    ledger.touch('t1', 'a');
    const dropped: string[] = [];
    // b is replaced by 25 bytes: 30 − 10 + 25 = 45 over 30, so c (now the oldest but b) goes, then a.
    ledger.makeRoom('t1', 'b', 25, 30, (key) => dropped.push(key));
    expect(dropped).toEqual(['c', 'a']);
    expect(ledger.keysOf('t1')).toEqual(['b']);
    expect(ledger.bytesOf('t2')).toBe(10);
    // Nothing left to drop but the entry kept: it stops, as the store refuses what cannot fit.
    ledger.makeRoom('t1', 'b', 100, 30, (key) => dropped.push(key));
    expect(dropped).toEqual(['c', 'a']);
    // Enough room already: nothing goes.
    ledger.add('t1', 'd', 5);
    ledger.makeRoom('t1', 'e', 5, 30, (key) => dropped.push(key));
    expect(dropped).toEqual(['c', 'a']);
  });
});
