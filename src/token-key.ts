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

/** Katapult tokens are a few dozen characters; 10,000 remembered tokens stay within a few MB. */
const MAX_REMEMBERED_TOKEN_LENGTH = 256;

export function createTokenKeyer(secret: string): TokenKeyer {
  // Tokens repeat on every request; memoising the HMAC keeps it off the warm path, and a
  // small bound keeps a flood of random tokens from growing the map. The memo is the one place
  // the process holds raw tokens beyond a request, so it takes only token-sized strings: a
  // long "token" (sent to fill memory) is hashed every time instead.
  const memo = new Map<string, string>();
  const key = (token: string): string => {
    let value = memo.get(token);
    if (value === undefined) {
      value = createHmac('sha256', secret).update(token).digest('hex');
      if (token.length > MAX_REMEMBERED_TOKEN_LENGTH) return value;
      if (memo.size >= 10_000) memo.delete(memo.keys().next().value as string);
      memo.set(token, value);
    }
    return value;
  };
  return { key, fingerprint: (token) => key(token).slice(0, FINGERPRINT_LENGTH) };
}
