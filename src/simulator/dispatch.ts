import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { SimulatorApiError, apiErrors } from './api-error.js';
import { parseArguments } from './arguments.js';
import type { SimulatorDataset } from './dataset.js';
import { delay, malformBody, rollFaults, type FaultSettings } from './faults.js';
import { deepMerge, isParamHash, parseNestedQuery, type ParamHash } from './query.js';
import type { RateLimiter } from './rate-limit.js';
import { errorResponse, successResponse, type CommonHeaders } from './responses.js';
import { matchRoute } from './routes.js';
import { hasScope, identify } from './tokens.js';

/** The settings a request is served with; `setFaults` changes them between requests. */
export interface DispatchSettings extends FaultSettings {
  /** Overrides every token's own limit when set. */
  rateLimitPerMinute: number | undefined;
  rateLimitWindowMs: number;
  rateLimitHeaders: boolean;
  hypervisor: boolean;
}

/** A request reduced to what the simulator reads; a GET body is kept because Apia merges one. */
export interface DispatchInput {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

export type DispatchOutcome = { kind: 'response'; response: Response } | { kind: 'reset' };

export interface SimulatorRequestLogEntry {
  /** Arrival time, epoch ms. */
  at: number;
  method: string;
  /** Path as received, including `/core/v1`. */
  path: string;
  /** Raw query string as received, without `?`. */
  query: string;
  /** Short sha256 prefix of the token, never the token. */
  tokenFingerprint: string | null;
  /** 0 when the connection was reset. */
  status: number;
  requestId: string;
}

export interface DispatcherDeps {
  dataset: SimulatorDataset;
  clock: Clock;
  random: () => number;
  limiter: RateLimiter;
  settings: () => DispatchSettings;
  tokenLimits: ReadonlyMap<string, number>;
  log: (entry: SimulatorRequestLogEntry) => void;
}

const NAMESPACE = /^\/core\/v1\/([a-z].*)$/i;

/** A short, stable handle for a token that never reveals it. */
export function fingerprintToken(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 12);
}

function bearerToken(headers: Headers): string | null {
  const match = /^Bearer\s+(\S.*)$/i.exec(headers.get('authorization') ?? '');
  return match?.[1]?.trim() || null;
}

function requestParams(input: DispatchInput): ParamHash {
  const query = parseNestedQuery(input.url.search.slice(1));
  const isJson = (input.headers.get('content-type') ?? '').toLowerCase().includes('application/json');
  if (!isJson || input.body.trim() === '') return query;
  let body: unknown;
  try {
    body = JSON.parse(input.body);
  } catch (error) {
    throw apiErrors.invalidJsonBody(error instanceof Error ? error.message : String(error));
  }
  return isParamHash(body) ? deepMerge(query, body as ParamHash) : query;
}

/**
 * One request through Katapult's order of checks: route → token (400/403) → rate limit
 * (429) → injected 503 → scope (403) → arguments (400) → lookups (404/403/406) → body.
 * Latency comes first and a reset fault ends the request before anything else.
 */
export function createDispatcher(deps: DispatcherDeps): (input: DispatchInput) => Promise<DispatchOutcome> {
  return async (input) => {
    const at = deps.clock.now();
    const requestId = randomUUID();
    const settings = deps.settings();
    const token = bearerToken(input.headers);
    const finish = (status: number): void =>
      deps.log({
        at,
        method: input.method,
        path: input.url.pathname,
        query: input.url.search.slice(1),
        tokenFingerprint: token === null ? null : fingerprintToken(token),
        status,
        requestId,
      });

    await delay(deps.clock, settings.latencyMs);
    const roll = rollFaults(deps.random, settings);
    if (roll.reset) {
      finish(0);
      return { kind: 'reset' };
    }

    const common: CommonHeaders = { requestId };
    let response: Response;
    try {
      response = serve(input, token, settings, roll, common, deps);
    } catch (error) {
      const apiError = error instanceof SimulatorApiError ? error : new SimulatorApiError(500, 'unhandled_exception', null);
      response = errorResponse(apiError, common);
    }
    finish(response.status);
    return { kind: 'response', response };
  };
}

function serve(
  input: DispatchInput,
  token: string | null,
  settings: DispatchSettings,
  roll: ReturnType<typeof rollFaults>,
  common: CommonHeaders,
  deps: DispatcherDeps,
): Response {
  const apiPath = NAMESPACE.exec(input.url.pathname)?.[1];
  const matched = apiPath === undefined ? null : matchRoute(apiPath);
  if (!matched || input.method.toUpperCase() !== 'GET') {
    throw apiErrors.routeNotFound(apiPath ?? input.url.pathname, input.method.toUpperCase());
  }
  if (token === null) throw apiErrors.missingApiToken();
  const identity = identify(token);
  if (!identity) throw apiErrors.invalidApiToken();

  const limit = deps.tokenLimits.get(token) ?? settings.rateLimitPerMinute ?? identity.rateLimit;
  const budget = deps.limiter.take(token, limit, settings.rateLimitWindowMs);
  if (settings.rateLimitHeaders) common.rateLimit = { permitted: budget.permitted, remaining: budget.remaining };
  if (!budget.allowed) throw apiErrors.rateLimitReached(limit);
  if (roll.failure) throw apiErrors.serviceUnavailable();

  const { route, params: routeParams } = matched;
  let body: string;
  try {
    if (!hasScope(identity, route.scopes)) throw apiErrors.scopeNotGranted(route.scopes);
    const args = parseArguments(route.endpointId, route.args, requestParams(input), routeParams);
    body = JSON.stringify(route.handle({ identity, args, dataset: deps.dataset, hypervisor: settings.hypervisor }));
  } catch (error) {
    if (!roll.malformed || !(error instanceof SimulatorApiError)) throw error;
    body = JSON.stringify({ error: { code: error.code, description: error.description, detail: error.detail } });
  }
  // A malformed answer is a 200 whatever the real outcome was: a broken proxy does not know better.
  return successResponse(roll.malformed ? malformBody(body) : body, common);
}
