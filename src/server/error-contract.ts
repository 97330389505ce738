import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Clock } from '../clock.js';
import type { ServerContext } from '../app.js';

export interface ErrorContractOptions {
  clock: Clock;
  /** Add `extensions.cache` (hits, misses, …) to every response. @default false */
  exposeCacheStats?: boolean;
}

type Result = { data?: Record<string, unknown> | null; errors?: readonly GraphQLError[]; extensions?: Record<string, unknown> };

function isSingleResult(value: unknown): value is Result {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(Symbol.asyncIterator in value);
}

type HttpExtension = { status?: number; spec?: boolean; headers?: Record<string, string> };

const httpOf = (extensions: Readonly<Record<string, unknown>> | undefined) => extensions?.http as HttpExtension | undefined;

/** The same answer as a request error: GraphQL over HTTP's way of saying nothing was executed. */
function withoutData(result: Result): Result {
  const { data: _dropped, ...rest } = result;
  return rest;
}

/**
 * Whether yoga will answer as application/graphql-response+json: it takes the first of its two
 * JSON media types the Accept header names (a wildcard, or no header, is application/json).
 */
export function answersGraphQLResponseJson(accept: string | null): boolean {
  for (const entry of (accept ?? '').split(',')) {
    const type = entry.split(';')[0]!.trim().toLowerCase();
    if (type === 'application/graphql-response+json') return true;
    if (type === 'application/json' || type === '*/*' || type === 'application/*') return false;
  }
  return false;
}

/**
 * GraphQL over HTTP ties the status to `data`. For every media type: an answer without `data`
 * (a mutation or subscription, which validation refuses since the schema has neither (see
 * `operation-types.ts`), or any other request error) is a request error, 400, which yoga keeps at 200 under
 * application/json as it does for validation. Under application/graphql-response+json, where
 * these are MUSTs:
 * - a whole-request failure (401 for the token, 429 for the budget) whose root fields are all
 *   null answers without `data`, so its status is the request's: nothing was answered anyway;
 * - the same failures next to fields that did answer (`__typename`, an organization named by
 *   its sub-domain) answer 200: the client got data, and its errors say what is missing.
 * Under application/json the documented 401 and 429 stand, with `data` as graphql made it.
 */
function withStatusRules(result: Result, strict: boolean): Result {
  const errors = result.errors ?? [];
  const escalated =
    (httpOf(result.extensions)?.status ?? 0) >= 400 ||
    errors.some((e) => {
      const http = httpOf(e.extensions);
      return (http?.status ?? 0) >= 400 && !http?.spec;
    });
  const data = result.data;
  const answered = data !== null && data !== undefined && Object.values(data).some((value) => value !== null);
  const startRefused = data === null && errors.length > 0 && errors.every((e) => e.path === undefined && e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED');
  if (strict && escalated && answered) {
    for (const error of errors) {
      const http = httpOf(error.extensions);
      if (http?.status) (error.extensions as Record<string, unknown>).http = { ...http, status: undefined };
    }
    const http = httpOf(result.extensions);
    return http?.status ? { ...result, extensions: { ...result.extensions, http: { ...http, status: undefined } } } : result;
  }
  if (strict && escalated) return withoutData(result);
  if (data === undefined || startRefused) {
    for (const error of errors) {
      const extensions = error.extensions as Record<string, unknown>;
      if (!httpOf(extensions)?.status) extensions.http = { ...httpOf(extensions), status: 400, spec: true };
    }
    if (strict && startRefused) return withoutData(result);
  }
  return result;
}

/**
 * The response-level half of the error contract: every error carries the request id; a
 * request that cannot be read answers HTTP 400 whatever media type it accepts; a request whose
 * every root field failed with RATE_LIMITED answers HTTP 429 with Retry-After; optional
 * `extensions.cache` counts.
 */
export function useErrorContract(options: ErrorContractOptions): Plugin<ServerContext> {
  return {
    onParams({ params }) {
      // yoga checks the other parameters' types; an operation name of another type reached the
      // executor and came back as OPERATION_RESOLUTION_FAILURE instead of an unreadable request.
      const name = params.operationName as unknown;
      if (name !== undefined && name !== null && typeof name !== 'string') {
        throw new GraphQLError(`Expected "operationName" to be a string, got ${Array.isArray(name) ? 'an array' : typeof name}`, {
          extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
        });
      }
    },
    onResultProcess({ request, result, setResult, serverContext }) {
      if (!isSingleResult(result)) return;
      const scope = (serverContext as Partial<ServerContext>).scope;
      if (!scope) return;
      let changed: Result = result;
      if (result.errors?.length) {
        const errors = result.errors.map((error) => {
          // An error made elsewhere than graphql-js (graphql-jit's) may have no extensions object to add to.
          const own = error.extensions
            ? error
            : new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions: {} });
          const extensions = own.extensions as Record<string, unknown>;
          // The few errors graphql raises while starting to execute a document it accepted (an
          // operation name that picks none of its operations, say) come without a code; any
          // other error reached here through the mask, which gives every one a code.
          extensions.code ??= own.path === undefined ? 'GRAPHQL_VALIDATION_FAILED' : 'INTERNAL_SERVER_ERROR';
          // yoga's detail of why a body did not parse: the parser's words about the client's own bytes.
          delete extensions.originalError;
          // yoga answers a request it cannot read (a body that is not JSON, no query, params that
          // are not an object) with 200 when the client accepts application/json, for old clients;
          // GraphQL over HTTP asks for 400 there too. A document that does not parse, validate or
          // take its variables is a readable request, and keeps its 200 under application/json.
          const http = httpOf(extensions);
          if (http?.spec && extensions.code === 'BAD_REQUEST') extensions.http = { ...http, spec: false };
          // yoga gives a document whose operation cannot be chosen (several, and no or another
          // operationName) a plain 400; it is a request error in a readable request like the above.
          if (http?.status === 400 && !http.spec && extensions.code === 'OPERATION_RESOLUTION_FAILURE') extensions.http = { ...http, spec: true };
          extensions.requestId = scope.requestId;
          return own;
        });
        changed = { ...changed, errors };
        // "Every root field failed": data is null (a non-null root field failed and took it
        // with it), or every root key is null, and each failure was the rate limit. A root with
        // any other error under it may be null for that reason (a suspended organization whose
        // VM list also hit the budget): waiting would not bring it back, so that is no 429.
        const data = result.data;
        const limited = errors.filter((e) => e.extensions?.code === 'RATE_LIMITED');
        const onlyLimitedUnder = (key: string) => {
          const under = errors.filter((e) => e.path?.[0] === key);
          return under.length > 0 && under.every((e) => e.extensions?.code === 'RATE_LIMITED');
        };
        const everyRootLimited =
          limited.length > 0 &&
          (data === null
            ? limited.length === errors.filter((e) => e.path !== undefined).length
            : data !== undefined && Object.values(data).every((value) => value === null) && Object.keys(data).every(onlyLimitedUnder));
        if (everyRootLimited) {
          const retryAfter = Math.max(...limited.map((e) => Number(e.extensions?.retryAfterSeconds) || 1));
          changed = { ...changed, extensions: { ...changed.extensions, http: { status: 429, headers: { 'Retry-After': String(retryAfter) } } } };
        }
        changed = withStatusRules(changed, answersGraphQLResponseJson(request?.headers.get('accept') ?? null));
      }
      if (options.exposeCacheStats) {
        const s = scope.stats;
        changed = {
          ...changed,
          extensions: {
            ...changed.extensions,
            cache: { hits: s.hits, misses: s.misses, stale: s.stale + s.staleIfError, staleIfError: s.staleIfError, coalesced: s.coalesced, negative: s.negative, upstreamCalls: s.upstreamCalls },
          },
        };
      }
      if (changed !== result) setResult(changed as never);
    },
  };
}
