import type { Clock } from '../clock.js';

export interface RateLimitDecision {
  /** False once the token has used up its window. */
  allowed: boolean;
  /** `X-RateLimit-Permitted`. */
  permitted: number;
  /** `X-RateLimit-Remaining`, never below 0. */
  remaining: number;
}

export interface RateLimiter {
  /** Counts one request for `token` against `limit` in the current window. */
  take(token: string, limit: number, windowMs: number): RateLimitDecision;
}

/**
 * Fixed windows per token, aligned to multiples of the window length since the epoch:
 * with 60 s windows the budget refills on each wall-clock minute, which is what the real
 * Remaining counter does in recorded timelines. Every authenticated request counts,
 * refused ones included (their Remaining stays at 0).
 */
export function createRateLimiter(clock: Clock): RateLimiter {
  const windows = new Map<string, { start: number; used: number }>();
  return {
    take(token, limit, windowMs) {
      const start = Math.floor(clock.now() / windowMs) * windowMs;
      let window = windows.get(token);
      if (!window || window.start !== start) {
        window = { start, used: 0 };
        windows.set(token, window);
      }
      window.used += 1;
      return { allowed: window.used <= limit, permitted: limit, remaining: Math.max(0, limit - window.used) };
    },
  };
}
