import type { Clock } from '../clock.js';
import type { CacheKey, CacheRead, LoadContext, ResourceKind, RestCache } from '../cache/index.js';
import type { RequestQueue } from '../queue/index.js';
import {
  isRateLimitAnswer,
  isUpstreamError,
  upstreamErrorCode,
  UpstreamApiError,
  UpstreamNetworkError,
  UpstreamNotSentError,
  UpstreamPageSizeError,
  UpstreamShapeError,
  UpstreamTimeoutError,
} from '../upstream/errors.js';
import type { KatapultHttp, UpstreamResult } from '../upstream/http.js';
import { canonicalUrl, type QueryParams } from '../upstream/params.js';
import { answerShapeFault } from '../upstream/shape.js';
import { InvalidInputError, MissingTokenError } from './errors.js';
import type { RequestScope } from './request-scope.js';

/** One REST read: where, with which parameters, cached under which policy. */
export interface SourceCall {
  /** Path template below the base URL; also the metrics label (never a raw URL). */
  path: string;
  params?: QueryParams;
  kind: ResourceKind;
  /** Read from Katapult even when the cache holds a fresh copy, and replace it (what `Cache-Control: no-cache` does for a whole request). */
  refresh?: boolean;
}

export interface UpstreamCallInfo {
  path: string;
  status: number | null;
  durationMs: number;
  attempt: number;
  background: boolean;
  upstreamRequestId: string | null;
  requestId: string;
  errorCode: string | null;
  /** What the system said of a connection that failed (ECONNREFUSED, ENOTFOUND, a TLS error's code), when known. */
  networkCause?: string | null;
  /** A page size Katapult did not serve: `answered` is the size it served, or null when it refused the one asked for. */
  pageSize?: { asked: number; answered: number | null };
  /** What was wrong with an answer not of the shape the gateway reads (field names and types). */
  shapeFault?: string;
}

export interface KatapultSourceHooks {
  /** After every upstream attempt (success or failure). */
  onUpstreamCall?(info: UpstreamCallInfo): void;
}

export interface KatapultSourceOptions {
  http: KatapultHttp;
  cache: RestCache;
  queue: RequestQueue;
  clock: Clock;
  /** Deadline for background revalidations, from when they start. @default 30000 */
  revalidationDeadlineMs?: number;
  hooks?: KatapultSourceHooks;
}

export type MaybePromise<T> = T | Promise<T>;

/**
 * The one road from the data layer to Katapult: cache (per token, singleflight, SWR/SIE) in
 * front of the queue (per-token budget) in front of the HTTP client. A fresh cache hit is
 * returned synchronously so resolvers on the warm path never wait on a promise.
 */
export interface KatapultSource {
  get<T>(scope: RequestScope, call: SourceCall): MaybePromise<T>;
}

/** A 2xx answer not of the shape the gateway reads, carrying what the answer told the queue (the token's budget) as any failure does. */
function misshapen(result: UpstreamResult<unknown>, fault: string): UpstreamShapeError {
  const error = new UpstreamShapeError(result.status, fault);
  error.rateLimit = result.rateLimit;
  error.upstreamRequestId = result.upstreamRequestId;
  return error;
}

/** The longest path and query sent to Katapult (the common proxy limit is 8 KB for the whole request line and headers). */
export const MAX_UPSTREAM_URL_LENGTH = 4096;

export function createKatapultSource(options: KatapultSourceOptions): KatapultSource {
  const { http, cache, queue, clock, hooks } = options;
  const revalidationDeadlineMs = options.revalidationDeadlineMs ?? 30_000;

  function record<T>(scope: RequestScope, read: CacheRead<T>): T {
    const stats = scope.stats;
    switch (read.status) {
      case 'hit':
        stats.hits++;
        break;
      case 'miss':
        stats.misses++;
        break;
      case 'coalesced':
        stats.coalesced++;
        break;
      case 'stale':
        stats.stale++;
        stats.uncacheable = true;
        break;
      case 'stale-if-error':
        stats.staleIfError++;
        stats.uncacheable = true;
        break;
      case 'negative':
        stats.negative++;
        break;
    }
    // Fresh no longer than until the token is next checked: an answer kept past that (by the
    // client, under the max-age it is given, or as a finished response) would outlast a revocation.
    const until = Math.min(read.freshUntil, cache.tokenCheckAt(scope.tokenKey));
    if (until < stats.freshUntil) stats.freshUntil = until;
    return read.value;
  }

  /** Calls in the queue that have not been sent yet, by `callKeyOf` (shared by everyone waiting on them). */
  const unsentCalls = new Map<string, object>();
  /** One key for a token's call to a URL, for a read's own call and for one it waits on alike. */
  const callKeyOf = (tokenKey: string, url: string) => `${tokenKey}\n${url}`;

  const source: KatapultSource = {
    get<T>(scope: RequestScope, call: SourceCall): MaybePromise<T> {
      const token = scope.token;
      if (!token) throw new MissingTokenError();
      const key: CacheKey = { tokenKey: scope.tokenKey, url: canonicalUrl(call.path, call.params ?? []), kind: call.kind };
      // Arguments go into the URL (a sub-domain, annotation filters): past this, servers and
      // proxies refuse it (414), and the cache would hold a key as large as the client chose.
      if (key.url.length > MAX_UPSTREAM_URL_LENGTH) {
        throw new InvalidInputError(`The arguments are too long: the Katapult request would be ${key.url.length} characters, over ${MAX_UPSTREAM_URL_LENGTH}`);
      }

      const noCache = scope.noCache || call.refresh === true;
      if (!noCache) {
        const fresh = cache.peek<T>(key);
        if (fresh) return record(scope, fresh);
      }

      const callKey = callKeyOf(key.tokenKey, key.url);
      const load = ({ signal, background, tokenCheck, deadline, onForeground }: LoadContext) => {
        const enqueuedAt = clock.now();
        // A 429 puts the call back in line, and it starts again as a first attempt: one call all the same.
        let sent = false;
        const pending = {};
        unsentCalls.set(callKey, pending);
        const forget = () => {
          if (unsentCalls.get(callKey) === pending) unsentCalls.delete(callKey);
        };
        return queue.add<T>(
          async ({ signal: attemptSignal, attempt }) => {
            forget();
            // Katapult refused the token while this call waited (a made-up token's first call
            // answers for the hundred queued behind it): it would only be refused again.
            const refused = cache.refusalOf(scope.tokenKey);
            if (refused) throw new UpstreamNotSentError(refused);
            // Counted when sent: a call the queue refused (an open circuit, a spent budget) was never made.
            if (!sent && !background) {
              sent = true;
              scope.stats.upstreamCalls++;
              scope.stats.queueWaitMs += clock.now() - enqueuedAt;
            }
            const startedAt = clock.now();
            try {
              const result: UpstreamResult<T> = await http.get<T>({
                path: call.path,
                params: call.params,
                token,
                signal: attemptSignal,
                requestId: scope.requestId,
              });
              // Checked here, once per answer, so that a misshapen one is a failure to the queue
              // (no retry), the cache (not kept; an older entry may stand in) and the log alike.
              const fault = answerShapeFault(call.path, result.body);
              if (fault !== null) throw misshapen(result, fault);
              result.sentAt = startedAt;
              hooks?.onUpstreamCall?.({
                path: call.path,
                status: result.status,
                durationMs: clock.now() - startedAt,
                attempt,
                background,
                upstreamRequestId: result.upstreamRequestId,
                requestId: scope.requestId,
                errorCode: null,
              });
              return result;
            } catch (error) {
              // Katapult's own answer (a not-found the cache remembers) vouches for the token no later than this call was sent.
              if (error instanceof UpstreamApiError) error.sentAt = startedAt;
              // A 429 (Katapult's, or a proxy's in front of it) puts the call back in line, unsent as far as the token's budget goes.
              if (isRateLimitAnswer(error)) unsentCalls.set(callKey, pending);
              hooks?.onUpstreamCall?.({
                path: call.path,
                status: (error as { status?: number }).status ?? null,
                durationMs: clock.now() - startedAt,
                attempt,
                background,
                upstreamRequestId: isUpstreamError(error) ? error.upstreamRequestId : null,
                requestId: scope.requestId,
                errorCode: upstreamErrorCode(error),
                ...(error instanceof UpstreamNetworkError ? { networkCause: error.causeCode } : {}),
                ...(error instanceof UpstreamPageSizeError ? { pageSize: { asked: error.asked, answered: error.answered } } : {}),
                ...(error instanceof UpstreamShapeError ? { shapeFault: error.fault } : {}),
              });
              throw error;
            }
          },
          {
            laneKey: scope.tokenKey,
            deadline: background ? clock.now() + revalidationDeadlineMs : scope.deadline,
            // Callers who joined this call later may wait longer than the one who started it (a
            // background refresh has none until a caller joins it).
            onLaterDeadline: deadline.onLater,
            priority: background ? 'background' : 'foreground',
            // A token's check bounds how long a revoked token is answered from cache: it does not wait for the next window.
            spendsHeldBack: tokenCheck === true,
            onForeground: background ? onForeground : undefined,
            signal,
          },
        )
          .catch((error: unknown) => {
            // The queue saw a call never sent; the cache sees Katapult's refusal of the token.
            throw error instanceof UpstreamNotSentError ? error.refusal : error;
          })
          .finally(forget);
      };

      // This request's own way out of a call it may share: its client going away, or its deadline
      // coming while the call still waits in the queue (then the call may be wanted by no one).
      const leave = new AbortController();
      const follow = () => leave.abort();
      if (scope.signal?.aborted) leave.abort();
      else scope.signal?.addEventListener('abort', follow, { once: true });
      const read = cache.fetch<T>(key, { load, noCache, signal: leave.signal, deadline: scope.deadline }).then(
        (read) => record(scope, read),
        (error: unknown) => {
          // A failed read may still become a value in an otherwise clean answer (a null for an
          // object not found or in the trash, a refusal read as a flag). No REST entry backs
          // that value, or only a briefly remembered not-found: such an answer is not replayed.
          scope.stats.uncacheable = true;
          throw error;
        },
      );
      // Whether the call this read waits on is still unsent at its deadline: its own, or, for a
      // token past its check, the read of another URL it waits on for the token's answer. Found
      // once, before leaving, which may drop this read's own load from the cache.
      let unsent = false;
      const outcome = beforeDeadline(
        read,
        scope.deadline,
        (budgetMs) => {
          const awaited = cache.awaitedUrl(key);
          unsent = unsentCalls.has(awaited === undefined ? callKey : callKeyOf(key.tokenKey, awaited));
          if (!unsent) return new UpstreamTimeoutError(budgetMs);
          // Never sent: waiting on the token's budget (others sharing the call can wait longer).
          leave.abort();
          return queue.unsentAtDeadline(scope.tokenKey);
        },
        // Katapult not answering by the deadline is a Katapult failure like any other: a kept
        // entry stands in for it, as when the load fails. For a token past its check (whose reads
        // wait here), only at the gateway's own deadline for a call that was sent: a deadline its
        // client chose could be shorter than any answer takes, and a call still queued (held for a
        // later joiner's deadline) is the gateway declining to send, not Katapult failing.
        () => {
          const stale = cache.staleIfError<T>(key, { pastCheck: !scope.deadlineFromClient && !unsent });
          return stale === undefined ? undefined : { value: record(scope, stale) };
        },
      );
      if (scope.signal) void outcome.then(undefined, () => undefined).then(() => scope.signal!.removeEventListener('abort', follow));
      return outcome;
    },
  };
  return source;

  /**
   * The queue holds a call no later than the request's deadline (and says RATE_LIMITED), but a
   * call already sent, or its retries, could outlast it by the upstream timeout several times
   * over. The request stops waiting at its deadline; the call itself goes on, so its answer
   * still fills the cache for whoever else waits on it. One millisecond later than the queue's
   * own deadline, so a call still queued at that moment is the queue's to refuse. A call shared
   * with a request that can wait longer stays queued past this one's deadline: `lateError` says
   * which it was. A kept entry that may stand in for a failed load (`fallback`) answers instead.
   */
  function beforeDeadline<T>(read: Promise<T>, deadline: number, lateError: (budgetMs: number) => Error, fallback: () => { value: T } | undefined): Promise<T> {
    const budgetMs = Math.max(0, deadline - clock.now());
    return new Promise<T>((resolve, reject) => {
      const cancel = clock.setTimeout(() => {
        const error = lateError(budgetMs);
        const stale = fallback();
        if (stale) resolve(stale.value);
        else reject(error);
      }, budgetMs + 1);
      read.then(
        (value) => {
          cancel();
          resolve(value);
        },
        (error: unknown) => {
          cancel();
          reject(error);
        },
      );
    });
  }
}
