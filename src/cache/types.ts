import type { UpstreamResult } from '../upstream/http.js';
import type { ResourceKind } from './ttl-policy.js';

export interface RestCacheHooks {
  /** Every `fetch`, and every `peek` that hits, with how it was served. */
  onRead?(status: CacheStatus, kind: ResourceKind): void;
  /** An entry left the store; `bytes` is what it was charged (body plus overhead). */
  onEvict?(bytes: number, reason: 'size' | 'token-share' | 'purge' | 'expired'): void;
  /** The store's size after it changed. */
  onSize?(totalBytes: number, entries: number): void;
  /** Every entry of a token was dropped (by `purgeToken` or a refusal of the token itself, such as `invalid_api_token`). */
  onPurgeToken?(tokenKey: string): void;
  /**
   * One of the token's entries went while still fresh: a newer answer took its place (a
   * `no-cache` refresh), or it was evicted (for room, or out of the token's share). What was
   * built from the token's entries (finished responses) must go too: it may be out of date, and
   * it must not outlive what it was built from.
   */
  onFreshEntryGone?(tokenKey: string): void;
  /** A background refresh failed; the stale entry stays. */
  onRefreshError?(error: unknown, kind: ResourceKind): void;
}

export interface CacheKey {
  /** HMAC of the token (never the token itself). */
  tokenKey: string;
  /** Canonical `path?query`, computed by the caller. */
  url: string;
  kind: ResourceKind;
}

export type CacheStatus = 'hit' | 'miss' | 'coalesced' | 'stale' | 'stale-if-error' | 'negative';

export interface CacheRead<T> {
  value: T;
  status: CacheStatus;
  /** epoch ms when it stops being fresh (for a stale read: the time it was already due) */
  freshUntil: number;
  bytes: number;
}

/**
 * The deadline of a load several callers share. It starts at the first caller's and only moves
 * later, when a caller that can wait longer joins: the load must not be given up at the first
 * caller's deadline while a later caller still wants its answer.
 */
export interface SharedDeadline {
  /** Epoch ms: the latest deadline among the callers so far (-Infinity when none gave one). */
  readonly at: number;
  /** `listener` hears every later deadline; the returned function stops it. */
  onLater(listener: (at: number) => void): () => void;
}

export interface LoadContext {
  /** Aborts only when every caller waiting for this load has gone. */
  signal: AbortSignal;
  /** True for a stale-while-revalidate refresh nobody is waiting for. */
  background: boolean;
  /** A background load that checks whether Katapult still accepts the token: it must not wait for the next window. */
  tokenCheck?: boolean;
  /** The latest deadline among the callers waiting for this load. */
  deadline: SharedDeadline;
  /**
   * For a background load: hands the loader a way to hear that a caller joined who waits for
   * it (the load is no longer only a refresh). Returns the function that stops it.
   */
  onForeground(listener: () => void): () => void;
}

export interface CacheFetchOptions<T> {
  /** The upstream call; shared with every concurrent caller of the same key, so it must not depend on who calls. */
  load(context: LoadContext): Promise<UpstreamResult<T>>;
  /** Skip fresh reads (a client's Cache-Control: no-cache): still coalesced, and the result refreshes the entry. */
  noCache?: boolean;
  /** This caller's cancellation. The shared load is aborted only when every waiter has gone. */
  signal?: AbortSignal;
  /** Epoch ms by which this caller needs the answer; a later one than the shared load's moves the load's deadline. @default none */
  deadline?: number;
}

export interface RestCache {
  /**
   * A fresh entry, a stale one (refreshed in the background), or the answer of a load shared
   * with concurrent callers. Rejects with the upstream's typed error, or with
   * `UpstreamCancelledError` when this caller's `signal` aborts.
   */
  fetch<T>(key: CacheKey, options: CacheFetchOptions<T>): Promise<CacheRead<T>>;
  /** Synchronous fresh read for the warm path; undefined when absent/expired/negative (never triggers a load). */
  peek<T>(key: CacheKey): CacheRead<T> | undefined;
  /** Drop every entry of a token (revoked token). */
  purgeToken(tokenKey: string): void;
  /**
   * Whether the token is due a check with Katapult (see `tokenRecheckMs`: within `checkLeadFor`, half of it
   * of it with no check on its way, or past it), or holds no entry (with checks on): until one
   * of its reads goes through `fetch`, which starts the check or reaches Katapult itself, what
   * was built from its entries (finished responses) should not be replayed.
   */
  tokenCheckDue(tokenKey: string): boolean;
  /**
   * Whether the token holds entries and is due a check: its next read of a fresh entry is
   * served from it and starts the check in the background.
   */
  backgroundCheckDue(tokenKey: string): boolean;
  /**
   * When the token falls due for that check (epoch ms; +Infinity when tokens are not checked):
   * from then on nothing of its entries is served until Katapult answers for it. What is built
   * from its entries is fresh no longer than this.
   */
  tokenCheckAt(tokenKey: string): number;
  /**
   * The URL whose load a read of `key` now waits on: its own, when one is on its way; else, for
   * a token past its check, the read of the token whose answer its entry waits for (see
   * `fetch`); undefined when there is neither.
   */
  awaitedUrl(key: CacheKey): string | undefined;
  /** Katapult's remembered refusal of the token itself (see `invalidTokenTtlMs`), if any: a call for it need not be sent. */
  refusalOf(tokenKey: string): Error | undefined;
  /**
   * The kept entry `fetch` would serve if its load failed now (within `staleIfErrorMs` of its
   * freshness, the token not refused), counted as a stale-if-error read: for a read whose
   * request's deadline came while the load was still on its way (Katapult not answering). Not
   * for a token past its check (see `tokenCheckAt`) unless `pastCheck`: a deadline a client
   * chose shorter than Katapult's answer takes must not let a revoked token read its entries.
   */
  staleIfError<T>(key: CacheKey, options?: { pastCheck?: boolean }): CacheRead<T> | undefined;
  /** `bytes`: kept bodies plus per-entry overhead; `parsedBytes`: the parsed copies, as charged. */
  stats(): { entries: number; bytes: number; parsedBytes: number; tokens: number; inFlight: number };
  clear(): void;
}
