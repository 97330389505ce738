import { describe, expect, it } from 'vitest';
import { createTokenLedger } from '../../src/cache/token-ledger.js';

/** A store that keeps whatever it is given, as the LRUs behind the ledger do when there is room. */
const kept = () => true;

describe('the per-token ledger', () => {
  it('makes room out of the token’s own least recently used entries, never the one being replaced', () => {
    const ledger = createTokenLedger();
    const dropped: string[] = [];
    const drop = (key: string) => dropped.push(key);
    for (const key of ['a', 'b', 'c']) ledger.admit('t1', key, 10, 30, drop, kept);
    ledger.admit('t2', 'x', 10, 30, drop, kept);
    ledger.touch('t1', 'a');
    expect(dropped).toEqual([]);
    // b is replaced by 25 bytes: 30 − 10 + 25 = 45 over 30, so c (now the oldest but b) goes, then a.
    expect(ledger.admit('t1', 'b', 25, 30, drop, kept)).toBe(true);
    expect(dropped).toEqual(['c', 'a']);
    expect(ledger.keysOf('t1')).toEqual(['b']);
    expect(ledger.bytesOf('t1')).toBe(25);
    expect(ledger.bytesOf('t2')).toBe(10);
    // Enough room already: nothing goes, and the new entry is the most recently used.
    ledger.admit('t1', 'd', 5, 30, drop, kept);
    expect(dropped).toEqual(['c', 'a']);
    expect(ledger.keysOf('t1')).toEqual(['b', 'd']);
    // Re-admitting an entry moves it last and charges it anew.
    ledger.admit('t1', 'b', 20, 30, drop, kept);
    expect(ledger.keysOf('t1')).toEqual(['d', 'b']);
    expect(ledger.bytesOf('t1')).toBe(25);
  });

  it('records only an entry the store kept, after making room for it either way', () => {
    const ledger = createTokenLedger();
    const dropped: string[] = [];
    const drop = (key: string) => dropped.push(key);
    ledger.admit('t1', 'a', 10, 20, drop, kept);
    ledger.admit('t1', 'b', 10, 20, drop, kept);
    let setCalls = 0;
    // The store refused it (too large for the whole LRU): room was made, nothing recorded.
    const refused = ledger.admit('t1', 'c', 15, 20, drop, () => {
      setCalls++;
      return false;
    });
    expect(refused).toBe(false);
    expect(setCalls).toBe(1);
    expect(dropped).toEqual(['a', 'b']);
    expect(ledger.keysOf('t1')).toEqual([]);
    expect(ledger.bytesOf('t1')).toBe(0);
    expect(ledger.tokens).toBe(0);
  });

  it('stops when only the entry being replaced is left, as the store then refuses what cannot fit', () => {
    const ledger = createTokenLedger();
    const dropped: string[] = [];
    ledger.admit('t1', 'b', 10, 30, (key) => dropped.push(key), kept);
    ledger.admit('t1', 'b', 100, 30, (key) => dropped.push(key), kept);
    expect(dropped).toEqual([]);
    expect(ledger.bytesOf('t1')).toBe(100);
  });

  it('drops a token with no entries left, and its check time with it', () => {
    const ledger = createTokenLedger();
    ledger.admit('t1', 'a', 1, 10, () => {}, kept);
    ledger.markChecked('t1', 123);
    expect(ledger.checkedAt('t1')).toBe(123);
    ledger.remove('t1', 'a');
    expect(ledger.checkedAt('t1')).toBeUndefined();
    expect(ledger.tokens).toBe(0);
    // A token holding nothing is not recorded as checked.
    ledger.markChecked('t1', 456);
    expect(ledger.checkedAt('t1')).toBeUndefined();
  });
});
