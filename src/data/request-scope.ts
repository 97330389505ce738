/**
 * Everything the data layer needs to know about the GraphQL request it is serving. Built once
 * per request by the server wiring; the token appears here and is passed to the upstream
 * client for each call, never stored anywhere longer-lived.
 */
export interface RequestScope {
  /** The caller's Katapult token, or null when the request carried none. */
  token: string | null;
  /** HMAC of the token (cache keys, queue lanes); '' when there is no token. */
  tokenKey: string;
  requestId: string;
  /** Epoch ms by which this request wants its answer. */
  deadline: number;
  /** The client asked for a shorter deadline than the gateway's own (`X-Request-Timeout-Ms`). */
  deadlineFromClient?: boolean;
  /** The client sent `Cache-Control: no-cache`: skip fresh reads, refresh entries. */
  noCache: boolean;
  /** Aborts when the client goes away. */
  signal?: AbortSignal;
  stats: RequestStats;
}

/** What one request cost; reported in logs, metrics and (optionally) `extensions.cache`. */
export interface RequestStats {
  hits: number;
  misses: number;
  stale: number;
  staleIfError: number;
  coalesced: number;
  negative: number;
  upstreamCalls: number;
  /** Reads started on the request's arrival, before yoga ran it (see `KatapultData.prefetch`). */
  prefetched: number;
  /** Total time upstream calls of this request waited in the queue. */
  queueWaitMs: number;
  /** Earliest epoch ms at which any REST entry this request read stops being fresh. */
  freshUntil: number;
  /** Set when any read was served stale or could not be cached (the response must not be reused). */
  uncacheable: boolean;
}

/**
 * Whether the request read Katapult data with its token: Katapult accepted the token, for this
 * read or for the cached one it was served. A request without one may have had no token, or a
 * token Katapult refuses.
 */
export function readKatapultData(stats: RequestStats): boolean {
  return stats.hits + stats.misses + stats.stale + stats.coalesced > 0;
}

export function createRequestStats(): RequestStats {
  return {
    hits: 0,
    misses: 0,
    stale: 0,
    staleIfError: 0,
    coalesced: 0,
    negative: 0,
    upstreamCalls: 0,
    prefetched: 0,
    queueWaitMs: 0,
    freshUntil: Number.POSITIVE_INFINITY,
    uncacheable: false,
  };
}
