/**
 * Typed failures of the Katapult upstream. Everything the upstream client or the request
 * queue can throw is one of these; `schema/errors.ts` maps them to GraphQL errors in one
 * place. No error carries the token, the URL's query or the upstream body: only Katapult's
 * own `code`/`description`/`detail`, which are safe to inspect but never echoed to clients.
 */

/** What the upstream told us about the token's budget on the response that failed or succeeded. */
export interface RateLimitInfo {
  /** `X-RateLimit-Permitted`, or null when absent. */
  permitted: number | null;
  /** `X-RateLimit-Remaining`, or null when absent. */
  remaining: number | null;
  /** `Retry-After` in ms, if a server ever sends one (Katapult has not been seen to). */
  retryAfterMs: number | null;
  /** The answer's `Date` (epoch ms, whole seconds), read with a `Remaining`: the sender's clock as it counted the call. */
  serverDateMs?: number | null;
}

export const NO_RATE_LIMIT_INFO: RateLimitInfo = Object.freeze({ permitted: null, remaining: null, retryAfterMs: null });

export abstract class UpstreamError extends Error {
  abstract readonly kind: 'api' | 'timeout' | 'network' | 'malformed' | 'rate_limited' | 'circuit_open' | 'queue_full' | 'cancelled' | 'not_sent';
  /** Whether repeating the same GET later may succeed (503, reset, timeout). */
  abstract readonly retryable: boolean;
  rateLimit: RateLimitInfo = NO_RATE_LIMIT_INFO;
  /** Katapult's own X-Request-Id, when a response arrived. */
  upstreamRequestId: string | null = null;
}

/** Katapult answered with its `{"error":{code,description,detail}}` envelope. */
export class UpstreamApiError extends UpstreamError {
  readonly kind = 'api' as const;
  readonly retryable: boolean;
  /** When the call Katapult answered this to was sent, where the caller knows it (see `UpstreamResult.sentAt`). */
  sentAt?: number;
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly detail: Record<string, unknown>,
  ) {
    super(`Katapult answered ${status} ${code}`);
    this.name = 'UpstreamApiError';
    this.retryable = status === 503 || status === 502 || status === 504;
  }
}

/**
 * A copy of a Katapult refusal to keep for a while (a remembered not-found, a token found
 * invalid): the same status, code, description, detail and request id, without the stack trace
 * the original captured. That trace, async frames included, is several KB; thousands of
 * remembered answers would hold megabytes of traces nobody reads, and more than they are charged.
 */
export function keptCopy(error: UpstreamApiError): UpstreamApiError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const copy = new UpstreamApiError(error.status, error.code, error.description, error.detail);
    copy.upstreamRequestId = error.upstreamRequestId;
    copy.rateLimit = error.rateLimit;
    return copy;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** What a kept copy holds, as charged to the cache: measured at about 0.95 KB with a short description and no detail. */
export function keptCopyBytes(error: UpstreamApiError): number {
  return 1024 + 2 * (error.code.length + error.description.length + (error.upstreamRequestId?.length ?? 0) + JSON.stringify(error.detail ?? {}).length);
}

/** The attempt ran past its per-attempt timeout. */
export class UpstreamTimeoutError extends UpstreamError {
  readonly kind = 'timeout' as const;
  readonly retryable = true;
  constructor(readonly timeoutMs: number) {
    super(`Katapult did not answer within ${timeoutMs} ms`);
    this.name = 'UpstreamTimeoutError';
  }
}

/** The connection failed or was reset before a complete response arrived. */
export class UpstreamNetworkError extends UpstreamError {
  readonly kind = 'network' as const;
  readonly retryable = true;
  constructor(readonly causeCode: string | null) {
    super(`Katapult connection failed${causeCode ? ` (${causeCode})` : ''}`);
    this.name = 'UpstreamNetworkError';
  }
}

/**
 * Whether an answer that is not Katapult's JSON was a refusal by something else in front of it
 * (a proxy's 414 or 413 page, a mistyped URL's 404): a 4xx other than 429, or a redirect, which
 * the gateway never follows (see `isRedirect`). Sending the request again gets the same, and it
 * says nothing about Katapult's health.
 */
export function isForeignRefusal(status: number): boolean {
  return isRedirect(status) || (status >= 400 && status < 500 && status !== 429);
}

/**
 * A 3xx. Katapult sends none; one comes from something else at KATAPULT_API_URL (a web server
 * sending http to https, a moved host). Followed, it would send the token to whatever address it
 * names and have that address's JSON read and cached as Katapult's, so it is refused instead.
 */
export function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/** A response arrived but its body was not the JSON Katapult sends. */
export class UpstreamMalformedError extends UpstreamError {
  readonly kind = 'malformed' as const;
  /** Not for a foreign refusal (see `isForeignRefusal`). */
  readonly retryable: boolean;
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(`Katapult sent an unreadable ${status} response: ${reason}`);
    this.name = 'UpstreamMalformedError';
    this.retryable = !isForeignRefusal(status);
  }
}

/**
 * An answer longer than the gateway reads (UPSTREAM_MAX_BODY_BYTES, counted as it is
 * decompressed), cut off there: Katapult's largest real answer is well under 1 MB, so this is a
 * server that is not Katapult, or one gone wrong. Asking again gets the same.
 */
export class UpstreamBodyTooLargeError extends UpstreamMalformedError {
  override readonly retryable = false;
  readonly code = 'body_too_large';
  constructor(
    status: number,
    readonly limitBytes: number,
  ) {
    super(status, `body over ${limitBytes} bytes (UPSTREAM_MAX_BODY_BYTES)`);
    this.name = 'UpstreamBodyTooLargeError';
  }
}

/**
 * A 2xx whose JSON is not the shape the gateway reads (see `shape.ts`): a list that is null, an
 * item without its zone, a number sent as text, an error envelope. Katapult's fault, as an
 * unreadable body is, so stale-if-error may stand in for it; but unlike a body cut short, asking
 * again at once gets the same answer, so the request does not retry it (nor is it cached: the
 * next request asks again). Katapult did answer, so the circuit does not count it as Katapult down.
 */
export class UpstreamShapeError extends UpstreamMalformedError {
  override readonly retryable = false;
  constructor(
    status: number,
    /** What was wrong, in the gateway's words (field names and types, never Katapult's values). */
    readonly fault: string,
  ) {
    super(status, `unexpected shape: ${fault}`);
    this.name = 'UpstreamShapeError';
  }
}

/**
 * An HTTP 429, whether Katapult's own `rate_limit_reached` or one in other words from something
 * in front of it (a proxy or CDN limiting the rate): either way the call was not served and
 * should wait, not be retried at once.
 */
export function isRateLimitAnswer(error: unknown): error is UpstreamApiError | UpstreamMalformedError {
  return (error instanceof UpstreamApiError || error instanceof UpstreamMalformedError) && error.status === 429;
}

/**
 * A list answered in pages of another size than the gateway asked for (a server whose largest
 * page is smaller than UPSTREAM_PER_PAGE, which clamps instead of refusing). The gateway's page
 * arithmetic would read its short pages as the end of the list and silently drop the rest, so
 * the list is refused instead. Asking again gets the same: an operator's problem, not Katapult's health.
 */
export class UpstreamPageSizeError extends UpstreamError {
  readonly kind = 'malformed' as const;
  readonly retryable = false;
  readonly code = 'per_page_not_honoured';
  /** `answered` is the page size served, or null when Katapult refused the size asked for (400 `invalid_argument` on `per_page`). */
  constructor(
    readonly status: number,
    readonly asked: number,
    readonly answered: number | null,
  ) {
    super(answered === null ? `Katapult refused per_page=${asked}` : `Katapult answered pages of ${answered} items where ${asked} were asked for`);
    this.name = 'UpstreamPageSizeError';
  }
}

/** The gateway itself declined to send: the token's budget would not allow it in time. */
export class RateLimitedError extends UpstreamError {
  readonly kind = 'rate_limited' as const;
  readonly retryable = false;
  constructor(
    readonly retryAfterSeconds: number,
    reason: string,
    /**
     * What held the call: the token's budget, or the request's deadline itself (it passed before
     * the call could be sent for another reason: it was over on arrival, or the token's earlier
     * calls held every slot). Said apart in the message; the code is RATE_LIMITED either way.
     */
    readonly heldBy: 'budget' | 'deadline' = 'budget',
  ) {
    super(reason);
    this.name = 'RateLimitedError';
  }
}

/** Katapult has been failing; calls fail fast until the circuit closes. */
export class CircuitOpenError extends UpstreamError {
  readonly kind = 'circuit_open' as const;
  readonly retryable = false;
  constructor(readonly retryAfterSeconds: number) {
    super('Katapult is failing; the gateway is not sending requests for a moment');
    this.name = 'CircuitOpenError';
  }
}

/** The queue for this token (or the whole gateway) is full. */
export class QueueFullError extends UpstreamError {
  readonly kind = 'queue_full' as const;
  readonly retryable = false;
  constructor(
    readonly scope: 'token' | 'global',
    readonly retryAfterSeconds: number,
  ) {
    super(scope === 'token' ? 'Too many queued Katapult calls for this token' : 'Too many queued Katapult calls');
    this.name = 'QueueFullError';
  }
}

/** Every caller waiting for a call went away before it was sent. */
export class UpstreamCancelledError extends UpstreamError {
  readonly kind = 'cancelled' as const;
  readonly retryable = false;
  constructor() {
    super('The Katapult call was cancelled before it was sent');
    this.name = 'UpstreamCancelledError';
  }
}

/**
 * A call given up at the moment it would have been sent, because Katapult had meanwhile refused
 * its token (`refusal`). Nothing reached Katapult: the queue reads it as no answer, costing the
 * token's budget nothing and telling the circuit nothing; the caller gets `refusal`.
 */
export class UpstreamNotSentError extends UpstreamError {
  readonly kind = 'not_sent' as const;
  readonly retryable = false;
  constructor(readonly refusal: Error) {
    super(`The Katapult call was not sent: ${refusal.message}`);
    this.name = 'UpstreamNotSentError';
  }
}

/**
 * Connection failures that show the request never reached Katapult (no connection was made),
 * unlike a reset or timeout, after which Katapult may have counted it.
 */
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** Whether an attempt that got no answer may still have been counted by Katapult against the token. */
export function mayHaveReachedKatapult(error: unknown): boolean {
  if (error instanceof UpstreamTimeoutError) return true;
  // The queue aborted an attempt already running (its last waiter left): it may have been sent.
  if ((error as { name?: unknown } | null)?.name === 'AbortError') return true;
  if (error instanceof UpstreamNetworkError) return error.causeCode === null || !NEVER_CONNECTED.has(error.causeCode);
  return false;
}

export function isUpstreamError(error: unknown): error is UpstreamError {
  return error instanceof UpstreamError;
}

/** An upstream failure's code as hooks and logs name it: Katapult's own code, else the failure's kind; null for anything else. */
export function upstreamErrorCode(error: unknown): string | null {
  if (!isUpstreamError(error)) return null;
  return (error as UpstreamError & { code?: string }).code ?? error.kind;
}

/** `*_not_found` codes are lookups that found nothing; `route_not_found` is a misconfigured base URL. */
export function isNotFoundCode(code: string): boolean {
  return code.endsWith('_not_found') && code !== 'route_not_found';
}
