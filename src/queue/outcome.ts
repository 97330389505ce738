import { UpstreamApiError, UpstreamMalformedError, UpstreamPageSizeError, isRateLimitAnswer, isUpstreamError, mayHaveReachedKatapult, type RateLimitInfo } from '../upstream/errors.js';
import type { UpstreamResult } from '../upstream/http.js';
import type { AttemptHealth } from './circuit.js';
import type { LaneLesson } from './lane.js';

/** How one attempt ended: the task's result or what it threw. */
export type Outcome = { value: UpstreamResult<unknown> } | { error: unknown };

export interface OutcomeReading {
  /** Katapult answered 429 rate_limit_reached, or something in front of it answered 429 in its own words. */
  rateLimited: boolean;
  /** The 429 was not Katapult's JSON: a limit in front of it, whose windows Katapult's do not describe. */
  foreignRateLimit: boolean;
  /** What the lane learns about the token's budget. */
  lesson: LaneLesson;
  /** What the circuit learns about Katapult's health. */
  health: AttemptHealth;
}

function totalPermittedOf(error: UpstreamApiError): number | null {
  const value = error.detail.total_permitted;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : null;
}

/**
 * Reads an attempt's outcome for the budget and the circuit. A 429 says nothing about
 * Katapult's health, nor does an error that is not an upstream one (the caller's abort, a
 * bug in the task); any other answer to the request, even a 404, shows Katapult is up. A 429
 * that is not Katapult's JSON (a proxy or CDN in front of it limiting the rate) is still a
 * rate limit: waiting for its Retry-After (or the window) is right, retrying at once is not.
 */
export function readOutcome(outcome: Outcome): OutcomeReading {
  if ('value' in outcome) {
    return { rateLimited: false, foreignRateLimit: false, health: 'healthy', lesson: { rateLimit: outcome.value.rateLimit, totalPermitted: null, response: true, mayHaveCounted: true, rateLimited: false } };
  }
  const { error } = outcome;
  const rateLimit: RateLimitInfo | null = isUpstreamError(error) ? error.rateLimit : null;
  const rateLimited = isRateLimitAnswer(error);
  const foreignRateLimit = rateLimited && error instanceof UpstreamMalformedError;
  // Katapult answered, in its own JSON, even when the answer is refused (pages of another size).
  const answered = error instanceof UpstreamApiError || error instanceof UpstreamPageSizeError;
  const response = answered || error instanceof UpstreamMalformedError;
  let health: AttemptHealth = 'unknown';
  if (isUpstreamError(error) && !rateLimited) health = error.retryable ? 'failed' : answered ? 'healthy' : 'unknown';
  return {
    rateLimited,
    foreignRateLimit,
    health,
    lesson: {
      rateLimit,
      totalPermitted: rateLimited && error instanceof UpstreamApiError ? totalPermittedOf(error) : null,
      response,
      mayHaveCounted: response || mayHaveReachedKatapult(error),
      rateLimited,
    },
  };
}
