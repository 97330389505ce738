import type { Clock } from '../clock.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** How an attempt ended, as far as Katapult's health is concerned. */
export type AttemptHealth = 'healthy' | 'failed' | 'unknown';

export interface CircuitOptions {
  clock: Clock;
  /** Consecutive failed attempts, across all lanes, that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one probe may go through. */
  openMs: number;
  /** Told about every state change. */
  onChange: (state: CircuitState) => void;
}

export interface Circuit {
  /** Current state; an open circuit whose time is up becomes half-open when asked. */
  state(): CircuitState;
  /** Milliseconds until an open circuit lets a probe through (0 when not open). */
  retryInMs(): number;
  /** Whether an attempt may start now. */
  canStart(): boolean;
  /** Records a start; returns whether the attempt is the half-open probe. */
  started(): boolean;
  /** Records how an attempt ended; returns true when this opened the circuit. */
  settled(health: AttemptHealth, probe: boolean): boolean;
}

/**
 * A circuit breaker over all upstream calls. Half-open is entered lazily (when someone asks)
 * rather than by timer: while open every waiting call has already been rejected, so there
 * is nothing to wake, and an idle gateway keeps no timer pending.
 */
export function createCircuit(options: CircuitOptions): Circuit {
  const { clock } = options;
  let state: CircuitState = 'closed';
  let failures = 0;
  let openedAt = 0;
  let probeInFlight = false;

  const move = (next: CircuitState) => {
    state = next;
    options.onChange(next);
  };

  const current = (): CircuitState => {
    if (state === 'open' && clock.now() >= openedAt + options.openMs) {
      probeInFlight = false;
      move('half-open');
    }
    return state;
  };

  const open = () => {
    failures = 0;
    openedAt = clock.now();
    probeInFlight = false;
    move('open');
  };

  return {
    state: current,
    retryInMs: () => (current() === 'open' ? openedAt + options.openMs - clock.now() : 0),
    canStart() {
      const now = current();
      return now === 'closed' || (now === 'half-open' && !probeInFlight);
    },
    started() {
      if (current() !== 'half-open') return false;
      probeInFlight = true;
      return true;
    },
    settled(health, probe) {
      const now = current();
      if (health === 'healthy') {
        failures = 0;
        if (now === 'half-open') move('closed');
        return false;
      }
      if (health === 'failed') {
        if (now === 'closed' && ++failures >= options.failureThreshold) {
          open();
          return true;
        }
        if (now === 'half-open' && probe) {
          open();
          return true;
        }
        return false;
      }
      // A 429 or a cancelled probe says nothing about Katapult's health: free the slot
      // so the next call can probe instead.
      if (probe && now === 'half-open') probeInFlight = false;
      return false;
    },
  };
}
