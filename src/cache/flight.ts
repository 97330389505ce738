import { UpstreamCancelledError } from '../upstream/errors.js';
import type { SharedDeadline } from './types.js';

/** How a shared load ended; never a rejected promise, so an unobserved failure cannot go unhandled. */
export type FlightOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** One load shared by every concurrent caller of the same key. */
export interface Flight<T> {
  /** Aborts once every waiter has left (never, for a kept-alive flight). */
  readonly signal: AbortSignal;
  /** Settles after the task, and whatever it stores, has finished. */
  readonly outcome: Promise<FlightOutcome<T>>;
  /**
   * Joins as a waiter. When `signal` aborts this waiter alone is rejected with
   * `UpstreamCancelledError` at once; the load continues while anyone else waits.
   */
  wait(signal?: AbortSignal): Promise<FlightOutcome<T>>;
}

export interface StartFlightOptions {
  /** Keep the load running even when no waiter is left (a background refresh). @default false */
  keepAlive?: boolean;
  /** Called once when the last waiter leaves and the load is aborted. */
  onAbandon?(): void;
}

export function startFlight<T>(task: (signal: AbortSignal) => Promise<T>, options: StartFlightOptions = {}): Flight<T> {
  const controller = new AbortController();
  let waiters = 0;
  let settled = false;

  // Calling the task inside the executor turns a synchronous throw into a failed outcome.
  const outcome = new Promise<T>((resolve) => resolve(task(controller.signal))).then(
    (value): FlightOutcome<T> => ({ ok: true, value }),
    (error: unknown): FlightOutcome<T> => ({ ok: false, error }),
  );
  void outcome.then(() => {
    settled = true;
  });

  const wait = (signal?: AbortSignal): Promise<FlightOutcome<T>> => {
    if (signal?.aborted) return Promise.reject(new UpstreamCancelledError());
    waiters++;
    // A waiter that cannot cancel stays to the end, so the count never drops for it.
    if (!signal) return outcome;
    return new Promise((resolve, reject) => {
      const leave = () => {
        waiters--;
        reject(new UpstreamCancelledError());
        if (waiters === 0 && !settled && !options.keepAlive && !controller.signal.aborted) {
          controller.abort(new UpstreamCancelledError());
          options.onAbandon?.();
        }
      };
      signal.addEventListener('abort', leave, { once: true });
      void outcome.then((result) => {
        signal.removeEventListener('abort', leave);
        resolve(result);
      });
    });
  };

  return { signal: controller.signal, outcome, wait };
}

/** A `SharedDeadline` and the means to move it: `extend` with a caller's deadline when it joins. */
export function createSharedDeadline(at: number | undefined): SharedDeadline & { extend(at: number | undefined): void } {
  const listeners = new Set<(at: number) => void>();
  const deadline = {
    at: at ?? Number.NEGATIVE_INFINITY,
    extend(later: number | undefined) {
      if (later === undefined || !(later > deadline.at)) return;
      deadline.at = later;
      for (const listener of listeners) listener(later);
    },
    onLater(listener: (at: number) => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
  return deadline;
}
