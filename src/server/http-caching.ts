import type { RequestStats } from '../data/request-scope.js';

export interface HttpCachingInput {
  status: number;
  body: Buffer;
  stats: RequestStats;
  /** Epoch ms, on the same clock as `stats.freshUntil`. */
  now: number;
}

/**
 * `Cache-Control` for an answer to a GET query. A client may keep an answer only as long as
 * every REST entry it was built from stays fresh in our cache, and only for itself
 * (`private`: the answer depends on the token). Answers with errors, or built from stale
 * entries, must not be kept at all. An answer that read nothing from Katapult has no natural
 * lifetime, so the client revalidates it every time (cheaply, by ETag).
 */
export function cacheControlFor({ status, body, stats, now }: HttpCachingInput): string {
  // A false "errors" match (the text inside a string) only costs a client-side cache miss.
  if (status !== 200 || stats.uncacheable || body.includes('"errors"')) return 'no-store';
  if (!Number.isFinite(stats.freshUntil)) return 'private, no-cache';
  return `private, max-age=${Math.max(0, Math.floor((stats.freshUntil - now) / 1000))}`;
}

/**
 * Whether a request's `Cache-Control` asks for data fetched now: `no-cache`, or `max-age=0`
 * (RFC 9111: no stored answer is young enough), which is what a browser sends when its user
 * reloads a page, and what many HTTP clients send to force a fetch. A positive `max-age` is
 * not read: entries are only as old as their TTLs allow, which a client cannot see.
 */
export function asksForRefresh(cacheControl: string | null | undefined): boolean {
  if (!cacheControl) return false;
  for (const part of cacheControl.split(',')) {
    const directive = part.trim().toLowerCase();
    if (directive === 'no-cache' || /^max-age\s*=\s*"?0+"?$/.test(directive)) return true;
  }
  return false;
}

/** Whether an `If-None-Match` header names `etag` (weak comparison, as RFC 9110 asks for GET). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = opaque(etag);
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === wanted);
}
