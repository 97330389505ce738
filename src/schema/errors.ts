import { GraphQLError } from 'graphql';
import { InvalidInputError, MissingTokenError } from '../data/errors.js';
import {
  CircuitOpenError,
  QueueFullError,
  RateLimitedError,
  UpstreamApiError,
  UpstreamBodyTooLargeError,
  UpstreamCancelledError,
  UpstreamError,
  UpstreamPageSizeError,
  UpstreamShapeError,
  isNotFoundCode,
} from '../upstream/errors.js';

/**
 * The gateway's error contract, in one place. Every error a client sees carries
 * `extensions.code` from this fixed set, plus `extensions.katapultCode` when Katapult gave
 * one. Upstream bodies, URLs, headers and tokens are never echoed: messages are our own.
 */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'RATE_LIMITED',
  'BAD_USER_INPUT',
  'UPSTREAM_UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_ALLOWED',
  'QUERY_TOO_COMPLEX',
  'TOO_MANY_REQUESTS',
  'INTERNAL_SERVER_ERROR',
  // yoga's, for a request it cannot read (bad JSON, bad parameters, batches, other methods)
  // and for a document whose operation it cannot pick.
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const WWW_AUTHENTICATE = 'Bearer realm="katapult-gateway"';
/**
 * For a token Katapult refused: RFC 6750 names the case, so that an OAuth-style client knows to
 * get a new token rather than to send the one it has (a request without a token gets no code).
 */
export const WWW_AUTHENTICATE_INVALID_TOKEN = `${WWW_AUTHENTICATE}, error="invalid_token"`;

/** Seconds until the next wall-clock minute: when a fixed per-minute window resets. */
export function secondsToNextMinute(now: number): number {
  return Math.max(1, Math.ceil((60_000 - (now % 60_000)) / 1000));
}

interface Mapped {
  message: string;
  code: ErrorCode;
  extensions?: Record<string, unknown>;
  /** When set, the whole response takes this HTTP status (and headers). */
  http?: { status: number; headers?: Record<string, string> };
  /** Katapult answered with an error code nobody documented: news for whoever runs the gateway. */
  undocumented?: true;
}

function mapApiError(error: UpstreamApiError, now: number): Mapped {
  const katapultCode = error.code;
  const base = { extensions: { katapultCode } };
  switch (katapultCode) {
    case 'missing_api_token':
    case 'invalid_api_token':
    case 'invalid_capabilities_token':
      return {
        ...base,
        code: 'UNAUTHENTICATED',
        message: 'Katapult did not accept the API token (it may not exist, or may have expired or been revoked)',
        // The gateway only calls Katapult with a token: "missing" means something between them
        // dropped it, which says nothing against the token the client holds.
        http: { status: 401, headers: { 'WWW-Authenticate': katapultCode === 'missing_api_token' ? WWW_AUTHENTICATE : WWW_AUTHENTICATE_INVALID_TOKEN } },
      };
    case 'scope_not_granted': {
      const scopes = Array.isArray(error.detail.scopes) ? error.detail.scopes.filter((s) => typeof s === 'string') : [];
      return {
        code: 'FORBIDDEN',
        message: `The API token lacks the scope this needs${scopes.length ? ` (one of: ${scopes.join(', ')})` : ''}`,
        extensions: { katapultCode, requiredScopes: scopes },
      };
    }
    case 'organization_suspended':
      return { ...base, code: 'FORBIDDEN', message: 'The organization is suspended' };
    case 'organization_not_activated':
      return { ...base, code: 'FORBIDDEN', message: 'The organization has not been activated yet' };
    case 'unauthorized_network_for_api_token':
      return { ...base, code: 'FORBIDDEN', message: "The API token may not be used from the gateway's network address" };
    case 'no_user_associated_with_identity':
      return { ...base, code: 'FORBIDDEN', message: 'This needs a user-level API token; an organization-level token has no user' };
    case 'object_in_trash':
      return { ...base, code: 'NOT_FOUND', message: 'The object is in the trash; restore it in Katapult to use it' };
    case 'rate_limit_reached': {
      const retryAfterSeconds = secondsToNextMinute(now);
      return { ...base, code: 'RATE_LIMITED', message: `Katapult's rate limit for this token was reached; retry in ${retryAfterSeconds} s`, extensions: { katapultCode, retryAfterSeconds } };
    }
    case 'invalid_argument':
    case 'missing_required_argument':
      return { ...base, code: 'BAD_USER_INPUT', message: 'Katapult rejected an argument of this request' };
    case 'route_not_found':
      return { ...base, code: 'UPSTREAM_UNAVAILABLE', message: 'The gateway is misconfigured: its Katapult API URL does not point at the Katapult API' };
  }
  if (isNotFoundCode(katapultCode)) return { ...base, code: 'NOT_FOUND', message: 'Nothing was found matching the arguments' };
  if (error.status >= 500) return { ...base, code: 'UPSTREAM_UNAVAILABLE', message: 'Katapult is unavailable; try again shortly' };
  if (error.status === 403) return { ...base, code: 'FORBIDDEN', message: 'Katapult refused access to this' };
  return { ...base, code: 'UPSTREAM_UNAVAILABLE', message: 'Katapult answered with an error the gateway does not understand', undocumented: true };
}

/** The typed error behind a GraphQL error, or null when it is not one of ours. */
export function mapKnownError(error: unknown, now: number): Mapped | null {
  if (error instanceof MissingTokenError) {
    return {
      code: 'UNAUTHENTICATED',
      message: error.message,
      http: { status: 401, headers: { 'WWW-Authenticate': WWW_AUTHENTICATE } },
    };
  }
  if (error instanceof InvalidInputError) {
    return { code: 'BAD_USER_INPUT', message: error.message, extensions: error.argument ? { argument: error.argument } : undefined };
  }
  if (!(error instanceof UpstreamError)) return null;
  if (error instanceof UpstreamApiError) return mapApiError(error, now);
  if (error instanceof RateLimitedError || error instanceof QueueFullError) {
    return {
      code: 'RATE_LIMITED',
      message:
        error instanceof QueueFullError
          ? `The gateway is holding too many Katapult calls for this token; retry in ${error.retryAfterSeconds} s`
          : error.heldBy === 'deadline'
            ? `The request's deadline passed before this token's Katapult call could be sent (the deadline was too short, or the token's earlier calls held every slot); retry in ${error.retryAfterSeconds} s`
            : `This token's Katapult budget does not allow the call within the request's deadline (spent, or pacing a new token); retry in ${error.retryAfterSeconds} s`,
      extensions: { retryAfterSeconds: error.retryAfterSeconds },
    };
  }
  if (error instanceof CircuitOpenError) {
    return { code: 'UPSTREAM_UNAVAILABLE', message: 'Katapult is failing; the gateway paused calls to it for a moment', extensions: { retryAfterSeconds: error.retryAfterSeconds } };
  }
  if (error instanceof UpstreamCancelledError) return { code: 'UPSTREAM_UNAVAILABLE', message: 'The request was cancelled' };
  if (error instanceof UpstreamPageSizeError) {
    const what = error.answered === null ? 'refuses the page size' : 'answers in pages of another size than';
    return { code: 'UPSTREAM_UNAVAILABLE', message: `Katapult ${what} the gateway is set to read (UPSTREAM_PER_PAGE): the gateway needs its operator` };
  }
  if (error instanceof UpstreamBodyTooLargeError) {
    return { code: 'UPSTREAM_UNAVAILABLE', message: 'Katapult sent an answer larger than the gateway reads (UPSTREAM_MAX_BODY_BYTES): the gateway needs its operator' };
  }
  if (error instanceof UpstreamShapeError) return { code: 'UPSTREAM_UNAVAILABLE', message: `Katapult sent an answer the gateway cannot read (${error.fault}); try again shortly` };
  const reason = error.kind === 'timeout' ? 'did not answer in time' : error.kind === 'malformed' ? 'sent an unreadable answer' : 'could not be reached';
  return { code: 'UPSTREAM_UNAVAILABLE', message: `Katapult ${reason}; try again shortly` };
}

/**
 * Whether an error is one the contract names (a client's mistake, Katapult's refusal or
 * outage, the budget): not a server fault, so not logged as one.
 */
export function isExpectedError(error: unknown): boolean {
  const graphQLError = error instanceof GraphQLError ? error : null;
  if (graphQLError && isVariableError(graphQLError)) return true;
  const mapped = mapKnownError(graphQLError?.originalError ?? error, 0);
  return mapped !== null && !mapped.undocumented;
}

/**
 * Yoga's `maskError`: our typed errors become contract errors; anything else stays masked
 * (an unexpected error's message and stack never reach the client).
 */
export function createMaskError(now: () => number) {
  return (error: unknown, fallbackMessage: string): Error => {
    const graphQLError = error instanceof GraphQLError ? error : null;
    const original = graphQLError?.originalError ?? error;
    const mapped = mapKnownError(original, now());
    if (mapped) {
      return new GraphQLError(mapped.message, {
        nodes: graphQLError?.nodes,
        source: graphQLError?.source,
        positions: graphQLError?.positions,
        path: graphQLError?.path,
        extensions: { code: mapped.code, ...mapped.extensions, ...(mapped.http ? { http: mapped.http } : {}) },
      });
    }
    if (graphQLError && isVariableError(graphQLError)) return variableError(graphQLError);
    // Errors graphql-js raised itself (parsing, validation) are safe to show.
    if (graphQLError && !graphQLError.originalError) return graphQLError;
    return new GraphQLError(fallbackMessage, {
      nodes: graphQLError?.nodes,
      path: graphQLError?.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  };
}

/**
 * The request's variables do not fit their declared types (missing, null for a non-null
 * type, a value its scalar refuses): the operation never ran. graphql words these itself,
 * naming the variable and the client's own value, and its scalars raise them as GraphQL
 * errors of their own, so none of it comes from us or from Katapult.
 */
function isVariableError(error: GraphQLError): boolean {
  return error.path === undefined && error.message.startsWith('Variable "$') && (error.originalError === undefined || error.originalError instanceof GraphQLError);
}

/**
 * A client error; graphql-jit's version of it carries no extensions at all. It is a request
 * error in a readable request, like a document that does not validate, so GraphQL over HTTP's
 * status rule for it depends on the media type: 400 under application/graphql-response+json,
 * 200 under application/json (`spec` tells yoga so).
 */
function variableError(error: GraphQLError): GraphQLError {
  const extensions = error.extensions ?? {};
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    extensions: { ...extensions, code: 'BAD_USER_INPUT', http: { ...(extensions.http as object | undefined), status: 400, spec: true } },
  });
}
