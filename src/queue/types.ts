import type { RateLimitedError } from '../upstream/errors.js';
import type { UpstreamResult } from '../upstream/http.js';
import type { CircuitState } from './circuit.js';

export type QueuePriority = 'foreground' | 'background';

/**
 * Why the queue itself turned a call away (as opposed to Katapult failing it). `rate_limited`:
 * the token's budget could not reach the call before its deadline, known in advance;
 * `held_back`: a background refresh would spend what the budget keeps for foreground calls;
 * `deadline`: the deadline passed while the call waited (or before it was added). All three
 * reject with `RateLimitedError`.
 */
export type QueueRejectReason = 'rate_limited' | 'held_back' | 'queue_full' | 'circuit_open' | 'cancelled' | 'deadline';

/**
 * Observation points for metrics. All optional; they receive aggregates only, never a
 * token or lane key, so they can become metric labels safely. A hook that throws is ignored.
 */
export interface QueueHooks {
  onEnqueued?(depth: { queued: number; inFlight: number }): void;
  onStarted?(info: { waitMs: number; priority: QueuePriority }): void;
  onSettled?(depth: { queued: number; inFlight: number }): void;
  /** A 429 arrived from upstream. */
  onRateLimitResponse?(): void;
  onBudget?(info: { permitted: number | null; remaining: number | null }): void;
  onRejected?(reason: QueueRejectReason): void;
  onRetry?(info: { attempt: number; delayMs: number }): void;
  onCircuitChange?(state: CircuitState): void;
  /**
   * An answer's `Date` showed Katapult's clock still in the window before the one the call was
   * sent in: its clock is behind ours by more than the window offset, by between the two figures.
   */
  onUpstreamClockBehind?(lag: { atLeastMs: number; atMostMs: number }): void;
  /**
   * An answer's `Date` showed Katapult's clock already in the window after the one the call was
   * counted in, and a window offset above the default larger than the lag needs: Katapult's
   * clock is behind ours by at most `lagAtMostMs` (negative: ahead).
   */
  onWindowOffsetTooLarge?(lag: { lagAtMostMs: number }): void;
}

export interface QueueAttempt {
  /** Aborted when the caller gives up while this attempt is in flight. */
  signal: AbortSignal;
  /** 1-based; a call put back after a 429 keeps its number. */
  attempt: number;
}

export type QueueTask<T> = (attempt: QueueAttempt) => Promise<UpstreamResult<T>>;

export interface QueueAddOptions {
  /** The lane: the token's HMAC key (never the raw token). */
  laneKey: string;
  /** Epoch ms by which the caller needs an answer. */
  deadline: number;
  /**
   * For a call several callers share: hands the queue a way to hear of a later deadline (a
   * caller that can wait longer joined), so the call is held until then instead of being
   * refused at the first caller's. Returns the function that stops it. Earlier ones are ignored.
   */
  onLaterDeadline?(listener: (deadline: number) => void): () => void;
  /** @default 'foreground' */
  priority?: QueuePriority;
  /**
   * A background call that may spend the part of a window's budget held back from background
   * work (see BACKGROUND_HOLDS_BACK): one that must not wait for the next window. @default false
   */
  spendsHeldBack?: boolean;
  /**
   * For a background call several callers share: hands the queue a way to hear that a caller
   * who is waiting for it joined (a refresh the client asked for, a read past the stale
   * window), so the call moves to the foreground and stops waiting behind every other token's
   * foreground work. Returns the function that stops it.
   */
  onForeground?(listener: () => void): () => void;
  /** Aborting it drops the call if not yet sent (and aborts the attempt in flight). */
  signal?: AbortSignal;
}

export interface QueueStats {
  /** Lanes (tokens) the queue currently remembers. */
  lanes: number;
  /** Calls waiting, including those sleeping before a retry. */
  waiting: number;
  /** Attempts in flight. */
  inFlight: number;
  /** Lanes holding back until a window boundary or after a 429. */
  pausedLanes: number;
  /** Lowest estimated remaining budget among lanes that know theirs, or null if none does. */
  minRemaining: number | null;
  /** Mean estimated remaining budget among lanes that know theirs, or null if none does. */
  avgRemaining: number | null;
  circuit: CircuitState;
}

export interface RequestQueue {
  add<T>(task: QueueTask<T>, options: QueueAddOptions): Promise<UpstreamResult<T>>;
  /** Calls waiting (not yet sent, or sleeping before a retry). */
  readonly size: number;
  /** Attempts in flight. */
  readonly pending: number;
  circuitState(): CircuitState;
  /**
   * The error for a call of this token still unsent at its request's deadline (one shared by
   * other requests stays in line for them): RATE_LIMITED, with the seconds until a call added
   * now could be sent, and whether the budget held it or the deadline passed first.
   */
  unsentAtDeadline(laneKey: string): RateLimitedError;
  /** Aggregate view for /ready and metrics: lanes, waiting, in flight, paused lanes, min/avg learned remaining. */
  stats(): QueueStats;
  /** Resolves once nothing is waiting or in flight. */
  onIdle(): Promise<void>;
  /** Rejects everything waiting (shutdown); calls in flight finish. */
  close(): void;
}
