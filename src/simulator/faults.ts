import type { Clock } from '../clock.js';

/** The fault knobs that can change while the simulator runs. */
export interface FaultSettings {
  /** Delay before every response, in ms. */
  latencyMs: number;
  /** Share of authenticated requests answered 503 `service_unavailable` (0–1). */
  failureRatio: number;
  /** Share of requests whose connection is reset before any response (0–1). */
  resetRatio: number;
  /** Share of authenticated requests answered 200 with a cut-off, non-JSON body (0–1). */
  malformedRatio: number;
}

export interface FaultRoll {
  reset: boolean;
  failure: boolean;
  malformed: boolean;
}

/**
 * All three dice are rolled on every request, whatever the ratios, so that for a given seed
 * the n-th request always sees the same numbers even when a test changes one ratio.
 */
export function rollFaults(random: () => number, settings: FaultSettings): FaultRoll {
  const reset = random();
  const failure = random();
  const malformed = random();
  return { reset: reset < settings.resetRatio, failure: failure < settings.failureRatio, malformed: malformed < settings.malformedRatio };
}

/** What undici's fetch rejects with when the peer resets the connection. */
export function connectionResetError(): TypeError {
  const cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' });
  return new TypeError('fetch failed', { cause });
}

/** Cuts a JSON body off halfway (as a dropped upstream stream would): a strict prefix of compact JSON never parses. */
export function malformBody(body: string): string {
  return body.slice(0, Math.max(1, Math.floor(body.length / 2)));
}

export function delay(clock: Clock, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    clock.setTimeout(resolve, ms);
  });
}
