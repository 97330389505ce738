import type { Clock } from '../clock.js';
import type { QueueHooks } from './types.js';

export interface RequestQueueOptions {
  /** Source of time for windows, pauses, deadlines and backoff. */
  clock: Clock;
  /** @default Math.random */
  random?: () => number;
  /** Max upstream calls in flight for the whole gateway. @default 64 */
  globalConcurrency?: number;
  /** Max in flight per token. @default 6 */
  perTokenConcurrency?: number;
  /** Max waiting per token before immediate rejection. @default 500 */
  maxQueuedPerToken?: number;
  /** Max waiting overall. @default 10000 */
  maxQueuedGlobal?: number;
  /** Budget kept back in each window; at least `replicas − 1` (see `LaneOptions.replicas`). @default 2 */
  budgetReserve?: number;
  /** Gateways spending the same tokens (see `LaneOptions.replicas`). @default 1 */
  replicas?: number;
  /** Inferred window length; windows begin at multiples of it since the epoch, plus `windowOffsetMs`. @default 60000 */
  windowMs?: number;
  /** How long after each multiple of `windowMs` (by `clock`) a lane's window begins (see DEFAULT_WINDOW_OFFSET_MS); at most half a window. @default 250 */
  windowOffsetMs?: number;
  /** Spread of restarts after a pause/window boundary. @default 1000 */
  restartJitterMs?: number;
  /** Attempts per call, the first included. @default 3 */
  retryMaxAttempts?: number;
  /** Ceiling of the first retry's random delay; it doubles per attempt. @default 100 */
  retryBaseDelayMs?: number;
  /** Ceiling of any retry's random delay. @default 2000 */
  retryMaxDelayMs?: number;
  /** Consecutive failed attempts (503/reset/timeout/malformed) that open the circuit. @default 8 */
  circuitFailureThreshold?: number;
  /** How long an open circuit fails calls fast before letting one probe through. @default 5000 */
  circuitOpenMs?: number;
  /** Metrics observation points. @default {} */
  hooks?: QueueHooks;
}

export type ResolvedQueueOptions = Required<RequestQueueOptions>;

/**
 * How long after a window's boundary (by this machine's clock) lanes still count in the window
 * before, and a lane held for the boundary starts again (before its jitter). Katapult's clock may
 * be behind ours: a call landing in its old window finds the budget spent, and read as the new
 * window's, held the lane for a whole window more. Covers skews up to this much; a Katapult
 * further behind is reported (see `QueueHooks.onUpstreamClockBehind`) and needs a larger offset.
 */
export const DEFAULT_WINDOW_OFFSET_MS = 250;

const DEFAULTS = {
  globalConcurrency: 64,
  perTokenConcurrency: 6,
  maxQueuedPerToken: 500,
  maxQueuedGlobal: 10_000,
  budgetReserve: 2,
  replicas: 1,
  windowMs: 60_000,
  windowOffsetMs: DEFAULT_WINDOW_OFFSET_MS,
  restartJitterMs: 1000,
  retryMaxAttempts: 3,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 2000,
  circuitFailureThreshold: 8,
  circuitOpenMs: 5000,
} as const;

/** Which numeric options must be at least 1 (the rest may be 0). */
const AT_LEAST_ONE = new Set<keyof typeof DEFAULTS>([
  'globalConcurrency',
  'perTokenConcurrency',
  'maxQueuedPerToken',
  'maxQueuedGlobal',
  'windowMs',
  'replicas',
  'retryMaxAttempts',
  'circuitFailureThreshold',
]);

/** Fills in defaults and throws one error naming every bad value. */
export function resolveQueueOptions(options: RequestQueueOptions): ResolvedQueueOptions {
  const problems: string[] = [];
  const numbers = { ...DEFAULTS } as Record<keyof typeof DEFAULTS, number>;
  for (const name of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    const value = options[name];
    if (value === undefined) continue;
    const min = AT_LEAST_ONE.has(name) ? 1 : 0;
    if (!Number.isInteger(value) || value < min) problems.push(`${name}: expected an integer ≥ ${min}, got ${String(value)}`);
    else numbers[name] = value;
  }
  if (numbers.retryBaseDelayMs > numbers.retryMaxDelayMs) {
    problems.push(`retryBaseDelayMs: expected at most retryMaxDelayMs (${numbers.retryMaxDelayMs}), got ${numbers.retryBaseDelayMs}`);
  }
  if (numbers.windowOffsetMs > numbers.windowMs / 2) {
    problems.push(`windowOffsetMs: expected at most half of windowMs (${Math.floor(numbers.windowMs / 2)}), got ${numbers.windowOffsetMs}`);
  }
  if (problems.length > 0) throw new TypeError(`Invalid request queue options:\n  ${problems.join('\n  ')}`);
  return { ...numbers, clock: options.clock, random: options.random ?? Math.random, hooks: options.hooks ?? {} };
}
