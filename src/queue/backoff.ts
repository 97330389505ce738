export interface BackoffOptions {
  /** Ceiling of the first retry's delay; it doubles per attempt. */
  baseDelayMs: number;
  /** No retry waits longer than this. */
  maxDelayMs: number;
  /** A number in [0, 1). */
  random: () => number;
}

/**
 * Delay before retrying after failed attempt number `attempt` (1-based). Full jitter
 * (anywhere between 0 and the exponential ceiling) rather than a fixed ladder: when Katapult
 * hiccups, every lane retries at once, and a fixed ladder would send those retries back as
 * one synchronised burst.
 */
export function fullJitterDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return options.random() * ceiling;
}
