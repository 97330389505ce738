import { describe, expect, it, vi } from 'vitest';
import { hmacs } from '../helpers/hmac-count.js';

vi.mock('node:crypto', async (importOriginal) => (await import('../helpers/hmac-count.js')).countingCrypto(importOriginal));

const { createCursorCodec } = await import('../../src/data/cursor.js');
const { InvalidInputError } = await import('../../src/data/errors.js');

const SECRET = 'cursor-memo-secret-0123456789abcdef';
const BINDING = 'vms:sub_domain=globex:[]';

describe('cursor verification is remembered', () => {
  it('checks the signature of a cursor from elsewhere once, then trusts the exact string', () => {
    const cursor = createCursorCodec([SECRET]).encode(BINDING, { offset: 7, id: 'vm_a' });
    // Another process (or this one before a restart) issued it: the first decode verifies it.
    const codec = createCursorCodec([SECRET]);
    const before = hmacs.count;
    expect(codec.decode(BINDING, cursor, 'after')).toEqual({ offset: 7, id: 'vm_a' });
    expect(hmacs.count).toBe(before + 1);
    for (let i = 0; i < 5; i++) expect(codec.decode(BINDING, cursor, 'after')).toEqual({ offset: 7, id: 'vm_a' });
    expect(hmacs.count).toBe(before + 1);
  });

  it('bounds what it remembers by bytes: cursors of huge bindings are signed and checked each time', () => {
    const codec = createCursorCodec([SECRET]);
    const huge = `vms:sub_domain=globex:${JSON.stringify(Array.from({ length: 700_000 }, () => ['env', null]))}`;
    expect(huge.length).toBeGreaterThan(8 * 1024 * 1024);
    const cursor = codec.encode(huge, { offset: 1, id: 'vm_c' });
    let before = hmacs.count;
    expect(codec.encode(huge, { offset: 1, id: 'vm_c' })).toBe(cursor);
    expect(hmacs.count).toBe(before + 1);
    before = hmacs.count;
    codec.decode(huge, cursor, 'after');
    codec.decode(huge, cursor, 'after');
    expect(hmacs.count).toBe(before + 2);
  });

  it('does not verify again a cursor it issued itself', () => {
    const codec = createCursorCodec([SECRET]);
    const cursor = codec.encode(BINDING, { offset: 3, id: 'vm_b' });
    const before = hmacs.count;
    expect(codec.decode(BINDING, cursor, 'after')).toEqual({ offset: 3, id: 'vm_b' });
    expect(hmacs.count).toBe(before);
  });

  it('still refuses the same cursor for another connection, and any altered copy of it', () => {
    const codec = createCursorCodec([SECRET]);
    const cursor = codec.encode(BINDING, { offset: 3, id: 'vm_b' });
    codec.decode(BINDING, cursor, 'after');
    expect(() => codec.decode('vms:sub_domain=acme:[]', cursor, 'after')).toThrow(InvalidInputError);
    const last = cursor.at(-1) === 'A' ? 'B' : 'A';
    expect(() => codec.decode(BINDING, cursor.slice(0, -1) + last, 'after')).toThrow(InvalidInputError);
  });

  it('hands out a fresh position each time, so a caller cannot change what the next one reads', () => {
    const codec = createCursorCodec([SECRET]);
    const cursor = codec.encode(BINDING, { offset: 9, id: 'vm_c' });
    const first = codec.decode(BINDING, cursor, 'after');
    first.offset = 1_000;
    expect(codec.decode(BINDING, cursor, 'after')).toEqual({ offset: 9, id: 'vm_c' });
  });
});
