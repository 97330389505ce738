import { createHmac, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { InvalidInputError } from './errors.js';

/**
 * Connection cursors: opaque, tamper-evident and bound to the connection that issued them.
 * A cursor carries the edge's offset *and* its id, so a resumed page can re-align when rows
 * were added or removed upstream since. Signed with the newest secret; any listed secret
 * verifies, so secrets can rotate without breaking cursors held by clients.
 */
export interface CursorPosition {
  offset: number;
  id: string;
}

export interface CursorCodec {
  encode(binding: string, position: CursorPosition): string;
  /** Throws InvalidInputError for garbage, tampering, or a cursor from another connection. */
  decode(binding: string, cursor: string, argument: string): CursorPosition;
  /** The same position signed for binding `to`, if `cursor` is genuine for binding `from`; else null. */
  rebind(from: string, to: string, cursor: string): string | null;
}

const SIGNATURE_BYTES = 12;
/**
 * What a cursor can look like: base64url payload, a dot, the signature. Checked before decoding,
 * since a base64 decoder skips characters outside its alphabet: `cursor + "!!"` would otherwise
 * decode to the same signature and be taken for the cursor itself.
 */
const CURSOR_SHAPE = new RegExp(`^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{${Math.ceil((SIGNATURE_BYTES * 4) / 3)}}$`);

/** Each cursor memo's share of memory: 20,000 typical entries fit in a few MB. */
const MEMO_MAX_BYTES = 8 * 1024 * 1024;

export function createCursorCodec(secrets: readonly string[]): CursorCodec {
  if (secrets.length === 0) throw new Error('createCursorCodec needs at least one secret');
  const sign = (secret: string, binding: string, payload: string) =>
    createHmac('sha256', secret).update(binding).update('\n').update(payload).digest().subarray(0, SIGNATURE_BYTES);

  // Every edge of every page gets a cursor, and warm pages repeat: signing is the costly part,
  // so recently issued cursors are remembered (they are deterministic for a given secret).
  // Bounded by bytes too: a binding carries the connection's arguments (annotation filters).
  const issued = new LRUCache<string, string>({ max: 20_000, maxSize: MEMO_MAX_BYTES, sizeCalculation: (cursor, key) => key.length + cursor.length + 64 });
  // Clients page on with the cursors they were given, and refetch the same windows: a cursor
  // found genuine (or issued here) is not verified again. Keyed by the whole cursor and its
  // binding, so only the exact string that verified can hit.
  const verified = new LRUCache<string, CursorPosition>({ max: 20_000, maxSize: MEMO_MAX_BYTES, sizeCalculation: (position, key) => key.length + position.id.length + 64 });

  const codec: CursorCodec = {
    encode(binding, { offset, id }) {
      const memoKey = `${binding}\u0000${offset}\u0000${id}`;
      let cursor = issued.get(memoKey);
      if (cursor === undefined) {
        const payload = Buffer.from(JSON.stringify([offset, id])).toString('base64url');
        cursor = `${payload}.${sign(secrets[0]!, binding, payload).toString('base64url')}`;
        issued.set(memoKey, cursor);
        verified.set(`${binding}\u0000${cursor}`, { offset, id });
      }
      return cursor;
    },
    decode(binding, cursor, argument) {
      const invalid = () =>
        new InvalidInputError(`The "${argument}" cursor is not valid for this connection; use a cursor this connection returned`, argument);
      if (typeof cursor !== 'string' || cursor.length > 512) throw invalid();
      const verifiedKey = `${binding}\u0000${cursor}`;
      const known = verified.get(verifiedKey);
      if (known) return { offset: known.offset, id: known.id };
      if (!CURSOR_SHAPE.test(cursor)) throw invalid();
      const dot = cursor.indexOf('.');
      const payload = cursor.slice(0, dot);
      const signature = Buffer.from(cursor.slice(dot + 1), 'base64url');
      if (!secrets.some((secret) => timingSafeEqual(sign(secret, binding, payload), signature))) throw invalid();
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        throw invalid();
      }
      if (!Array.isArray(parsed) || !Number.isSafeInteger(parsed[0]) || parsed[0] < 0 || typeof parsed[1] !== 'string') throw invalid();
      const position = { offset: parsed[0] as number, id: parsed[1] as string };
      verified.set(verifiedKey, position);
      return { offset: position.offset, id: position.id };
    },
    rebind(from, to, cursor) {
      let position: CursorPosition;
      try {
        position = codec.decode(from, cursor, 'after');
      } catch {
        return null;
      }
      return codec.encode(to, position);
    },
  };
  return codec;
}
