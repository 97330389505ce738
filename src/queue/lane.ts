import type { RateLimitInfo } from '../upstream/errors.js';

export interface LaneOptions {
  /** Length of the inferred rate-limit window; windows start at multiples of it since the epoch. */
  windowMs: number;
  /** Calls kept back in each window. */
  budgetReserve: number;
}

/** Identifies one sent call so its response can be matched to the window it was counted in. */
export interface SendTicket {
  readonly seq: number;
  readonly window: number;
}

/** What one finished attempt taught the lane. */
export interface LaneLesson {
  /** Headers of the response, or null when no response arrived. */
  rateLimit: RateLimitInfo | null;
  /** `detail.total_permitted` of a 429. */
  totalPermitted: number | null;
  /** A response arrived (any status); a network failure or timeout is not one. */
  response: boolean;
  /** The response was a 429. */
  rateLimited: boolean;
}

/** Why a lane may not start a call right now. */
export type LaneGate = 'open' | 'paused' | 'busy' | 'exhausted';

export interface Lane<E> {
  readonly key: string;
  readonly foreground: E[];
  readonly background: E[];
  /** Entries sleeping through a retry backoff (still counted as waiting). */
  backingOff: number;
  /** No call starts before this epoch ms (a 429 or a spent budget). */
  pausedUntil: number;
  /** Cancels the timer that wakes the scheduler when the pause ends. */
  cancelResume: (() => void) | null;
  /** Window of the last send, for evicting lanes nobody uses. */
  lastActiveWindow: number;
  readonly inFlight: number;
  readonly waiting: number;
  nextBoundary(now: number): number;
  gate(now: number, perTokenConcurrency: number): LaneGate;
  sent(now: number): SendTicket;
  /** Returns true when the lane learned its permitted budget for the first time or it changed. */
  learn(ticket: SendTicket, now: number, lesson: LaneLesson): boolean;
  /** Epoch ms at which the call at `position` in this lane's line could be sent, by budget alone. */
  estimateSendAt(position: number, now: number): number;
  /** Estimated calls Katapult would still accept this window, or null when unknown. */
  remainingEstimate(now: number): number | null;
}

/**
 * One token's line of calls and what the gateway has learned about its budget.
 *
 * Budget policy. Katapult reports `X-RateLimit-Remaining` after every call, but that is a
 * snapshot: calls sent after the one that reported it will consume more. So the usable
 * budget is the newest reading (by send order, since responses can arrive out of order),
 * minus every call sent after it, minus calls still in flight from before it (they may not
 * have been counted yet; assuming they were not only ever costs a little throughput), minus
 * the reserve. Without headers, the budget is `permitted` (learned from a 429's
 * `total_permitted`) minus the calls we sent this window. A reading only counts in the
 * window its call was sent in, and each window starts with one call alone whose response
 * is trusted before the rest go, because Katapult's minute may not start exactly when ours
 * does. A lane that knows neither headers nor `permitted` also sends one call at a time, so
 * a headerless upstream costs at most one 429 before the lane learns its limit.
 */
export function createLane<E>(key: string, options: LaneOptions): Lane<E> {
  const { windowMs } = options;
  const foreground: E[] = [];
  const background: E[] = [];
  const inFlightSeqs = new Set<number>();
  let window = -1;
  let sendSeq = 0;
  let sentInWindow = 0;
  let trustFromSeq = 0;
  let reading: { seq: number; remaining: number } | null = null;
  let confirmed = false;
  let permitted: number | null = null;

  const windowOf = (now: number) => Math.floor(now / windowMs);

  const roll = (now: number) => {
    const current = windowOf(now);
    if (current === window) return;
    window = current;
    sentInWindow = 0;
    reading = null;
    confirmed = false;
  };

  // A tiny limit must still allow one call per window.
  const reserveOf = (limit: number | null) =>
    limit === null ? options.budgetReserve : Math.min(options.budgetReserve, Math.max(0, limit - 1));

  const perWindow = () => (permitted === null ? null : permitted - reserveOf(permitted));

  /** Calls Katapult would accept this window, before the reserve; null when unknown. */
  const estimate = (now: number): number | null => {
    roll(now);
    if (reading) {
      let olderInFlight = 0;
      for (const seq of inFlightSeqs) if (seq < reading.seq) olderInFlight++;
      return reading.remaining - (sendSeq - reading.seq) - olderInFlight;
    }
    return permitted === null ? null : permitted - sentInWindow;
  };

  const usable = (now: number): number | null => {
    const left = estimate(now);
    return left === null ? null : left - reserveOf(permitted);
  };

  return {
    key,
    foreground,
    background,
    backingOff: 0,
    pausedUntil: 0,
    cancelResume: null,
    lastActiveWindow: -1,
    get inFlight() {
      return inFlightSeqs.size;
    },
    get waiting() {
      return foreground.length + background.length + this.backingOff;
    },
    nextBoundary: (now) => (windowOf(now) + 1) * windowMs,

    gate(now, perTokenConcurrency) {
      if (now < this.pausedUntil) return 'paused';
      if (inFlightSeqs.size >= perTokenConcurrency) return 'busy';
      const left = usable(now);
      if (left !== null && left <= 0) return inFlightSeqs.size === 0 ? 'exhausted' : 'busy';
      if (!confirmed || left === null) return inFlightSeqs.size === 0 ? 'open' : 'busy';
      return 'open';
    },

    sent(now) {
      roll(now);
      this.lastActiveWindow = window;
      sendSeq++;
      sentInWindow++;
      inFlightSeqs.add(sendSeq);
      return { seq: sendSeq, window };
    },

    learn(ticket, now, lesson) {
      inFlightSeqs.delete(ticket.seq);
      roll(now);
      const before = permitted;
      if (lesson.rateLimit?.permitted != null) permitted = lesson.rateLimit.permitted;
      if (lesson.totalPermitted !== null) permitted = lesson.totalPermitted;
      if (lesson.rateLimited) {
        // Whatever we believed about this window was wrong; calls already sent cannot vouch for it.
        reading = null;
        confirmed = false;
        trustFromSeq = sendSeq + 1;
      } else if (ticket.window === window && ticket.seq >= trustFromSeq) {
        const remaining = lesson.rateLimit?.remaining;
        if (remaining != null && (!reading || reading.seq < ticket.seq)) reading = { seq: ticket.seq, remaining };
        if (lesson.response) confirmed = true;
      }
      return permitted !== before;
    },

    estimateSendAt(position, now) {
      const per = perWindow();
      const start = Math.max(now, this.pausedUntil);
      // After a pause the lane starts a fresh window; otherwise it has what is left of this one.
      const left = start > now ? per : usable(now);
      if (left === null) return start;
      const available = Math.max(0, left);
      if (position < available) return start;
      const windowsLater = per === null || per <= 0 ? 1 : Math.floor((position - available) / per) + 1;
      return (windowOf(start) + windowsLater) * windowMs;
    },

    remainingEstimate(now) {
      const left = estimate(now);
      return left === null ? null : Math.max(0, left);
    },
  };
}
