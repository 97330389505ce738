import type { Clock } from '../clock.js';
import { DEFAULT_TTL_MS, type ResourceKind } from './ttl-policy.js';
import type { RestCacheHooks } from './types.js';

export interface RestCacheOptions {
  /** Source of time for freshness and the LRU's own expiry. */
  clock: Clock;
  /** Total body bytes kept (plus a small per-entry overhead). @default 256 MiB */
  maxBytes?: number;
  /** Parsed copies of recently read bodies, charged at their estimated heap size. @default 1/4 of maxBytes */
  parsedMaxBytes?: number;
  /** Share of maxBytes one token may hold. @default 1/8 of maxBytes (at least 1 MiB, at most maxBytes) */
  perTokenMaxBytes?: number;
  /** Freshness per kind (ms); see DEFAULT_TTL_MS. */
  ttlMs: Record<ResourceKind, number>;
  /** Serve stale at once and refresh in the background for this long after expiry. @default 30000 */
  staleWhileRevalidateMs?: number;
  /** On upstream failure, serve an entry up to this long past expiry; 0 disables. @default 300000 */
  staleIfErrorMs?: number;
  /** How long `*_not_found` answers are remembered; 0 disables. @default 5000 */
  notFoundTtlMs?: number;
  /** How long a refusal of the token itself (`invalid_api_token`, …; see `isInvalidTokenError`) is remembered for that token; 0 disables. @default 30000 */
  invalidTokenTtlMs?: number;
  /**
   * The longest a token is answered from its entries without Katapult having accepted it, so a
   * token revoked upstream is found out (and purged) even while its entries are fresh. Shortly
   * before (`checkLeadFor`, half of it), the next read of one of its fresh entries refreshes that entry in
   * the background; past it, its reads go to Katapult. 0 disables (entries are served for their TTLs). @default 0
   */
  tokenRecheckMs?: number;
  /** Observers for metrics and logs. @default none */
  hooks?: RestCacheHooks;
}

export interface RestCacheSettings {
  maxBytes: number;
  parsedMaxBytes: number;
  perTokenMaxBytes: number;
  ttlMs: Readonly<Record<ResourceKind, number>>;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  notFoundTtlMs: number;
  invalidTokenTtlMs: number;
  tokenRecheckMs: number;
  /** How long past freshness an entry must still be kept for either stale window. */
  staleWindowMs: number;
}

const MIB = 1024 * 1024;
const KINDS = Object.keys(DEFAULT_TTL_MS) as ResourceKind[];

/** Applies defaults and rejects every bad value at once, quoting it, at construction rather than on first use. */
export function resolveRestCacheOptions(options: RestCacheOptions): RestCacheSettings {
  const problems: string[] = [];
  const read = (name: string, value: number | undefined, fallback: number, min: number): number => {
    const resolved = value ?? fallback;
    if (typeof resolved !== 'number' || !Number.isFinite(resolved) || resolved < min) {
      problems.push(`${name}: expected a finite number of at least ${min}, got ${String(value)}`);
      return fallback;
    }
    return resolved;
  };

  const maxBytes = Math.floor(read('maxBytes', options.maxBytes, 256 * MIB, 1));
  const parsedMaxBytes = Math.floor(read('parsedMaxBytes', options.parsedMaxBytes, Math.max(1, Math.floor(maxBytes / 4)), 1));
  const perTokenDefault = Math.min(maxBytes, Math.max(MIB, Math.floor(maxBytes / 8)));
  const perTokenMaxBytes = Math.floor(read('perTokenMaxBytes', options.perTokenMaxBytes, perTokenDefault, 1));
  if (perTokenMaxBytes > maxBytes) problems.push(`perTokenMaxBytes: expected at most maxBytes (${maxBytes}), got ${perTokenMaxBytes}`);

  const ttlMs = {} as Record<ResourceKind, number>;
  if (!options.ttlMs) problems.push('ttlMs: expected a freshness for every resource kind, got undefined');
  else for (const kind of KINDS) ttlMs[kind] = read(`ttlMs.${kind}`, options.ttlMs[kind], Number.NaN, 0);

  const staleWhileRevalidateMs = read('staleWhileRevalidateMs', options.staleWhileRevalidateMs, 30_000, 0);
  const staleIfErrorMs = read('staleIfErrorMs', options.staleIfErrorMs, 300_000, 0);
  const notFoundTtlMs = read('notFoundTtlMs', options.notFoundTtlMs, 5_000, 0);
  const invalidTokenTtlMs = read('invalidTokenTtlMs', options.invalidTokenTtlMs, 30_000, 0);
  const tokenRecheckMs = read('tokenRecheckMs', options.tokenRecheckMs, 0, 0);

  if (problems.length > 0) throw new RangeError(`Invalid REST cache options:\n  ${problems.join('\n  ')}`);
  return Object.freeze({
    maxBytes,
    parsedMaxBytes,
    perTokenMaxBytes,
    ttlMs: Object.freeze(ttlMs),
    staleWhileRevalidateMs,
    staleIfErrorMs,
    notFoundTtlMs,
    invalidTokenTtlMs,
    tokenRecheckMs,
    staleWindowMs: Math.max(staleWhileRevalidateMs, staleIfErrorMs),
  });
}
