import { vi } from 'vitest';
import { DEFAULT_TTL_MS, type CacheKey, type LoadContext, type ResourceKind, type RestCacheOptions } from '../../src/cache/index.js';
import { NO_RATE_LIMIT_INFO, UpstreamApiError } from '../../src/upstream/errors.js';
import type { UpstreamResult } from '../../src/upstream/http.js';
import type { FakeClock } from '../helpers/fake-clock.js';

/** Every stale window off, so a test about one window is not blurred by the other. */
export function strictOptions(clock: FakeClock, overrides: Partial<RestCacheOptions> = {}): RestCacheOptions {
  return {
    clock,
    ttlMs: { ...DEFAULT_TTL_MS },
    staleWhileRevalidateMs: 0,
    staleIfErrorMs: 0,
    ...overrides,
  };
}

export function keyOf(tokenKey: string, url: string, kind: ResourceKind = 'vm'): CacheKey {
  return { tokenKey, url, kind };
}

export function resultOf<T>(body: T, bytes = JSON.stringify(body).length): UpstreamResult<T> {
  return { status: 200, body, bytes, rateLimit: NO_RATE_LIMIT_INFO, upstreamRequestId: null };
}

/** A load that answers at once with `body`; `mock.calls` records each LoadContext. */
export function answering<T>(body: T, bytes?: number) {
  return vi.fn((_context: LoadContext) => Promise.resolve(resultOf(body, bytes)));
}

/** A load that always fails with `error`. */
export function failing(error: unknown) {
  return vi.fn((_context: LoadContext): Promise<UpstreamResult<never>> => Promise.reject(error));
}

export interface PendingLoad<T> {
  context: LoadContext;
  resolve(result: UpstreamResult<T>): void;
  reject(error: unknown): void;
}

/** A load whose every call waits until the test settles it by hand. */
export function controlled<T>() {
  const pending: PendingLoad<T>[] = [];
  const load = (context: LoadContext) =>
    new Promise<UpstreamResult<T>>((resolve, reject) => {
      pending.push({ context, resolve, reject });
    });
  return { load, pending };
}

/**
 * Whether `error` is Katapult's `original` refusal as the cache replays it: the same answer,
 * kept without a stack trace (the original's, several KB, is not kept).
 */
export const replayOf =
  (original: UpstreamApiError) =>
  (error: unknown): boolean =>
    error instanceof UpstreamApiError &&
    error.status === original.status &&
    error.code === original.code &&
    error.description === original.description &&
    JSON.stringify(error.detail) === JSON.stringify(original.detail) &&
    !/\n\s+at /.test(error.stack ?? '');
