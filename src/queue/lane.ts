import type { RateLimitInfo } from '../upstream/errors.js';

export interface LaneOptions {
  /** Length of the inferred rate-limit window; windows start at multiples of it since the epoch (plus `windowOffsetMs`). */
  windowMs: number;
  /**
   * How long after each boundary by this machine's clock the lane still counts in the window
   * before. Katapult's clock may be a little behind ours: calls sent just after our boundary
   * can land in its old window, and their answers must not be read as the new one's. @default 0
   */
  windowOffsetMs?: number;
  /** Calls kept back in each window. */
  budgetReserve: number;
  /**
   * Gateways sharing tokens (replicas behind one balancer). Each sees only its own calls, and the
   * others' only through Katapult's count in each answer. @default 1
   */
  replicas?: number;
}

/** The window `now` (epoch ms) falls in: windows start at multiples of `windowMs` since the epoch, plus `offsetMs`. */
export function windowIndex(now: number, windowMs: number, offsetMs = 0): number {
  return Math.floor((now - offsetMs) / windowMs);
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
  /**
   * Katapult may have counted the call: it answered, or the request may have reached it before
   * the attempt failed (a timeout, a reset, a call cancelled while running). Not for a refused
   * connection, or a call given up before it was sent.
   */
  mayHaveCounted: boolean;
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
  /** Background calls of this lane in flight. */
  backgroundInFlight: number;
  /** Calls Katapult permits per window, as last learned; null while unknown. */
  readonly permittedPerWindow: number | null;
  /** Calls this lane keeps back in each window (the configured reserve, at least replicas − 1, less than the limit). */
  readonly reserve: number;
  readonly inFlight: number;
  readonly waiting: number;
  nextBoundary(now: number): number;
  /** Epoch ms at which the window a call was sent in ends. */
  windowEndOf(ticket: SendTicket): number;
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
  return new TokenLane<E>(key, options);
}

/**
 * A class rather than a closure over locals: the gateway keeps one lane per token it has seen
 * this window or the last, so with many tokens the per-lane size is resident memory. Methods on
 * the prototype and plain number fields keep a lane to a couple of hundred bytes.
 */
class TokenLane<E> implements Lane<E> {
  readonly foreground: E[] = [];
  readonly background: E[] = [];
  backingOff = 0;
  pausedUntil = 0;
  cancelResume: (() => void) | null = null;
  lastActiveWindow = -1;
  backgroundInFlight = 0;
  /** Sequence numbers of calls sent and not yet answered (at most the per-token concurrency). */
  private readonly inFlightSeqs: number[] = [];
  private window = -1;
  private sendSeq = 0;
  private sentInWindow = 0;
  /**
   * Calls of this window sent past the wall-clock boundary that ends it (within the offset), and
   * those the window before sent past the one that began it: a Katapult whose clock is not behind
   * ours counts them in its next window.
   */
  private sentPastBoundary = 0;
  private carriedIn = 0;
  private trustFromSeq = 0;
  /**
   * The lowest trusted X-RateLimit-Remaining this window: Katapult's count only grows, so the
   * lowest figure is the furthest it is known to have got, whatever order answers come back in.
   */
  private hasReading = false;
  private readingRemaining = 0;
  /**
   * Calls answered this window whose Remaining is not part of the reading (none sent, or not
   * trusted): Katapult may have counted them after the call that gave the reading.
   */
  private unreadAnswers = 0;
  /** The last call sent when an unread answer came back: a reading from a later call includes them all. */
  private unreadBeforeSeq = 0;
  private confirmed = false;
  /**
   * Whether Katapult has sent this token its rate-limit figure: from then on only an answer that
   * carries it confirms a window. An answer without it (a proxy's error page) says nothing of
   * which window Katapult counted the call in, and a lane that took it as confirming would
   * believe the whole permitted budget, and send it, possibly into Katapult's old window.
   */
  private knowsFigure = false;
  private permitted: number | null = null;
  private readonly windowMs: number;
  private readonly offsetMs: number;
  private readonly budgetReserve: number;
  private readonly replicas: number;

  constructor(
    readonly key: string,
    options: LaneOptions,
  ) {
    this.windowMs = options.windowMs;
    this.offsetMs = options.windowOffsetMs ?? 0;
    this.replicas = options.replicas ?? 1;
    this.budgetReserve = Math.max(options.budgetReserve, this.replicas - 1);
  }

  get inFlight(): number {
    return this.inFlightSeqs.length;
  }

  get permittedPerWindow(): number | null {
    return this.permitted;
  }

  get reserve(): number {
    return this.reserveOf(this.permitted);
  }

  get waiting(): number {
    return this.foreground.length + this.background.length + this.backingOff;
  }

  nextBoundary(now: number): number {
    return this.startOf(this.windowOf(now) + 1);
  }

  windowEndOf(ticket: SendTicket): number {
    return this.startOf(ticket.window + 1);
  }

  gate(now: number, perTokenConcurrency: number): LaneGate {
    if (now < this.pausedUntil) return 'paused';
    const inFlight = this.inFlightSeqs.length;
    if (inFlight >= perTokenConcurrency) return 'busy';
    const left = this.usable(now);
    if (left !== null && left <= 0) return inFlight === 0 ? 'exhausted' : 'busy';
    if (!this.confirmed || left === null) return inFlight === 0 ? 'open' : 'busy';
    // With other replicas spending the same token, up to (replicas − 1) × concurrency of their calls
    // may be on their way unseen by any reading. Below that, one call at a time, each sent on the
    // answer to the one before; the reserve (at least replicas − 1) then covers the others' one each.
    if (this.replicas > 1 && inFlight > 0 && left < (this.replicas - 1) * perTokenConcurrency) return 'busy';
    return 'open';
  }

  sent(now: number): SendTicket {
    this.roll(now);
    this.lastActiveWindow = this.window;
    this.sendSeq++;
    this.sentInWindow++;
    if (now >= this.startOf(this.window + 1) - this.offsetMs) this.sentPastBoundary++;
    this.inFlightSeqs.push(this.sendSeq);
    return { seq: this.sendSeq, window: this.window };
  }

  learn(ticket: SendTicket, now: number, lesson: LaneLesson): boolean {
    const at = this.inFlightSeqs.indexOf(ticket.seq);
    if (at >= 0) this.inFlightSeqs.splice(at, 1);
    this.roll(now);
    const before = this.permitted;
    if (lesson.rateLimit?.permitted != null) this.permitted = lesson.rateLimit.permitted;
    if (lesson.totalPermitted !== null) this.permitted = lesson.totalPermitted;
    if (lesson.rateLimited) {
      // Whatever we believed about this window was wrong; calls already sent cannot vouch for it.
      this.hasReading = false;
      this.unreadAnswers = 0;
      this.unreadBeforeSeq = 0;
      this.confirmed = false;
      this.trustFromSeq = this.sendSeq + 1;
      return this.permitted !== before;
    }
    // Only an answer to a call of this window, sent after the last 429, speaks for this window.
    const trusted = ticket.window === this.window && ticket.seq >= this.trustFromSeq;
    const remaining = lesson.rateLimit?.remaining;
    if (remaining != null && trusted) {
      if (!this.hasReading || remaining < this.readingRemaining) this.readingRemaining = remaining;
      this.hasReading = true;
      // This call left after those answers came back, so Katapult had counted them before it.
      if (ticket.seq > this.unreadBeforeSeq) this.unreadAnswers = 0;
    } else if (at >= 0 && lesson.mayHaveCounted) {
      // Something answered, or may have been counted without answering (a timeout): counted
      // until a later reading speaks for it. A call that never reached Katapult is not.
      this.unreadAnswers++;
      this.unreadBeforeSeq = this.sendSeq;
    }
    if (remaining != null) this.knowsFigure = true;
    if (lesson.response && trusted && (remaining != null || !this.knowsFigure)) this.confirmed = true;
    return this.permitted !== before;
  }

  estimateSendAt(position: number, now: number): number {
    const per = this.perWindow();
    const start = Math.max(now, this.pausedUntil);
    // A pause that ends in a later window starts that one afresh; one that ends in this window (a
    // proxy's 429, a Retry-After) leaves only what is left of it.
    const left = this.windowOf(start) > this.windowOf(now) ? per : this.usable(now);
    if (left === null) return start;
    const available = Math.max(0, left);
    if (position < available) return start;
    const windowsLater = per === null || per <= 0 ? 1 : Math.floor((position - available) / per) + 1;
    return this.startOf(this.windowOf(start) + windowsLater);
  }

  remainingEstimate(now: number): number | null {
    const left = this.estimate(now);
    return left === null ? null : Math.max(0, left);
  }

  private windowOf(now: number): number {
    return windowIndex(now, this.windowMs, this.offsetMs);
  }

  /** Epoch ms at which `window` begins. */
  private startOf(window: number): number {
    return window * this.windowMs + this.offsetMs;
  }

  private roll(now: number): void {
    const current = this.windowOf(now);
    if (current === this.window) return;
    this.carriedIn = current === this.window + 1 ? this.sentPastBoundary : 0;
    this.sentPastBoundary = 0;
    this.window = current;
    this.sentInWindow = 0;
    this.hasReading = false;
    this.unreadAnswers = 0;
    this.unreadBeforeSeq = 0;
    this.confirmed = false;
  }

  // A tiny limit must still allow one call per window.
  private reserveOf(limit: number | null): number {
    return limit === null ? this.budgetReserve : Math.min(this.budgetReserve, Math.max(0, limit - 1));
  }

  private perWindow(): number | null {
    return this.permitted === null ? null : this.permitted - this.reserveOf(this.permitted);
  }

  /** Calls Katapult would accept this window, before the reserve; null when unknown. */
  private estimate(now: number): number | null {
    this.roll(now);
    if (this.hasReading) {
      // Every call not yet answered may be counted after the reading (calls overtake each other
      // on the way), and so may the answered ones whose Remaining was not read.
      return this.readingRemaining - this.inFlightSeqs.length - this.unreadAnswers;
    }
    return this.permitted === null ? null : this.permitted - this.sentInWindow;
  }

  private usable(now: number): number | null {
    const left = this.estimate(now);
    if (left === null) return null;
    const usable = left - this.reserveOf(this.permitted);
    // Before the window's first reading the reserve covers the calls the last window sent past the
    // boundary; where it cannot (a tiny budget has none), they may have spent Katapult's window already.
    return this.hasReading || this.permitted === null ? usable : Math.min(usable, this.permitted - this.carriedIn - this.sentInWindow);
  }
}
