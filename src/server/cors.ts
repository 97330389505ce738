import { CSRF_HEADERS } from './csrf.js';

export interface CorsOptions {
  /** Origins allowed to call from a browser, exactly as browsers send them (`https://app.example`); `*` allows any. @default none */
  origins?: readonly string[];
  /** How long a browser may reuse a preflight answer, in seconds. @default 600 */
  maxAgeSeconds?: number;
}

export interface Cors {
  /** Headers for an actual (non-preflight) response to a request from `origin`. */
  headersFor(origin: string | undefined): Record<string, string>;
  /** Headers for a preflight (OPTIONS) answer to `origin`. */
  preflightFor(origin: string | undefined): Record<string, string>;
}

// Apollo Client sends its name and version (client awareness) when configured, and tracing
// libraries add their context (W3C trace context and baggage from OpenTelemetry, Sentry's own
// trace header): a preflight that refuses them fails the whole request.
const CLIENT_HEADERS = ['apollographql-client-name', 'apollographql-client-version', 'traceparent', 'tracestate', 'baggage', 'sentry-trace'];
// `if-none-match`: a client that reads the exposed ETag sends it back to revalidate a GET.
const ALLOWED_HEADERS = ['authorization', 'content-type', 'accept', 'cache-control', 'if-none-match', 'x-request-id', 'x-request-timeout-ms', ...CSRF_HEADERS, ...CLIENT_HEADERS].join(', ');
const EXPOSED_HEADERS = 'x-request-id, retry-after, etag';

/**
 * Browser access by allow-list. A listed origin gets its own origin echoed back (never `*`
 * with credentials, and none are needed: the token is a header, not a cookie); any other
 * origin gets no CORS headers at all, so the browser refuses to hand it the answer. `Vary:
 * Origin` is always sent because the answer's headers depend on the origin.
 */
export function createCors(options: CorsOptions = {}): Cors {
  // An origin is scheme, host and port: a listed `https://app.example/` or `https://App.example`
  // names the origin a browser sends as `https://app.example`.
  const origins = new Set((options.origins ?? []).map((origin) => (origin === '*' ? origin : origin.replace(/\/+$/, '').toLowerCase())));
  const anyOrigin = origins.has('*');
  const maxAge = String(options.maxAgeSeconds ?? 600);
  const allowed = (origin: string | undefined): origin is string => origin !== undefined && (anyOrigin || origins.has(origin.toLowerCase()));
  return {
    headersFor(origin): Record<string, string> {
      if (!allowed(origin)) return { vary: 'Origin' };
      return { vary: 'Origin', 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS };
    },
    preflightFor(origin): Record<string, string> {
      if (!allowed(origin)) return { vary: 'Origin' };
      return {
        vary: 'Origin',
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': maxAge,
      };
    },
  };
}
