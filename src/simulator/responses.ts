import { createHash } from 'node:crypto';
import type { SimulatorApiError } from './api-error.js';

/** Headers every response carries: the request id and, for an authenticated request, its budget. */
export interface CommonHeaders {
  requestId: string;
  /** Absent for unauthenticated requests or when the knob hides them. */
  rateLimit?: { permitted: number; remaining: number };
}

function baseHeaders(common: CommonHeaders): Headers {
  const headers = new Headers({ 'Content-Type': 'application/json', 'X-Request-Id': common.requestId });
  if (common.rateLimit) {
    headers.set('X-RateLimit-Permitted', String(common.rateLimit.permitted));
    headers.set('X-RateLimit-Remaining', String(common.rateLimit.remaining));
  }
  return headers;
}

/**
 * A 2xx as the real API sends it: revalidate-always caching and a weak Etag over the body.
 * Nothing here answers `If-None-Match` with 304, since no recording shows the server doing so.
 */
export function successResponse(body: string, common: CommonHeaders, status = 200): Response {
  const headers = baseHeaders(common);
  headers.set('Cache-Control', 'max-age=0, private, must-revalidate');
  headers.set('Etag', `W/"${createHash('md5').update(body).digest('hex')}"`);
  headers.set('Vary', 'Accept-Encoding');
  headers.set('Access-Control-Allow-Origin', '*');
  return new Response(body, { status, headers });
}

/** Apia's error envelope: `no-cache`, `X-Api-Schema: json-error`, no Etag, and never a Retry-After. */
export function errorResponse(error: SimulatorApiError, common: CommonHeaders): Response {
  const headers = baseHeaders(common);
  headers.set('Cache-Control', 'no-cache');
  headers.set('X-Api-Schema', 'json-error');
  headers.set('Access-Control-Allow-Origin', '*');
  const envelope = { error: { code: error.code, description: error.description, detail: error.detail } };
  return new Response(JSON.stringify(envelope), { status: error.status, headers });
}
