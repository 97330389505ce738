import type { QueueTask } from '../../src/queue/index.js';
import { NO_RATE_LIMIT_INFO, UpstreamApiError, type UpstreamError } from '../../src/upstream/errors.js';
import type { UpstreamResult } from '../../src/upstream/http.js';
import type { FakeClock } from '../helpers/fake-clock.js';

export interface FakeKatapultOptions {
  /** Calls each token may make per window. @default 20 */
  permitted?: number;
  /** @default 60000 */
  windowMs?: number;
  /** Send X-RateLimit-* on every response. @default true */
  headers?: boolean;
  /** Time each call takes. @default 10 */
  latencyMs?: number;
  /** How far Katapult's clock is behind ours (negative: ahead): its windows turn this much later. @default 0 */
  clockBehindMs?: number;
}

export interface FakeCall {
  token: string;
  at: number;
  status: number;
  attempt: number;
}

/**
 * A tiny stand-in for Katapult's per-token fixed-window limiter, driven by the fake clock:
 * counts each call when it arrives, answers after `latencyMs`, and logs every call. A
 * scripted failure (`failNext`) replaces the next answers without touching the budget.
 */
export function createFakeKatapult(clock: FakeClock, options: FakeKatapultOptions = {}) {
  const permitted = options.permitted ?? 20;
  const windowMs = options.windowMs ?? 60_000;
  const headers = options.headers ?? true;
  const latencyMs = options.latencyMs ?? 10;
  const behind = options.clockBehindMs ?? 0;
  const used = new Map<string, { window: number; count: number }>();
  const calls: FakeCall[] = [];
  const scripted: Array<() => UpstreamError> = [];

  function call(token: string, attempt: number, signal: AbortSignal): Promise<UpstreamResult<{ ok: true }>> {
    const window = Math.floor((clock.now() - behind) / windowMs);
    const state = used.get(token);
    const count = state && state.window === window ? state.count + 1 : 1;
    used.set(token, { window, count });
    // Its Date, by its own clock, cut to the second as HTTP dates are.
    const serverDateMs = Math.floor((clock.now() - behind) / 1000) * 1000;
    const rateLimit = headers ? { permitted, remaining: Math.max(0, permitted - count), retryAfterMs: null, serverDateMs } : NO_RATE_LIMIT_INFO;
    const failure = scripted.shift();
    let outcome: UpstreamResult<{ ok: true }> | UpstreamError;
    if (failure) outcome = failure();
    else if (count > permitted) {
      outcome = new UpstreamApiError(429, 'rate_limit_reached', 'You have reached the rate limit for this type of request', {
        total_permitted: permitted,
      });
    } else outcome = { status: 200, body: { ok: true }, bytes: 11, rateLimit, upstreamRequestId: null };
    // The budget's headers, and a Retry-After a scripted failure brings of its own.
    if (outcome instanceof UpstreamApiError) outcome.rateLimit = { ...rateLimit, retryAfterMs: outcome.rateLimit?.retryAfterMs ?? rateLimit.retryAfterMs };
    calls.push({ token, at: clock.now(), status: 'body' in outcome ? 200 : ((outcome as { status?: number }).status ?? 0), attempt });
    return new Promise((resolve, reject) => {
      const cancel = clock.setTimeout(() => ('body' in outcome ? resolve(outcome) : reject(outcome)), latencyMs);
      signal.addEventListener('abort', () => {
        cancel();
        reject(new DOMException('aborted', 'AbortError'));
      });
    });
  }

  return {
    calls,
    /** A queue task that calls the fake as `token`. */
    task: (token: string): QueueTask<{ ok: true }> => ({ attempt, signal }) => call(token, attempt, signal),
    /** The next `times` calls fail with `make()` instead of answering. */
    failNext(times: number, make: () => UpstreamError) {
      for (let i = 0; i < times; i++) scripted.push(make);
    },
    /** Calls per (window index) for a token, and how many were 429s. */
    perWindow(token: string) {
      const windows = new Map<number, { sent: number; rateLimited: number }>();
      for (const c of calls.filter((c) => c.token === token)) {
        const w = Math.floor((c.at - behind) / windowMs);
        const entry = windows.get(w) ?? { sent: 0, rateLimited: 0 };
        entry.sent++;
        if (c.status === 429) entry.rateLimited++;
        windows.set(w, entry);
      }
      return [...windows.values()];
    },
  };
}
