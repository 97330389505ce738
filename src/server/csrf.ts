import type { IncomingHttpHeaders } from 'node:http';

/** Headers a browser cannot add to a cross-site request without a CORS preflight. */
export const CSRF_HEADERS = ['apollo-require-preflight', 'x-apollo-operation-name', 'x-graphql-csrf', 'graphql-preflight'] as const;

/** The content types an HTML form (or a no-preflight fetch) can send across sites. */
const SIMPLE_CONTENT_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

/**
 * CSRF prevention, as Apollo Server does it. A cross-site page can make the browser send a
 * GET, or a POST with a "simple" content type, without asking us first (no preflight), and
 * the browser would attach whatever it attaches. Such a request runs only if it also carries
 * a header that forces a preflight: one of `CSRF_HEADERS`, non-empty. A request whose
 * content type is not simple (a JSON POST) has already been preflighted by any browser.
 * Tokens travel in the Authorization header, never cookies, so this is defence in depth.
 */
export function isCsrfSafe(headers: IncomingHttpHeaders): boolean {
  for (const name of CSRF_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string' ? value.trim() !== '' : Array.isArray(value) && value.some((v) => v.trim() !== '')) return true;
  }
  const contentType = headers['content-type'];
  if (!contentType) return false;
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  return !SIMPLE_CONTENT_TYPES.has(mediaType);
}

export const CSRF_MESSAGE = `This request was blocked as a possible cross-site request forgery: a GET or a POST with a form or text content type must carry a non-empty ${CSRF_HEADERS.join(', ')} header (or send JSON with Content-Type: application/json)`;
