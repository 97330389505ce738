import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCursorCodec } from '../../src/data/cursor.js';
import { InvalidInputError } from '../../src/data/errors.js';

const SECRET = 'cursor-test-secret-0123456789abcdef';
const OLD_SECRET = 'an-older-cursor-secret-0123456789ab';
const BINDING = 'vms:sub_domain=globex:[]';

/** Signs a payload the way a holder of the secret would: lets tests forge well-signed bad payloads. */
function forge(payload: unknown, secret = SECRET, binding = BINDING): string {
  const encoded = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const signature = createHmac('sha256', secret).update(binding).update('\n').update(encoded).digest().subarray(0, 12);
  return `${encoded}.${signature.toString('base64url')}`;
}

function rejection(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return null;
}

describe('connection cursors', () => {
  const codec = createCursorCodec([SECRET]);

  it('round-trips an offset and an id', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.string({ maxLength: 40 }), (offset, id) => {
        expect(codec.decode(BINDING, codec.encode(BINDING, { offset, id }), 'after')).toEqual({ offset, id });
      }),
    );
  });

  it('are opaque: neither the binding nor the secret shows in them', () => {
    const cursor = codec.encode(BINDING, { offset: 3, id: 'vm_a' });
    expect(cursor).not.toContain('globex');
    expect(cursor).not.toContain(SECRET);
  });

  it('rejects any single-character change as an invalid argument naming the argument', () => {
    const cursor = codec.encode(BINDING, { offset: 42, id: 'vm_abcdefghijklmnop' });
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    fc.assert(
      fc.property(fc.nat({ max: cursor.length - 1 }), fc.constantFrom(...alphabet), (at, replacement) => {
        fc.pre(cursor[at] !== replacement);
        const tampered = cursor.slice(0, at) + replacement + cursor.slice(at + 1);
        const error = rejection(() => codec.decode(BINDING, tampered, 'before'));
        expect(error).toBeInstanceOf(InvalidInputError);
        expect((error as InvalidInputError).argument).toBe('before');
      }),
      { numRuns: 300 },
    );
  });

  it('rejects characters added anywhere, even ones a base64 decoder would skip', () => {
    const cursor = codec.encode(BINDING, { offset: 42, id: 'vm_abcdefghijklmnop' });
    const dot = cursor.indexOf('.');
    const edits = [`${cursor}!!`, `${cursor}\u2603`, `${cursor}====`, `${cursor}=`, `${cursor.slice(0, dot + 1)}\n${cursor.slice(dot + 1)}`, `${cursor.slice(0, dot + 1)}@${cursor.slice(dot + 1)}`, ` ${cursor}`, `${cursor}A`];
    for (const edited of edits) expect(rejection(() => codec.decode(BINDING, edited, 'after')), JSON.stringify(edited)).toBeInstanceOf(InvalidInputError);
    expect(codec.decode(BINDING, cursor, 'after')).toEqual({ offset: 42, id: 'vm_abcdefghijklmnop' });
  });

  it('rejects a cursor issued for another connection', () => {
    const cursor = codec.encode('vms:sub_domain=acme:[]', { offset: 0, id: 'vm_a' });
    expect(() => codec.decode(BINDING, cursor, 'after')).toThrow(InvalidInputError);
  });

  it('rejects garbage of every shape without throwing anything else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.base64String(), fc.string({ minLength: 600, maxLength: 700 })), (garbage) => {
        expect(rejection(() => codec.decode(BINDING, garbage, 'after'))).toBeInstanceOf(InvalidInputError);
      }),
      { numRuns: 300 },
    );
    for (const garbage of ['', '.', 'abc', 'abc.', '.abc', 'e30.AAAAAAAAAAAAAAAA', `${'a'.repeat(600)}.b`]) {
      expect(rejection(() => codec.decode(BINDING, garbage, 'after'))).toBeInstanceOf(InvalidInputError);
    }
  });

  it('rejects well-signed payloads of the wrong shape', () => {
    for (const payload of [[-1, 'vm_a'], [1.5, 'vm_a'], ['1', 'vm_a'], [1, 2], {}, null, 'x', [Number.MAX_SAFE_INTEGER + 2, 'vm_a']]) {
      expect(rejection(() => codec.decode(BINDING, forge(payload), 'after'))).toBeInstanceOf(InvalidInputError);
    }
    expect(codec.decode(BINDING, forge([7, 'vm_a']), 'after')).toEqual({ offset: 7, id: 'vm_a' });
  });

  it('signs with the newest secret and still accepts cursors signed with an older one', () => {
    const rotated = createCursorCodec([SECRET, OLD_SECRET]);
    const old = createCursorCodec([OLD_SECRET]).encode(BINDING, { offset: 5, id: 'vm_x' });
    expect(rotated.decode(BINDING, old, 'after')).toEqual({ offset: 5, id: 'vm_x' });
    expect(codec.decode(BINDING, rotated.encode(BINDING, { offset: 6, id: 'vm_y' }), 'after')).toEqual({ offset: 6, id: 'vm_y' });
    expect(() => codec.decode(BINDING, old, 'after')).toThrow(InvalidInputError);
  });

  it('needs at least one secret', () => {
    expect(() => createCursorCodec([])).toThrow(/at least one secret/);
  });
});
