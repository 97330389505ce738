import { createHmac } from 'node:crypto';

/**
 * The only form in which a Katapult token is ever used as an identifier: an HMAC-SHA256 of
 * the token under the server secret. Cache keys, queue lanes and response-cache keys use
 * `key`; logs may show `fingerprint`, a short prefix of it. The raw token is used for the
 * upstream Authorization header and nothing else. With several replicas the secret must be
 * the same everywhere so a token maps to the same key on each.
 */
export interface TokenKeyer {
  /** Full hex HMAC of the token (64 chars). */
  key(token: string): string;
  /** Short, log-safe prefix of the key. */
  fingerprint(token: string): string;
}

export const FINGERPRINT_LENGTH = 12;

export function createTokenKeyer(secret: string): TokenKeyer {
  // Tokens repeat on every request; memoising the HMAC keeps it off the warm path, and a
  // small bound keeps a flood of random tokens from growing the map.
  const memo = new Map<string, string>();
  const key = (token: string): string => {
    let value = memo.get(token);
    if (value === undefined) {
      value = createHmac('sha256', secret).update(token).digest('hex');
      if (memo.size >= 10_000) memo.delete(memo.keys().next().value as string);
      memo.set(token, value);
    }
    return value;
  };
  return { key, fingerprint: (token) => key(token).slice(0, FINGERPRINT_LENGTH) };
}
