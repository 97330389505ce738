import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { createRestCache, type RestCache } from './cache/index.js';
import { systemClock, type Clock } from './clock.js';
import { MAX_QUEUE_WINDOW_OFFSET_MS, type GatewayConfig } from './config.js';
import { createCursorCodec } from './data/cursor.js';
import { createKatapultData, type KatapultData } from './data/katapult-data.js';
import { createOpeningReadsMemory, type OpeningReadsMemory } from './data/opening-reads.js';
import { createKatapultSource, type KatapultSource } from './data/katapult-source.js';
import { createRequestStats, readKatapultData, type RequestScope } from './data/request-scope.js';
import { createLogger, yogaLogging, type Logger } from './logger.js';
import { createRequestQueue, type RequestQueue } from './queue/index.js';
import { buildSchema, type GraphQLContext } from './schema/index.js';
import { createMaskError, isExpectedError } from './schema/errors.js';
import { createTokenKeyer, type TokenKeyer } from './token-key.js';
import { isForeignRefusal, isRedirect, UpstreamApiError, upstreamErrorCode } from './upstream/errors.js';
import { createKatapultHttp, createPooledFetch, type FetchLike } from './upstream/http.js';
import { useErrorContract } from './server/error-contract.js';
import { useDisableIntrospection } from './server/introspection.js';
import { createMetrics, type GatewayMetrics } from './server/metrics.js';
import { createPersistedOperations, DOCUMENT_ID_PARAMETERS, loadPersistedOperations } from './server/persisted-operations.js';
import { useTieredJit } from './server/jit.js';
import { useKnownOperationTypes } from './server/operation-types.js';
import { createDocumentCaches } from './server/document-cache.js';
import { asksForRefresh } from './server/http-caching.js';
import { isQueryLimitRejection, useQueryLimits } from './server/query-limits.js';
import { createReadiness, type Readiness } from './server/readiness.js';
import { requestIdFrom } from './server/request-id.js';
import { useOperationNotes, type RequestNotes } from './server/request-log.js';
import { createResponseCache, type ResponseCache } from './server/response-cache.js';

export interface GatewayDeps {
  config: GatewayConfig;
  /** Katapult base URL when `config.upstream.baseUrl` is unset (the embedded simulator's). */
  upstreamBaseUrl?: string;
  /** @default systemClock */
  clock?: Clock;
  /** Upstream transport. @default undici fetch over a keep-alive pool */
  fetch?: FetchLike;
  /** @default a pino logger at config.logLevel on stdout */
  logger?: Logger;
  /** @default Math.random */
  random?: () => number;
  /** Text pre-filled as the Authorization header in GraphiQL (embedded-simulator mode). */
  graphiqlDemoToken?: string;
  /** Export process-wide series (memory, GC, event loop) on /metrics: once per process. @default false */
  processMetrics?: boolean;
}

/**
 * Room for the opening reads of operations seen (see `opening-reads.ts`): a few hundred bytes
 * an operation, so thousands of them. Outside CACHE_MAX_BYTES, like the document caches.
 */
const OPENING_READS_BYTES = 2 * 1024 * 1024;

/** What the server wiring needs to know about one incoming request. */
export interface ServerContext {
  scope: RequestScope;
  /** Filled in while yoga runs, for the request's summary line. @default none */
  notes?: RequestNotes;
  /** The request's data layer, when the edge made it (to start reads before yoga runs). @default a new one */
  data?: KatapultData;
}

export interface GatewayApp {
  readonly config: GatewayConfig;
  readonly yoga: YogaServerInstance<ServerContext, GraphQLContext>;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly tokens: TokenKeyer;
  readonly cache: RestCache;
  readonly queue: RequestQueue;
  readonly source: KatapultSource;
  readonly readiness: Readiness;
  /** This app's Prometheus registry and the counters the HTTP edge updates. */
  readonly metrics: GatewayMetrics;
  readonly graphiqlDemoToken: string | undefined;
  /** Finished responses of repeated identical operations (the warm fast path). */
  readonly responseCache: ResponseCache;
  /** The data layer for one request. */
  createData(scope: RequestScope): KatapultData;
  /** What requests for each operation read first, so that a request can start those reads on arrival. */
  readonly openingReads: OpeningReadsMemory;
  /** Calls `listener` with a token's key whenever the REST cache drops everything of that token (revoked token). */
  onTokenPurged(listener: (tokenKey: string) => void): void;
  /** Builds the per-request scope from the request's headers. */
  createScope(headers: { authorization?: string | null; cacheControl?: string | null; requestId?: string | null; timeoutMs?: string | null }, signal?: AbortSignal): RequestScope;
  /**
   * One call without a token (so no token's budget), to say at start whether KATAPULT_API_URL
   * reaches Katapult: a wrong address fails /ready and is logged as a configuration error
   * before any client finds it; an unreachable one is logged as a warning.
   */
  checkUpstream(): Promise<'katapult' | 'wrong-address' | 'unreachable'>;
  /** Stops taking new work and releases upstream connections. */
  close(): Promise<void>;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** Requests may ask for a shorter deadline than the configured one, never a longer one. */
export const DEADLINE_HEADER = 'x-request-timeout-ms';

/** How often a failing /ready may check the base URL again, and what it reads (any list: the answer is refused). */
export const ROUTE_RECHECK_MS = 10_000;
const ROUTE_CHECK_PATH = '/data_centers';
/** How often a Katapult clock behind ours (beyond QUEUE_WINDOW_OFFSET_MS) is logged again while it lasts. */
export const CLOCK_REPORT_MS = 10 * 60_000;

/**
 * What an answer says against KATAPULT_API_URL, or null: route_not_found, or a 4xx that is not
 * Katapult's JSON, from something else at that address (a mistyped URL's 404 page, a proxy or
 * firewall refusing), which the circuit does not see as it counts only Katapult failing; or a
 * redirect (an http URL whose server sends it to https), named as such, since the fix is the URL
 * it points to. For the gateway's own tokenless check (`tokenless`), a success page that is not
 * Katapult's JSON too (a web server's index): on an ordinary call that may be Katapult's answer
 * cut short, a fault.
 */
function wrongAddressIn(code: string | null, status: number | null, tokenless = false): string | null {
  if (code === 'route_not_found') return 'route_not_found';
  if (code !== 'malformed' || status === null) return null;
  if (isRedirect(status)) return `an HTTP ${status} redirect, which the gateway does not follow`;
  if (isForeignRefusal(status) || (tokenless && status < 300)) return `an HTTP ${status} that is not Katapult's JSON`;
  return null;
}

/** What QUEUE_WINDOW_OFFSET_MS may be set to: half a window, and 30 s (the setting's own limit). */
const offsetLimit = (windowMs: number) => Math.min(Math.floor(windowMs / 2), MAX_QUEUE_WINDOW_OFFSET_MS);
/** An offset that covers a lag of at most `ms`: a quarter of a second more, as the default is over a clock in step, in steps of 250 ms. */
export const offsetCovering = (ms: number, windowMs: number) => Math.min(offsetLimit(windowMs), Math.max(250, Math.ceil((ms + 250) / 250) * 250));

/**
 * The queue's readings of Katapult's clock, as warnings that say what to set. The first of a
 * kind is logged at once; later ones are gathered and logged at most every CLOCK_REPORT_MS.
 */
function createClockReport(queue: GatewayConfig['queue'], logger: Logger, clock: Clock) {
  const { windowMs, windowOffsetMs, replicas } = queue;
  /** Readings gathered (`merge` keeps the tightest) since the last one logged; the gathered one when it is time to log again, else null. */
  const gathering = <T>(merge: (gathered: T, reading: T) => T) => {
    let gathered: T | null = null;
    let loggedAt = Number.NEGATIVE_INFINITY;
    return (reading: T): T | null => {
      gathered = gathered === null ? reading : merge(gathered, reading);
      if (clock.now() - loggedAt < CLOCK_REPORT_MS) return null;
      const due = gathered;
      gathered = null;
      loggedAt = clock.now();
      return due;
    };
  };
  const behindDue = gathering<{ atLeastMs: number; atMostMs: number }>((a, b) => ({ atLeastMs: Math.max(a.atLeastMs, b.atLeastMs), atMostMs: Math.min(a.atMostMs, b.atMostMs) }));
  const aheadDue = gathering<number>(Math.min);
  return {
    behind(lag: { atLeastMs: number; atMostMs: number }) {
      const due = behindDue(lag);
      if (due === null) return;
      const { atLeastMs, atMostMs } = due;
      const needed = offsetCovering(atMostMs, windowMs);
      logger.warn(
        { katapultBehindMs: { atLeast: atLeastMs, atMost: atMostMs }, windowOffsetMs },
        `Katapult's clock is ${atLeastMs} to ${atMostMs} ms behind this machine's (by the Date of its answers), more than QUEUE_WINDOW_OFFSET_MS (${windowOffsetMs}): ` +
          `its rate-limit windows turn after the gateway's, so a token near its limit can be held for up to a window${replicas > 1 ? ', and replicas can overrun its budget (429)' : ''}; ` +
          (needed > windowOffsetMs ? `set QUEUE_WINDOW_OFFSET_MS to ${needed}, or correct the clocks` : 'that is more than QUEUE_WINDOW_OFFSET_MS can cover: correct the clocks'),
      );
    },
    offsetTooLarge({ lagAtMostMs }: { lagAtMostMs: number }) {
      // Only when the offset it asks for is smaller than the one set (a slow answer's bound may not be).
      if (offsetCovering(Math.max(0, lagAtMostMs), windowMs) >= windowOffsetMs) return;
      const atMostMs = aheadDue(lagAtMostMs);
      if (atMostMs === null) return;
      logger.warn(
        { katapultBehindMs: { atMost: atMostMs }, windowOffsetMs },
        `QUEUE_WINDOW_OFFSET_MS (${windowOffsetMs}) is more than Katapult's clock needs: it is at most ${atMostMs} ms behind this machine's (by the Date of its answers), ` +
          `so its rate-limit windows turn before the gateway's, and calls in between are counted in the window the gateway thinks is over` +
          `${replicas > 1 ? ', which can cost replicas a 429' : ''}; set QUEUE_WINDOW_OFFSET_MS to ${offsetCovering(Math.max(0, atMostMs), windowMs)}`,
      );
    },
  };
}

/**
 * The composition root: builds every long-lived part (cache, queue, upstream client,
 * schema, yoga) from config and injected clock/fetch/logger. Nothing here listens on a port;
 * `server/http-server.ts` does that, and tests call `app.yoga.fetch` directly.
 */
export function createApp(deps: GatewayDeps): GatewayApp {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? createLogger({ level: config.logLevel });
  const baseUrl = config.upstream.baseUrl ?? deps.upstreamBaseUrl;
  if (!baseUrl) throw new Error('createApp needs a Katapult base URL: set KATAPULT_API_URL or pass upstreamBaseUrl');

  const pool = deps.fetch ? null : createPooledFetch({ connections: config.upstream.connections });
  const http = createKatapultHttp({ baseUrl, fetch: deps.fetch ?? pool!.fetch, timeoutMs: config.upstream.timeoutMs, maxBodyBytes: config.upstream.maxBodyBytes });
  const readiness = createReadiness();
  const tokens = createTokenKeyer(config.secrets.cacheKey);
  const metrics = createMetrics({ processMetrics: deps.processMetrics });
  const purgeListeners: Array<(tokenKey: string) => void> = [];
  // Read at start-up so a bad file stops the process before it listens.
  const allowList = config.http.persistedOperationsFile ? loadPersistedOperations(config.http.persistedOperationsFile) : undefined;
  if (config.http.persistedOperationsOnly && !allowList) {
    throw new Error('PERSISTED_OPERATIONS_ONLY=true needs PERSISTED_OPERATIONS_FILE: without a list, no operation could run');
  }

  const cache = createRestCache({
    clock,
    maxBytes: config.cache.bodyMaxBytes,
    parsedMaxBytes: config.cache.parsedMaxBytes,
    perTokenMaxBytes: config.cache.perTokenMaxBytes,
    ttlMs: config.cache.ttlMs,
    staleWhileRevalidateMs: config.cache.staleWhileRevalidateMs,
    staleIfErrorMs: config.cache.staleIfErrorMs,
    notFoundTtlMs: config.cache.notFoundTtlMs,
    invalidTokenTtlMs: config.cache.invalidTokenTtlMs,
    tokenRecheckMs: config.cache.tokenRecheckMs,
    hooks: {
      onRead: (status, kind) => metrics.cacheRead(status, kind),
      onEvict: (_bytes, reason) => metrics.cacheEvicted(reason),
      // Whatever was built from a revoked token's entries (finished responses) must go too.
      onPurgeToken: (tokenKey) => {
        for (const listener of purgeListeners) listener(tokenKey);
      },
      onFreshEntryGone: (tokenKey) => responseCache.dropToken(tokenKey),
    },
  });
  // Every busy token would find it each window: said at once, then at most every CLOCK_REPORT_MS,
  // with the tightest bounds the answers since gave (a slow answer loosens its own).
  const clockReport = createClockReport(config.queue, logger, clock);
  const queue = createRequestQueue({
    clock,
    random: deps.random,
    ...config.queue,
    hooks: {
      onStarted: ({ waitMs }) => metrics.queueWait(waitMs),
      onRateLimitResponse: () => metrics.upstreamRateLimited(),
      onRejected: (reason) => metrics.queueRejected(reason),
      onCircuitChange: (state) => logger.warn({ circuit: state }, 'upstream circuit changed'),
      onUpstreamClockBehind: (lag) => clockReport.behind(lag),
      onWindowOffsetTooLarge: (lag) => clockReport.offsetTooLarge(lag),
    },
  });
  // Asked each time: an open circuit's time runs out with no request to notice it.
  readiness.watch('upstream-circuit', () => (queue.circuitState() === 'open' ? 'Katapult calls are failing; circuit open' : null));
  // A wrong base URL fails /ready until a call gets Katapult's own answer again. A load balancer
  // then sends no requests, so none would ever find out the address was fixed (a proxy back up):
  // while it fails, being asked starts a call of the gateway's own, at most every ROUTE_RECHECK_MS.
  let routeProblem: string | null = null;
  let routeCheckedAt = Number.NEGATIVE_INFINITY;
  /** Fails /ready for a base URL that is not Katapult's, and says so where an operator looks. */
  const reportWrongAddress = (what: string, fields: Record<string, unknown>, when = '') => {
    routeProblem = `KATAPULT_API_URL does not point at the Katapult API (${what})`;
    routeCheckedAt = clock.now();
    logger.error(fields, `configuration error: Katapult answered ${what}${when}; check KATAPULT_API_URL`);
  };
  /** One call without a token (so no token's budget): any answer in Katapult's JSON (here, that a token is missing) shows the address is right. */
  const probeRoute = async (): Promise<{ answer: 'katapult' } | { answer: 'wrong-address'; what: string } | { answer: 'unreachable'; error: unknown }> => {
    try {
      await http.get({ path: ROUTE_CHECK_PATH, token: '' });
      return { answer: 'katapult' };
    } catch (error) {
      const what = wrongAddressIn(upstreamErrorCode(error), (error as { status?: number }).status ?? null, true);
      if (what !== null) return { answer: 'wrong-address', what };
      return error instanceof UpstreamApiError ? { answer: 'katapult' } : { answer: 'unreachable', error };
    }
  };
  const recheckRoute = async () => {
    if ((await probeRoute()).answer === 'katapult') routeProblem = null;
  };
  // One call's answer that looks like a wrong base URL is not taken at its word: a client chooses
  // what its calls ask for (ids, filters), and a proxy in front of Katapult may refuse one path
  // with its own page (a WAF) while the rest work. Either would let anyone take the gateway out
  // of its load balancer. The gateway's own call to a fixed path, without a token, decides; at
  // most one every ROUTE_RECHECK_MS, and /ready keeps its state while it is on its way.
  let suspicionCheckedAt = Number.NEGATIVE_INFINITY;
  const confirmWrongAddress = (fields: Record<string, unknown>) => {
    if (routeProblem !== null || clock.now() - suspicionCheckedAt < ROUTE_RECHECK_MS) return;
    suspicionCheckedAt = clock.now();
    void probeRoute().then((probe) => {
      if (probe.answer === 'wrong-address') reportWrongAddress(probe.what, { ...fields, path: ROUTE_CHECK_PATH, after: fields.path });
    });
  };
  const checkUpstream = async (): Promise<'katapult' | 'wrong-address' | 'unreachable'> => {
    // Set before the first await: /ready fails from the moment the check is asked for until it is answered.
    readiness.set('upstream-check', 'checking KATAPULT_API_URL');
    try {
      const probe = await probeRoute();
      if (probe.answer === 'wrong-address') reportWrongAddress(probe.what, { upstream: baseUrl, path: ROUTE_CHECK_PATH }, ' at start');
      else if (probe.answer === 'unreachable') logger.warn({ upstream: baseUrl, err: probe.error }, 'Katapult could not be reached at start (or failed); requests will try it as they come');
      else logger.info({ upstream: baseUrl }, 'Katapult answers at the configured address');
      return probe.answer;
    } finally {
      readiness.set('upstream-check', null);
    }
  };
  readiness.watch('upstream-route', () => {
    if (routeProblem !== null && clock.now() - routeCheckedAt >= ROUTE_RECHECK_MS) {
      routeCheckedAt = clock.now();
      void recheckRoute();
    }
    return routeProblem;
  });
  const source = createKatapultSource({
    http,
    cache,
    queue,
    clock,
    revalidationDeadlineMs: config.deadlines.revalidationMs,
    hooks: {
      onUpstreamCall: (info) => {
        metrics.upstreamCall(info.path, info.status, info.durationMs);
        if (wrongAddressIn(info.errorCode, info.status) !== null) {
          confirmWrongAddress({ path: info.path, status: info.status, requestId: info.requestId });
        } else if (info.errorCode === 'per_page_not_honoured') {
          // Every list would come back cut short, so it is refused: say so where an operator looks.
          const { asked, answered } = info.pageSize ?? { asked: config.pagination.upstreamPerPage, answered: NaN };
          if (answered === null) {
            logger.error(
              { path: info.path, requestId: info.requestId, asked },
              `configuration error: Katapult refused per_page=${asked} (UPSTREAM_PER_PAGE) for this list; set UPSTREAM_PER_PAGE below ${asked} (and PAGINATION_MAX_SIZE no larger)`,
            );
          } else {
            const advice =
              answered < asked
                ? `set UPSTREAM_PER_PAGE to ${answered} or less (and PAGINATION_MAX_SIZE no larger)`
                : 'this server does not page as Katapult does; check KATAPULT_API_URL';
            logger.error({ path: info.path, requestId: info.requestId, asked, answered }, `configuration error: Katapult answered pages of ${answered} items where UPSTREAM_PER_PAGE asks for ${asked}; ${advice}`);
          }
        } else if (info.errorCode === 'body_too_large') {
          // Refused, not retried: the same answer would come again. An operator must look at what answers.
          const { maxBodyBytes } = config.upstream;
          logger.warn(
            { path: info.path, status: info.status, requestId: info.requestId, maxBodyBytes },
            `Katapult's answer was over UPSTREAM_MAX_BODY_BYTES (${maxBodyBytes} bytes), so it was refused; Katapult's largest answers are well under 1 MB: check KATAPULT_API_URL, or raise the limit if such answers are expected`,
          );
        } else if (info.status !== null && info.status < 500 && info.errorCode !== 'malformed') {
          routeProblem = null;
        }
        // A Katapult fault (no answer, a 5xx, an unreadable or misshapen answer) is an operator's concern; anything else is routine.
        const fault = info.errorCode !== null && (info.status === null || info.status >= 500 || info.errorCode === 'malformed');
        logger[fault ? 'warn' : 'debug'](
          {
            requestId: info.requestId,
            upstream: {
              path: info.path,
              status: info.status,
              ms: info.durationMs,
              attempt: info.attempt,
              background: info.background,
              katapultRequestId: info.upstreamRequestId,
              error: info.errorCode,
              ...(info.networkCause ? { cause: info.networkCause } : {}),
              ...(info.shapeFault ? { shape: info.shapeFault } : {}),
            },
          },
          'upstream call',
        );
      },
    },
  });

  const persistedOperations = createPersistedOperations({
    apq: config.http.apq,
    allowList,
    allowListOnly: config.http.persistedOperationsOnly,
    onNotAllowed: () => metrics.inboundRejected('not_allowed'),
    mayRegister: (context) => readKatapultData((context as GraphQLContext).scope.stats),
  });
  // Sized by the config (none with per-response cache counts on: no two answers are alike).
  const responseCache = createResponseCache({
    clock,
    maxBytes: config.cache.responseCacheMaxBytes,
    normaliseDocuments: !config.http.persistedOperationsOnly,
    resolvesPersistedHash: persistedOperations.resolves,
    tokenReplayable: (tokenKey) => !cache.tokenCheckDue(tokenKey),
  });
  purgeListeners.push((tokenKey) => responseCache.purgeToken(tokenKey));

  const cursors = createCursorCodec(config.secrets.cursor);
  const pageSizes = { perPage: config.pagination.upstreamPerPage, defaultSize: config.pagination.defaultSize, maxSize: config.pagination.maxSize };

  const plugins: Plugin<any>[] = [
    useErrorContract({ clock, exposeCacheStats: config.cache.exposeExtensions }),
    persistedOperations.plugin,
    // Before the limits: an operation they refuse stops execution there, and must still be
    // logged and counted under its own name.
    useOperationNotes(),
    useKnownOperationTypes(),
    useQueryLimits({
      maxDepth: config.limits.depth,
      maxCost: config.limits.cost,
      maxAliases: config.limits.aliases,
      maxTokens: config.limits.tokens,
      pageSizes: { defaultSize: config.pagination.defaultSize, maxSize: config.pagination.maxSize },
      onRejected: (reason) => metrics.inboundRejected(reason),
    }),
  ];
  if (!config.http.introspection) plugins.push(useDisableIntrospection());
  const jit = config.http.jit ? useTieredJit({ after: config.http.jitAfter, maxBytes: config.http.documentCacheMaxBytes }) : null;
  if (jit) plugins.push(jit);
  // A document refused for its length is parsed (up to the limit) each time it comes, so that
  // every refusal is counted; other parse errors are remembered.
  const documentCaches = createDocumentCaches({ maxBytes: config.http.documentCacheMaxBytes, remembersError: (error) => !isQueryLimitRejection(error) });
  metrics.watch({
    queue: () => queue.stats(),
    cache: () => cache.stats(),
    responseCache: () => responseCache.stats(),
    documents: () => ({ parsedBytes: documentCaches.documentCache.calculatedSize, compiledBytes: jit?.compiledBytes() ?? 0 }),
  });

  const yoga = createYoga<ServerContext, GraphQLContext>({
    schema: buildSchema(),
    graphqlEndpoint: '/graphql',
    logging: yogaLogging(logger, isExpectedError),
    maskedErrors: { maskError: createMaskError(() => clock.now()) as never },
    graphiql: false,
    landingPage: false,
    cors: false,
    // The HTTP edge reads and size-checks every body (LIMIT_BODY_BYTES) before yoga sees it;
    // yoga's own check would pipe the same bytes through a web stream again on every request.
    maxRequestBodySize: false,
    // Read by the persisted-operations plugin, which replaces them with the document they name.
    extraParamNames: [...DOCUMENT_ID_PARAMETERS],
    parserAndValidationCache: { ...documentCaches, validationCache: true },
    plugins,
    context: ({ scope, data }) => ({
      scope,
      data: data ?? createKatapultData(source, scope, pageSizes.perPage),
      cursors,
      pageSizes,
    }),
  });

  function createScope(
    headers: { authorization?: string | null; cacheControl?: string | null; requestId?: string | null; timeoutMs?: string | null },
    signal?: AbortSignal,
  ): RequestScope {
    const token = headers.authorization ? (BEARER.exec(headers.authorization)?.[1] ?? null) : null;
    const asked = headers.timeoutMs ? Number(headers.timeoutMs) : Number.NaN;
    const timeoutMs = Number.isFinite(asked) && asked > 0 ? Math.min(asked, config.deadlines.requestMs) : config.deadlines.requestMs;
    return {
      token,
      tokenKey: token ? tokens.key(token) : '',
      requestId: requestIdFrom(headers.requestId),
      deadline: clock.now() + timeoutMs,
      deadlineFromClient: timeoutMs < config.deadlines.requestMs,
      noCache: asksForRefresh(headers.cacheControl),
      signal,
      stats: createRequestStats(),
    };
  }

  return {
    config,
    yoga,
    logger,
    clock,
    tokens,
    cache,
    queue,
    source,
    responseCache,
    readiness,
    metrics,
    graphiqlDemoToken: deps.graphiqlDemoToken,
    createData: (scope) => createKatapultData(source, scope, pageSizes.perPage),
    openingReads: createOpeningReadsMemory({ maxBytes: OPENING_READS_BYTES }),
    onTokenPurged: (listener) => void purgeListeners.push(listener),
    createScope,
    checkUpstream,
    async close() {
      readiness.set('shutdown', 'shutting down');
      // Calls still in line are no one's answer by now (the HTTP edge has finished or cut off its
      // requests): background refreshes, and calls waiting for a token's budget. They are dropped;
      // the calls on their way are let finish.
      queue.close();
      await queue.onIdle();
      await pool?.close();
    },
  };
}
