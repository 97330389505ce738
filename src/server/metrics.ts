import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheStatus, ResourceKind } from '../cache/index.js';
import type { QueueRejectReason, QueueStats } from '../queue/index.js';

export interface MetricsOptions {
  /** Distinct operation names kept as label values; names seen after that are counted as `other`. @default 200 */
  maxOperationLabels?: number;
  /**
   * Also export prom-client's process series (resident memory, V8 heap spaces, external
   * memory, GC pauses, event-loop delay). They start observers that live as long as the
   * process, so the server turns them on once; apps built in tests leave them off.
   * @default false
   */
  processMetrics?: boolean;
}

/** Why the HTTP edge or the query limits turned a request away before it reached the resolvers. */
export type InboundRejectReason = 'rate_limited' | 'body_too_large' | 'csrf' | 'depth' | 'cost' | 'aliases' | 'tokens' | 'not_allowed';

/** Where the scrape-time gauges read their values; set once the cache and queue exist. */
export interface MetricsSources {
  queue(): QueueStats;
  cache(): { entries: number; bytes: number };
  /** The finished-response cache (the warm fast path). */
  responseCache?(): { entries: number; bytes: number };
  /** yoga's parsed documents and graphql-jit's compiled ones, as `document-cache.ts` estimates them. */
  documents?(): { parsedBytes: number; compiledBytes: number };
}

export interface GatewayMetrics {
  /** `Content-Type` of `render()`'s text. */
  readonly contentType: string;
  render(): Promise<string>;
  /** Called by the app once the queue and cache exist; gauges read them at scrape time. */
  watch(sources: MetricsSources): void;
  /**
   * `vouchedBy`: the key of the token with which the request read Katapult data and was answered
   * 200, so its operation name may take a label slot of its own; null otherwise. Any other
   * request is counted under a name that already has one, or under "other": a client with no
   * token, or an invented one, could otherwise take every slot with made-up names before the
   * real operations ran. One token may take a quarter of the slots at most, so that one user's
   * made-up names cannot take them all either.
   */
  graphqlRequest(operationName: string | null, status: number, durationMs: number, vouchedBy: string | null): void;
  upstreamCall(endpoint: string, status: number | null, durationMs: number): void;
  cacheRead(status: CacheStatus, kind: ResourceKind): void;
  cacheEvicted(reason: string): void;
  queueWait(waitMs: number): void;
  upstreamRateLimited(): void;
  queueRejected(reason: QueueRejectReason): void;
  inboundRejected(reason: InboundRejectReason): void;
  /** A request answered from finished-response bytes, before yoga. */
  onResponseCacheHit(): void;
}

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;
// Katapult path templates (`/organizations/organization/virtual_machines`): never ids, never a query.
const PATH_TEMPLATE = /^(\/[a-z_]+){1,6}$/;

/**
 * Prometheus metrics for one app, on a registry of its own (never prom-client's global one,
 * so two apps in one process, as in tests, do not share counters).
 *
 * Label values are bounded and never come from a token or a URL: operations are GraphQL
 * names from the executed document, capped at `maxOperationLabels` distinct values (a client
 * inventing names cannot grow the series without limit); endpoints are path templates.
 * Queue and cache sizes are read at scrape time instead of being pushed on every change, so
 * the warm path pays nothing for them.
 */
export function createMetrics(options: MetricsOptions = {}): GatewayMetrics {
  const maxOperationLabels = options.maxOperationLabels ?? 200;
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  let sources: MetricsSources | null = null;
  const operations = new Set<string>();
  const perTokenLabels = Math.max(1, Math.ceil(maxOperationLabels / 4));
  // Slots taken, by the token that took them: at most one entry per slot.
  const takenBy = new Map<string, number>();

  const operationLabel = (name: string | null, vouchedBy: string | null): string => {
    if (!name) return 'anonymous';
    if (operations.has(name)) return name;
    if (vouchedBy === null || operations.size >= maxOperationLabels || !GRAPHQL_NAME.test(name)) return 'other';
    const taken = takenBy.get(vouchedBy) ?? 0;
    if (taken >= perTokenLabels) return 'other';
    takenBy.set(vouchedBy, taken + 1);
    operations.add(name);
    return name;
  };

  const requests = new Counter({ name: 'graphql_requests_total', help: 'GraphQL requests by operation name and HTTP status.', labelNames: ['operation', 'status'], registers });
  const requestDuration = new Histogram({
    name: 'graphql_request_duration_seconds',
    help: 'Time from receiving a GraphQL request to sending its answer.',
    labelNames: ['operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const upstream = new Counter({ name: 'upstream_requests_total', help: 'Katapult calls by path template and HTTP status (error: no response).', labelNames: ['endpoint', 'status'], registers });
  const upstreamDuration = new Histogram({
    name: 'upstream_request_duration_seconds',
    help: 'Duration of Katapult calls by path template.',
    labelNames: ['endpoint'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const cacheReads = new Counter({ name: 'cache_reads_total', help: 'REST cache reads by how they were served and resource kind.', labelNames: ['status', 'kind'], registers });
  const cacheEvictions = new Counter({ name: 'cache_evictions_total', help: 'REST cache entries dropped, by reason.', labelNames: ['reason'], registers });
  const queueWaitSeconds = new Histogram({
    name: 'queue_wait_seconds',
    help: 'Time Katapult calls waited in the queue before being sent.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers,
  });
  const rateLimited = new Counter({ name: 'upstream_rate_limited_total', help: 'HTTP 429 answers received from Katapult (or from a proxy in front of it).', registers });
  const queueRejections = new Counter({ name: 'queue_rejections_total', help: 'Katapult calls the queue refused, by reason.', labelNames: ['reason'], registers });
  const inboundRejections = new Counter({ name: 'inbound_rejections_total', help: 'Requests refused before execution, by reason (rate_limited is the per-IP inbound limit).', labelNames: ['reason'], registers });
  const requestChildren = new Map<string, { count: { inc(): void }; duration: { observe(value: number): void } }>();
  const responseCacheHits = new Counter({ name: 'response_cache_hits_total', help: 'Requests answered from the finished-response cache.', registers });

  const gauge = (name: string, help: string, read: (s: MetricsSources) => number | null) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const value = sources ? read(sources) : null;
        if (value !== null) this.set(value);
      },
    });
  gauge('cache_bytes', 'Bytes held by the REST cache (bodies plus per-entry overhead).', (s) => s.cache().bytes);
  gauge('cache_entries', 'Entries held by the REST cache.', (s) => s.cache().entries);
  gauge('response_cache_bytes', 'Bytes of finished responses held for the warm fast path.', (s) => s.responseCache?.().bytes ?? null);
  gauge('response_cache_entries', 'Finished responses held for the warm fast path.', (s) => s.responseCache?.().entries ?? null);
  gauge('document_cache_bytes', 'Estimated bytes of parsed documents kept by their text (DOCUMENT_CACHE_MAX_BYTES).', (s) => s.documents?.().parsedBytes ?? null);
  gauge('compiled_document_bytes', 'Estimated bytes of documents compiled by graphql-jit and kept (DOCUMENT_CACHE_MAX_BYTES).', (s) => s.documents?.().compiledBytes ?? null);
  gauge('queue_depth', 'Katapult calls waiting in the queue.', (s) => s.queue().waiting);
  gauge('queue_in_flight', 'Katapult calls in flight.', (s) => s.queue().inFlight);
  new Gauge({
    name: 'queue_budget_remaining',
    help: 'Learned remaining Katapult budget across tokens: the lowest and the mean (absent until any token learned its budget).',
    labelNames: ['aggregate'],
    registers,
    collect() {
      this.reset();
      const stats = sources?.queue();
      if (stats?.minRemaining != null) this.set({ aggregate: 'min' }, stats.minRemaining);
      if (stats?.avgRemaining != null) this.set({ aggregate: 'avg' }, stats.avgRemaining);
    },
  });

  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    watch(next) {
      sources = next;
    },
    graphqlRequest(operationName, status, durationMs, vouchedBy) {
      const operation = operationLabel(operationName, vouchedBy);
      // Label children are looked up once per (operation, status): prom-client otherwise hashes
      // the label object on every increment, which shows on the warm path.
      const key = `${operation}\u0000${status}`;
      let children = requestChildren.get(key);
      if (!children) {
        children = { count: requests.labels({ operation, status: String(status) }), duration: requestDuration.labels({ operation }) };
        requestChildren.set(key, children);
      }
      children.count.inc();
      children.duration.observe(durationMs / 1000);
    },
    upstreamCall(path, status, durationMs) {
      const endpoint = PATH_TEMPLATE.test(path) ? path : 'other';
      upstream.inc({ endpoint, status: status === null ? 'error' : String(status) });
      upstreamDuration.observe({ endpoint }, durationMs / 1000);
    },
    cacheRead: (status, kind) => cacheReads.inc({ status, kind }),
    cacheEvicted: (reason) => cacheEvictions.inc({ reason }),
    queueWait: (waitMs) => queueWaitSeconds.observe(waitMs / 1000),
    upstreamRateLimited: () => rateLimited.inc(),
    queueRejected: (reason) => queueRejections.inc({ reason }),
    inboundRejected: (reason) => inboundRejections.inc({ reason }),
    onResponseCacheHit: () => responseCacheHits.inc(),
  };
}
