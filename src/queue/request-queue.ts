import { CircuitOpenError, QueueFullError, RateLimitedError, UpstreamCancelledError, isUpstreamError } from '../upstream/errors.js';
import type { UpstreamResult } from '../upstream/http.js';
import { fullJitterDelay } from './backoff.js';
import { createCircuit } from './circuit.js';
import { lineLength, lineOf, positionOf, type Entry } from './entry.js';
import type { Lane, SendTicket } from './lane.js';
import { createLaneSet } from './lanes.js';
import { readOutcome, type Outcome } from './outcome.js';
import { DEFAULT_WINDOW_OFFSET_MS, resolveQueueOptions, type RequestQueueOptions } from './queue-options.js';
import type { QueueAddOptions, QueuePriority, QueueRejectReason, QueueStats, QueueTask, RequestQueue } from './types.js';

export type { RequestQueueOptions } from './queue-options.js';
export type { CircuitState } from './circuit.js';
export type * from './types.js';

const PRIORITIES: readonly QueuePriority[] = ['foreground', 'background'];

/** Seconds a client should wait, rounded up so that retrying then is never too early. */
const secondsUntil = (at: number, now: number) => Math.max(1, Math.ceil((at - now) / 1000));

/** How long a token's lane waits after a 429 that is not Katapult's and names no Retry-After. */
export const FOREIGN_RATE_LIMIT_PAUSE_MS = 1000;

/**
 * The share of a window's budget background work (refreshing stale entries) leaves to
 * foreground requests: refreshes nobody waits for must not spend what a user's next request
 * needs. Past it, a refresh is refused (RATE_LIMITED) rather than kept waiting, where it would
 * count against the queue's caps for nothing: the entry stays served stale, and its next read
 * asks again. A token's check is not held back (see `QueueAddOptions.spendsHeldBack`).
 */
export const BACKGROUND_HOLDS_BACK = 0.25;

/** Background calls in flight per token, at most: a burst of refreshes must not take every slot. */
export const BACKGROUND_PER_TOKEN = 2;

/**
 * Every upstream call goes through here. Scheduling policy, in order of precedence: an
 * open circuit stops everything; a lane (token) starts nothing while paused or out of
 * budget (lane.ts decides); foreground calls go before background calls gateway-wide; among
 * lanes with startable work the choice is round-robin (lanes.ts). A call that cannot be
 * sent before its deadline is rejected as soon as that is known, not when it expires,
 * so the caller can serve something stale or tell its user when to come back.
 */
export function createRequestQueue(options: RequestQueueOptions): RequestQueue {
  const config = resolveQueueOptions(options);
  const { clock, random, hooks } = config;
  const circuit = createCircuit({
    clock,
    failureThreshold: config.circuitFailureThreshold,
    openMs: config.circuitOpenMs,
    onChange: (state) => emit(() => hooks.onCircuitChange?.(state)),
  });
  const backoff = { baseDelayMs: config.retryBaseDelayMs, maxDelayMs: config.retryMaxDelayMs, random };
  const lanes = createLaneSet<Entry>({
    windowMs: config.windowMs,
    budgetReserve: config.budgetReserve,
    replicas: config.replicas,
    windowOffsetMs: config.windowOffsetMs,
    clock,
    random,
    restartJitterMs: config.restartJitterMs,
    onResume: () => pump(),
  });
  const live = new Set<Entry>();
  let idleWaiters: Array<() => void> = [];
  let queued = 0;
  /** Refreshes in line that nobody waits for (see `displaceable`). */
  let refreshesWaiting = 0;
  let inFlight = 0;
  let closed = false;
  let pumping = false;
  let pumpAgain = false;

  // A metrics hook that throws must not corrupt the scheduler's bookkeeping.
  function emit(fn: () => void): void {
    try {
      fn();
    } catch {
      /* ignored on purpose */
    }
  }
  const depth = () => ({ queued, inFlight });

  const circuitOpenError = () => new CircuitOpenError(secondsUntil(clock.now() + circuit.retryInMs(), clock.now()));
  const rateLimitedError = (sendAt: number, now: number) =>
    new RateLimitedError(secondsUntil(sendAt, now), "The token's Katapult budget does not allow this call before its deadline");
  const deadlineError = (sendAt: number, now: number) =>
    new RateLimitedError(secondsUntil(sendAt, now), "The request's deadline passed before this call could be sent", 'deadline');
  const heldBackError = (sendAt: number, now: number) =>
    new RateLimitedError(secondsUntil(sendAt, now), "The token's Katapult budget left this window is kept for requests, not background refreshes");

  function leaveLine(entry: Entry): void {
    const line = lineOf(entry);
    line.splice(line.indexOf(entry), 1);
    queued--;
    if (isRefresh(entry)) refreshesWaiting--;
    if (lineLength(entry.lane) === 0) lanes.dropTurn(entry.lane);
  }

  function enqueue(entry: Entry, front: boolean): void {
    if (closed) return settle(entry, { error: new UpstreamCancelledError() }, 'cancelled');
    if (circuit.state() === 'open') return settle(entry, { error: circuitOpenError() }, 'circuit_open');
    const line = lineOf(entry);
    if (front) line.unshift(entry);
    else line.push(entry);
    entry.state = 'waiting';
    entry.queuedAt = clock.now();
    queued++;
    if (isRefresh(entry)) refreshesWaiting++;
    lanes.queueTurn(entry.lane, false);
  }

  /** A background call someone now waits for: it joins the end of its lane's foreground line. */
  function promote(entry: Entry): void {
    if (entry.priority === 'foreground' || entry.state === 'settled') return;
    if (entry.state !== 'waiting') {
      // Running or backing off: any attempt after this one goes in the foreground line.
      entry.priority = 'foreground';
      return;
    }
    leaveLine(entry);
    entry.priority = 'foreground';
    // Out of every line before going back in one; its wait is counted from when it first queued.
    entry.state = 'between';
    const queuedAt = entry.queuedAt;
    enqueue(entry, false);
    entry.queuedAt = queuedAt;
    pump();
  }

  function settle(entry: Entry, outcome: Outcome, reason?: QueueRejectReason): void {
    if (entry.state === 'settled') return;
    if (entry.state === 'waiting') leaveLine(entry);
    else if (entry.state === 'backoff') {
      entry.cancelBackoff?.();
      entry.lane.backingOff--;
      queued--;
    } else if (entry.state === 'running') entry.controller?.abort();
    entry.state = 'settled';
    live.delete(entry);
    entry.cancelDeadline();
    entry.signal?.removeEventListener('abort', entry.onAbort);
    if (reason) emit(() => hooks.onRejected?.(reason));
    if ('value' in outcome) entry.resolve(outcome.value);
    else entry.reject(outcome.error);
    emit(() => hooks.onSettled?.(depth()));
    checkIdle();
  }

  /** Rejects the calls in this lane's line that its budget cannot reach before their deadlines. */
  function failFast(lane: Lane<Entry>): void {
    const now = clock.now();
    let position = 0;
    for (const entry of [...lane.foreground, ...lane.background]) {
      const sendAt = lane.estimateSendAt(position, now);
      if (sendAt > entry.deadline) settle(entry, { error: rateLimitedError(sendAt, now) }, 'rate_limited');
      else position++;
    }
  }

  /** A background call nobody waits for that may wait for the next window (not a token's check). */
  const isRefresh = (entry: Entry) => entry.priority === 'background' && !entry.spendsHeldBack;

  const newestRefresh = (line: readonly Entry[]) => line.findLast(isRefresh);

  /**
   * The refresh a call someone waits for may take the place of in a full line: for a token's
   * line, its newest; for the gateway's, the newest of the token with the most background calls in line.
   */
  function displaceable(lane?: Lane<Entry>): Entry | undefined {
    if (refreshesWaiting === 0) return undefined;
    if (lane) return newestRefresh(lane.background);
    let found: Entry | undefined;
    let most = 0;
    for (const other of lanes.turns()) {
      if (other.background.length <= most) continue;
      const refresh = newestRefresh(other.background);
      if (refresh) [found, most] = [refresh, other.background.length];
    }
    return found;
  }

  function rejectWaiting(error: () => unknown, reason: QueueRejectReason): void {
    for (const entry of [...live]) {
      if (entry.state === 'waiting' || entry.state === 'backoff') settle(entry, { error: error() }, reason);
    }
  }

  /** Whether background work of this lane would spend what is held back for foreground calls (see BACKGROUND_HOLDS_BACK). */
  function holdsBack(lane: Lane<Entry>, now: number): boolean {
    const permitted = lane.permittedPerWindow;
    const left = lane.remainingEstimate(now);
    if (permitted === null || left === null) return false;
    // At least one background call a window, whatever the reserve.
    return left <= Math.min(Math.ceil(permitted * BACKGROUND_HOLDS_BACK) + lane.reserve, permitted - 1);
  }

  /**
   * Whether this lane's background line may start its head now. A call that may spend what is
   * held back (a token's check) goes first, whatever came back to the front of the line before
   * it (a retry, a call a 429 put back); refreshes the budget now holds back are refused.
   */
  function backgroundMayStart(lane: Lane<Entry>, now: number): boolean {
    const line = lane.background;
    const urgent = line.findIndex((entry) => entry.spendsHeldBack);
    if (urgent > 0) line.unshift(...line.splice(urgent, 1));
    if (line[0]!.spendsHeldBack) return true;
    if (holdsBack(lane, now)) {
      const sendAt = lane.nextBoundary(now);
      for (const entry of [...line]) settle(entry, { error: heldBackError(sendAt, now) }, 'held_back');
      return false;
    }
    return lane.backgroundInFlight < BACKGROUND_PER_TOKEN;
  }

  function nextLane(priority: QueuePriority): Lane<Entry> | undefined {
    const now = clock.now();
    for (const lane of lanes.turns()) {
      const line = priority === 'foreground' ? lane.foreground : lane.background;
      if (line.length === 0 || (priority === 'background' && (lane.foreground.length > 0 || !backgroundMayStart(lane, now)))) continue;
      const gate = lane.gate(now, config.perTokenConcurrency);
      if (gate === 'open') return lane;
      if (gate === 'exhausted') {
        lanes.pause(lane, lane.nextBoundary(now));
        failFast(lane);
      } else if (gate === 'paused') lanes.armResume(lane);
    }
    return undefined;
  }

  function pump(): void {
    if (pumping) {
      pumpAgain = true;
      return;
    }
    pumping = true;
    try {
      do {
        pumpAgain = false;
        for (const priority of PRIORITIES) {
          while (inFlight < config.globalConcurrency && circuit.canStart()) {
            const lane = nextLane(priority);
            if (!lane) break;
            start(lane, priority);
          }
        }
      } while (pumpAgain);
    } finally {
      pumping = false;
    }
  }

  function start(lane: Lane<Entry>, priority: QueuePriority): void {
    const entry = (priority === 'foreground' ? lane.foreground : lane.background)[0]!;
    leaveLine(entry);
    if (lineLength(lane) > 0) lanes.queueTurn(lane, true);
    const now = clock.now();
    entry.state = 'running';
    entry.attempts++;
    inFlight++;
    const ticket = lane.sent(now);
    if (priority === 'background') lane.backgroundInFlight++;
    const probe = circuit.started();
    const controller = new AbortController();
    entry.controller = controller;
    emit(() => hooks.onStarted?.({ waitMs: now - entry.queuedAt, priority }));
    let attempt: Promise<UpstreamResult<unknown>>;
    try {
      attempt = Promise.resolve(entry.task({ signal: controller.signal, attempt: entry.attempts }));
    } catch (error) {
      attempt = Promise.reject(error);
    }
    attempt.then(
      (value) => attemptDone(entry, ticket, probe, priority, { value }),
      (error: unknown) => attemptDone(entry, ticket, probe, priority, { error }),
    );
  }

  function attemptDone(entry: Entry, ticket: SendTicket, probe: boolean, startedAs: QueuePriority, outcome: Outcome): void {
    const { lane } = entry;
    const now = clock.now();
    inFlight--;
    if (startedAs === 'background') lane.backgroundInFlight--;
    entry.controller = null;
    if (entry.state === 'running') entry.state = 'between';
    const { rateLimited, foreignRateLimit, lesson, health } = readOutcome(outcome);
    const learnedLimit = lane.learn(ticket, now, lesson);
    const { rateLimit } = lesson;
    if (rateLimit && (rateLimit.permitted !== null || rateLimit.remaining !== null)) {
      emit(() => hooks.onBudget?.({ permitted: rateLimit.permitted, remaining: rateLimit.remaining }));
      if (rateLimit.remaining !== null && rateLimit.serverDateMs != null) noticeUpstreamClock(lane, ticket, rateLimit.serverDateMs, now);
    }
    if (circuit.settled(health, probe)) rejectWaiting(circuitOpenError, 'circuit_open');

    if (rateLimited) {
      emit(() => hooks.onRateLimitResponse?.());
      // A Retry-After is followed up to one of Katapult's windows (a CDN's hour must not stop a
      // token for an hour); a proxy's 429 without one pauses briefly, since its limits are
      // often per second and Katapult's window says nothing about them. Katapult's own 429 is
      // about the window the call was sent in: an answer arriving after that window ended
      // pauses for no more than the restart jitter, and the new window starts with its probe.
      const retryAfterMs = rateLimit?.retryAfterMs;
      const until =
        retryAfterMs != null ? now + Math.min(retryAfterMs, config.windowMs) : foreignRateLimit ? now + FOREIGN_RATE_LIMIT_PAUSE_MS : lane.windowEndOf(ticket);
      lanes.pause(lane, until);
      // Spending budget we were not told about is not the call's fault: it goes back to the
      // front of its line and keeps its attempt.
      if (entry.state === 'between') {
        entry.attempts--;
        enqueue(entry, true);
      }
      failFast(lane);
      lanes.armResume(lane);
    } else {
      if (entry.state === 'between') conclude(entry, outcome, now);
      if (learnedLimit) failFast(lane);
    }
    pump();
    checkIdle();
  }

  /**
   * Compares an answer's `Date` with the window its call was counted in. Only reported: a `Date`
   * may come from a proxy on another clock, or from one of several servers, so the lanes keep to
   * this machine's clock, and the offset is the operator's to set. A clock off by more than half
   * a window either way is not one an offset can follow (windows turn at multiples of their
   * length), and more likely a stamp that is not Katapult's counter's: not reported.
   */
  function noticeUpstreamClock(lane: Lane<Entry>, ticket: SendTicket, serverDateMs: number, now: number): void {
    const windowStart = lane.windowEndOf(ticket) - config.windowMs;
    const turn = windowStart - config.windowOffsetMs;
    // Katapult's clock read below Date + 1 s as it answered (`Date` is cut to the second), and
    // at most `now` by ours: the lag is at most now − Date.
    const atMostMs = now - serverDateMs;
    if (serverDateMs + 1000 <= turn) {
      // The call left after our window began, and Katapult still read the window before: it
      // counted the call in its old window. Its clock is behind by more than the offset.
      if (atMostMs <= config.windowMs / 2) emit(() => hooks.onUpstreamClockBehind?.({ atLeastMs: windowStart - (serverDateMs + 1000), atMostMs }));
    } else if (serverDateMs >= turn + config.windowMs && config.windowOffsetMs > DEFAULT_WINDOW_OFFSET_MS && atMostMs + DEFAULT_WINDOW_OFFSET_MS < config.windowOffsetMs && atMostMs > -config.windowMs / 2) {
      // Counted in our window while Katapult had already turned to the next: its window began
      // before ours by the offset less the lag. Calls in between read its new window as our old one.
      emit(() => hooks.onWindowOffsetTooLarge?.({ lagAtMostMs: atMostMs }));
    }
  }

  /** Answers the caller, or schedules a retry of a retryable failure if attempts and deadline allow. */
  function conclude(entry: Entry, outcome: Outcome, now: number): void {
    if ('value' in outcome) return settle(entry, outcome);
    const { error } = outcome;
    if (!isUpstreamError(error) || !error.retryable || entry.attempts >= config.retryMaxAttempts || closed) {
      return settle(entry, outcome);
    }
    // A failing Katapult (a 503) that says when to come back is not asked again before then.
    const asked = error.rateLimit?.retryAfterMs ?? 0;
    const delayMs = Math.max(fullJitterDelay(entry.attempts, backoff), Math.min(asked, config.windowMs));
    if (now + delayMs >= entry.deadline) return settle(entry, outcome);
    if (circuit.state() === 'open') return settle(entry, { error: circuitOpenError() }, 'circuit_open');
    emit(() => hooks.onRetry?.({ attempt: entry.attempts + 1, delayMs }));
    entry.state = 'backoff';
    entry.lane.backingOff++;
    queued++;
    entry.cancelBackoff = clock.setTimeout(() => {
      entry.cancelBackoff = null;
      entry.lane.backingOff--;
      queued--;
      entry.state = 'between';
      enqueue(entry, true);
      pump();
    }, delayMs);
  }

  function onDeadline(entry: Entry): void {
    if (entry.state !== 'waiting') return;
    const now = clock.now();
    const sendAt = entry.lane.estimateSendAt(positionOf(entry), now);
    // Past the deadline, with the budget allowing the call by now: the token's own calls held its slots.
    settle(entry, { error: sendAt > now ? rateLimitedError(sendAt, now) : deadlineError(sendAt, now) }, 'deadline');
  }

  function checkIdle(): void {
    if (queued > 0 || inFlight > 0 || idleWaiters.length === 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  function add<T>(task: QueueTask<T>, addOptions: QueueAddOptions): Promise<UpstreamResult<T>> {
    const now = clock.now();
    const { deadline, signal } = addOptions;
    const priority = addOptions.priority ?? 'foreground';
    const refuse = (error: Error, reason: QueueRejectReason) => {
      emit(() => hooks.onRejected?.(reason));
      return Promise.reject(error);
    };
    if (closed || signal?.aborted) return refuse(new UpstreamCancelledError(), 'cancelled');
    if (circuit.state() === 'open') return refuse(circuitOpenError(), 'circuit_open');
    lanes.sweep(now);
    const lane = lanes.get(addOptions.laneKey);
    // A call that may spend what is held back (a token's check) goes before the other background work.
    const urgent = priority === 'background' && addOptions.spendsHeldBack === true;
    const position = priority === 'foreground' || urgent ? lane.foreground.length : lineLength(lane);
    const sendAt = lane.estimateSendAt(position, now);
    if (deadline <= now) return refuse(deadlineError(sendAt, now), 'deadline');
    // A full line makes room for a call someone waits for by refusing a refresh nobody does.
    const displaces = priority === 'foreground' || urgent;
    const tokenFull = lane.waiting >= config.maxQueuedPerToken;
    const forToken = tokenFull && displaces ? displaceable(lane) : undefined;
    if (tokenFull && !forToken) {
      return refuse(new QueueFullError('token', secondsUntil(lane.estimateSendAt(lane.waiting, now), now)), 'queue_full');
    }
    const globalFull = queued >= config.maxQueuedGlobal;
    const forGlobal = globalFull && displaces ? (forToken ?? displaceable()) : undefined;
    if (globalFull && !forGlobal) return refuse(new QueueFullError('global', 1), 'queue_full');
    if (sendAt > deadline) return refuse(rateLimitedError(sendAt, now), 'rate_limited');
    if (priority === 'background' && !urgent && holdsBack(lane, now)) return refuse(heldBackError(lane.nextBoundary(now), now), 'held_back');
    if (forToken) settle(forToken, { error: new QueueFullError('token', secondsUntil(lane.estimateSendAt(lane.waiting, now), now)) }, 'queue_full');
    if (forGlobal && forGlobal !== forToken) settle(forGlobal, { error: new QueueFullError('global', 1) }, 'queue_full');

    return new Promise<UpstreamResult<T>>((resolve, reject) => {
      const entry: Entry = {
        task: task as QueueTask<unknown>,
        lane,
        deadline,
        priority,
        spendsHeldBack: addOptions.spendsHeldBack ?? false,
        signal,
        resolve: resolve as (result: UpstreamResult<unknown>) => void,
        reject,
        state: 'between',
        attempts: 0,
        queuedAt: now,
        controller: null,
        cancelDeadline: () => {},
        cancelBackoff: null,
        onAbort: () => settle(entry, { error: new UpstreamCancelledError() }, 'cancelled'),
      };
      let cancelTimer = clock.setTimeout(() => onDeadline(entry), deadline - now);
      const stopHearing = addOptions.onLaterDeadline?.((later) => {
        if (entry.state === 'settled' || !Number.isFinite(later) || later <= entry.deadline) return;
        entry.deadline = later;
        cancelTimer();
        cancelTimer = clock.setTimeout(() => onDeadline(entry), later - clock.now());
      });
      const stopWaitingForeground = priority === 'background' ? addOptions.onForeground?.(() => promote(entry)) : undefined;
      entry.cancelDeadline = () => {
        cancelTimer();
        stopHearing?.();
        stopWaitingForeground?.();
      };
      signal?.addEventListener('abort', entry.onAbort, { once: true });
      live.add(entry);
      enqueue(entry, urgent);
      emit(() => hooks.onEnqueued?.(depth()));
      pump();
    });
  }

  return {
    add,
    get size() {
      return queued;
    },
    get pending() {
      return inFlight;
    },
    circuitState: () => circuit.state(),
    unsentAtDeadline(laneKey) {
      const now = clock.now();
      const lane = lanes.get(laneKey);
      const sendAt = lane.estimateSendAt(lineLength(lane), now);
      return lane.estimateSendAt(0, now) > now ? rateLimitedError(sendAt, now) : deadlineError(sendAt, now);
    },
    stats(): QueueStats {
      return { lanes: lanes.size, waiting: queued, inFlight, ...lanes.summary(clock.now()), circuit: circuit.state() };
    },
    onIdle() {
      if (queued === 0 && inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    close() {
      closed = true;
      rejectWaiting(() => new UpstreamCancelledError(), 'cancelled');
    },
  };
}
