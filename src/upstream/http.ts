import { Agent, fetch as undiciFetch } from 'undici';
import {
  isRedirect,
  NO_RATE_LIMIT_INFO,
  UpstreamApiError,
  UpstreamBodyTooLargeError,
  UpstreamError,
  UpstreamMalformedError,
  UpstreamNetworkError,
  UpstreamPageSizeError,
  UpstreamTimeoutError,
  type RateLimitInfo,
} from './errors.js';
import { encodeQuery, type QueryParams } from './params.js';

/** A fetch-compatible function; tests inject the simulator's in-process fetch. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface KatapultHttpOptions {
  /** Base URL including `/core/v1`, e.g. https://api.katapult.io/core/v1. */
  baseUrl: string;
  /** @default a keep-alive undici pool built by `createPooledFetch` */
  fetch?: FetchLike;
  /** Per-attempt timeout. @default 5000 */
  timeoutMs?: number;
  /** @default 'katapult-gateway' */
  userAgent?: string;
  /** The most bytes read of an answer's body, counted as it is decompressed; a longer one is refused. @default 16 MiB */
  maxBodyBytes?: number;
}

export interface UpstreamRequest {
  /** Path below the base URL, e.g. `/organizations/organization/virtual_machines`. */
  path: string;
  params?: QueryParams;
  /** The end user's Katapult token; used for this call only. */
  token: string;
  signal?: AbortSignal;
  /** Forwarded as X-Request-Id so one request can be traced end to end. */
  requestId?: string;
  /** Overrides the client's per-attempt timeout. */
  timeoutMs?: number;
}

export interface UpstreamResult<T> {
  status: number;
  body: T;
  /** Size of the body in bytes (what the cache charges for it). */
  bytes: number;
  /**
   * The body exactly as received. The cache keeps these bytes, outside the JS heap, and parses
   * them again when its parsed copy has gone; without them it keeps `body` itself.
   */
  raw?: Buffer;
  rateLimit: RateLimitInfo;
  upstreamRequestId: string | null;
  /**
   * When the call that got this answer was sent (clock ms), where the caller knows it: Katapult
   * accepted the token no earlier, so the cache counts the token's recheck period from here.
   */
  sentAt?: number;
}

export interface KatapultHttp {
  readonly baseUrl: string;
  get<T>(request: UpstreamRequest): Promise<UpstreamResult<T>>;
}

export interface PooledFetchOptions {
  /** Sockets per origin. @default 64 */
  connections?: number;
  /** @default 30000 */
  keepAliveTimeoutMs?: number;
}

/** undici's own fetch over a keep-alive Agent, so upstream calls reuse connections. */
export function createPooledFetch(options: PooledFetchOptions = {}): { fetch: FetchLike; close(): Promise<void> } {
  const agent = new Agent({
    connections: options.connections ?? 64,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    pipelining: 1,
  });
  const pooled: FetchLike = (input, init) =>
    undiciFetch(input, { ...(init as Record<string, unknown>), dispatcher: agent } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
  return { fetch: pooled, close: () => agent.close() };
}

/** An empty or blank value is no figure: Number('') is 0, and a Remaining of 0 holds the token for the rest of its window. */
function readInteger(headers: Headers, name: string): number | null {
  const raw = headers.get(name)?.trim();
  if (!raw) return null;
  const value = Number(raw);
  return Number.isFinite(value) && value >= 0 ? Math.floor(value) : null;
}

/** Headers.get is case-insensitive, so `X-Ratelimit-Remaining` (Go's spelling) is read too. */
export function readRateLimit(headers: Headers, now: number = Date.now()): RateLimitInfo {
  const permitted = readInteger(headers, 'x-ratelimit-permitted');
  const remaining = readInteger(headers, 'x-ratelimit-remaining');
  const retryAfterMs = readRetryAfter(headers, now);
  if (permitted === null && remaining === null && retryAfterMs === null) return NO_RATE_LIMIT_INFO;
  const date = remaining === null ? NaN : Date.parse(headers.get('date') ?? '');
  return { permitted, remaining, retryAfterMs, serverDateMs: Number.isFinite(date) ? date : null };
}

/**
 * A Retry-After as a wait in ms: seconds, or an HTTP date read against the response's own
 * `Date` when it has one (the two clocks are the sender's; ours may differ from it by seconds).
 * A wait of nothing (0, empty, a date already past) is no advice: read as one, it would send
 * calls straight back into the limit, so it is left to the caller's own rule.
 */
function readRetryAfter(headers: Headers, now: number): number | null {
  const raw = headers.get('retry-after')?.trim();
  if (!raw) return null;
  if (/^\d+(\.\d+)?$/.test(raw)) {
    const ms = Number(raw) * 1000;
    return ms > 0 ? ms : null;
  }
  const date = Date.parse(raw);
  if (!Number.isFinite(date)) return null;
  const sent = Date.parse(headers.get('date') ?? '');
  const ms = date - (Number.isFinite(sent) ? sent : now);
  return ms > 0 ? ms : null;
}

function networkCode(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * An answer's body, read chunk by chunk as undici decompresses it, or null (the rest cancelled,
 * which drops the connection) as soon as it passes `maxBytes`: a megabyte of gzip can unpack to
 * a gigabyte, and a chunked body need never end. A Content-Length already over it is refused
 * unread, unless the body is compressed (that length is then not what would be read). The
 * chunks are copied once, into an allocation of the body's own: Buffer.concat takes a small
 * body from the shared pool, and keeping such a body would keep the pool's whole slab.
 */
async function readBody(response: Response, maxBytes: number): Promise<Buffer | null> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  const encoding = response.headers.get('content-encoding')?.trim().toLowerCase();
  if (declared > maxBytes && (!encoding || encoding === 'identity')) {
    await response.body?.cancel();
    return null;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    const reader = response.body.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      total += read.value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        return null;
      }
      chunks.push(read.value);
    }
  }
  const raw = Buffer.allocUnsafeSlow(total);
  let offset = 0;
  for (const chunk of chunks) {
    raw.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return raw;
}

/** JSON.parse over UTF-8 bytes, skipping a byte-order mark as `Response.text()` would. */
export function parseJson(raw: Buffer): unknown {
  const bom = raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf;
  return JSON.parse(raw.toString('utf8', bom ? 3 : 0));
}

/** Whether an `invalid_argument` detail is about the argument `name` (its `argument.name`, or the head of its `path`). */
function namesArgument(detail: unknown, name: string): boolean {
  if (!isObject(detail)) return false;
  const argument = isObject(detail.argument) ? detail.argument.name : undefined;
  return argument === name || (Array.isArray(detail.path) && detail.path[0] === name);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function createKatapultHttp(options: KatapultHttpOptions): KatapultHttp {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? createPooledFetch().fetch;
  const defaultTimeoutMs = options.timeoutMs ?? 5000;
  const userAgent = options.userAgent ?? 'katapult-gateway';
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;

  async function get<T>(request: UpstreamRequest): Promise<UpstreamResult<T>> {
    const query = request.params && request.params.length > 0 ? `?${encodeQuery(request.params)}` : '';
    const timeoutMs = request.timeoutMs ?? defaultTimeoutMs;
    // One controller, aborted by the timeout or by the caller's signal, and released as soon as
    // the body is read: AbortSignal.timeout and AbortSignal.any cost several times more per call
    // and keep their timer and links until the timeout would have fired.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`upstream call exceeded ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    timer.unref?.();
    const caller = request.signal;
    const forwardAbort = () => controller.abort(caller!.reason);
    if (caller?.aborted) forwardAbort();
    else caller?.addEventListener('abort', forwardAbort, { once: true });
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${request.token}`,
      'user-agent': userAgent,
    };
    if (request.requestId) headers['x-request-id'] = request.requestId;

    let response: Response;
    /** The body as received; null when it was not read (a redirect's), or not to its end (over maxBodyBytes). */
    let raw: Buffer | null = null;
    /** The answer's status once its headers came, for a failure while its body is read. */
    let answered: number | null = null;
    try {
      // undici's fetch follows redirects by default: see isRedirect for why none is.
      response = await fetchImpl(`${baseUrl}${request.path}${query}`, { method: 'GET', headers, signal: controller.signal, redirect: 'manual' });
      answered = response.status;
      // A redirect's body is never read: cancelling it lets the connection go at once.
      if (isRedirect(response.status)) await response.body?.cancel();
      else raw = await readBody(response, maxBodyBytes);
    } catch (error) {
      if (timedOut) throw new UpstreamTimeoutError(timeoutMs);
      if (caller?.aborted) throw caller.reason ?? error;
      const code = networkCode(error);
      // The answer came, but its compressed body would not unpack (zlib's Z_…, brotli's ERR__ERROR_…):
      // an unreadable answer, not a Katapult that could not be reached.
      if (answered !== null && code !== null && /^(Z_|ERR__ERROR_)/.test(code)) throw new UpstreamMalformedError(answered, `body could not be decompressed (${code})`);
      throw new UpstreamNetworkError(code);
    } finally {
      clearTimeout(timer);
      caller?.removeEventListener('abort', forwardAbort);
    }

    const rateLimit = readRateLimit(response.headers);
    const upstreamRequestId = response.headers.get('x-request-id');
    const fail = (error: UpstreamError): never => {
      error.rateLimit = rateLimit;
      error.upstreamRequestId = upstreamRequestId;
      throw error;
    };

    if (isRedirect(response.status)) return fail(new UpstreamMalformedError(response.status, 'a redirect, which the gateway does not follow'));
    if (raw === null) return fail(new UpstreamBodyTooLargeError(response.status, maxBodyBytes));
    let body: unknown;
    try {
      body = parseJson(raw);
    } catch {
      return fail(new UpstreamMalformedError(response.status, 'body is not JSON'));
    }

    const asked = Number(request.params?.find(([name]) => name === 'per_page')?.[1]);
    if (response.status < 200 || response.status >= 300) {
      const envelope = isObject(body) ? body.error : undefined;
      if (!isObject(envelope) || typeof envelope.code !== 'string') {
        return fail(new UpstreamMalformedError(response.status, 'error body has no error.code'));
      }
      // Katapult refuses a page size over a list's maximum (200, unless that list has its own).
      // The size is the gateway's setting, never the client's: an operator's problem, as a
      // server that serves smaller pages is.
      if (envelope.code === 'invalid_argument' && Number.isInteger(asked) && namesArgument(envelope.detail, 'per_page')) {
        return fail(new UpstreamPageSizeError(response.status, asked, null));
      }
      return fail(
        new UpstreamApiError(
          response.status,
          envelope.code,
          typeof envelope.description === 'string' ? envelope.description : '',
          isObject(envelope.detail) ? envelope.detail : {},
        ),
      );
    }
    if (!isObject(body)) return fail(new UpstreamMalformedError(response.status, 'body is not a JSON object'));
    // A list answered in pages of another size than asked would be read wrong (its short pages
    // as its end): whether it says so (per_page) or shows it (a short page that is not the last).
    const pagination = isObject(body.pagination) ? body.pagination : null;
    if (Number.isInteger(asked) && pagination) {
      const stated = pagination.per_page === null || pagination.per_page === undefined ? NaN : Number(pagination.per_page);
      const rows = Object.values(body).find(Array.isArray);
      const { current_page: current, total_pages: pages } = pagination;
      const short = rows !== undefined && rows.length < asked && typeof current === 'number' && typeof pages === 'number' && current < pages;
      if ((Number.isFinite(stated) && stated !== asked) || short) return fail(new UpstreamPageSizeError(response.status, asked, short ? rows.length : stated));
    }

    return { status: response.status, body: body as T, bytes: raw.length, raw, rateLimit, upstreamRequestId };
  }

  return { baseUrl, get };
}
