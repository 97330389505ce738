import type { Clock } from '../clock.js';
import { createLane, windowIndex, type Lane, type LaneOptions } from './lane.js';

export interface LaneSetOptions extends LaneOptions {
  clock: Clock;
  /** A number in [0, 1), for restart jitter. */
  random: () => number;
  /** Spread of restarts after a pause. */
  restartJitterMs: number;
  /** Called when a paused lane with calls in line may start again. */
  onResume: () => void;
}

export interface LaneSet<E> {
  readonly size: number;
  /** The lane for `key`, created on first use. */
  get(key: string): Lane<E>;
  /** Lanes with calls in line, in round-robin order. */
  turns(): Iterable<Lane<E>>;
  /** Gives the lane a turn (no-op if it has one); a lane that just started a call goes to the back. */
  queueTurn(lane: Lane<E>, toBack: boolean): void;
  /** Takes the lane out of the rotation once its line is empty, with its wake-up timer. */
  dropTurn(lane: Lane<E>): void;
  /** Holds the lane until `base` plus jitter (never shortens a pause). */
  pause(lane: Lane<E>, base: number): void;
  /** Makes sure a paused lane with calls in line is woken when its pause ends. */
  armResume(lane: Lane<E>): void;
  /** Forgets lanes idle for a whole window. */
  sweep(now: number): void;
  summary(now: number): LaneSummary;
}

export interface LaneSummary {
  pausedLanes: number;
  minRemaining: number | null;
  avgRemaining: number | null;
}

/**
 * All lanes the queue knows. Round-robin is a Set in insertion order: a lane that starts a
 * call is re-inserted at the back, so a token with hundreds of calls waiting delays any
 * other token by at most one turn. Idle lanes are forgotten after a window without traffic;
 * a returning token then starts with a probe again, which costs one round trip, while
 * keeping every token ever seen would grow without bound. Pauses get random jitter so that
 * lanes paused together (every lane at a window boundary) do not restart in one burst.
 */
export function createLaneSet<E>(options: LaneSetOptions): LaneSet<E> {
  const { clock } = options;
  const lanes = new Map<string, Lane<E>>();
  const turns = new Set<Lane<E>>();
  let sweptWindow = -1;

  return {
    get size() {
      return lanes.size;
    },
    get(key) {
      let lane = lanes.get(key);
      if (!lane) {
        lane = createLane<E>(key, { windowMs: options.windowMs, windowOffsetMs: options.windowOffsetMs, budgetReserve: options.budgetReserve, replicas: options.replicas });
        lanes.set(key, lane);
      }
      return lane;
    },
    turns: () => turns,
    queueTurn(lane, toBack) {
      if (toBack) turns.delete(lane);
      turns.add(lane);
    },
    dropTurn(lane) {
      turns.delete(lane);
      lane.cancelResume?.();
      lane.cancelResume = null;
    },
    pause(lane, base) {
      if (lane.pausedUntil >= base) return;
      lane.pausedUntil = base + options.random() * options.restartJitterMs;
      lane.cancelResume?.();
      lane.cancelResume = null;
      this.armResume(lane);
    },
    armResume(lane) {
      if (lane.cancelResume || !turns.has(lane)) return;
      lane.cancelResume = clock.setTimeout(() => {
        lane.cancelResume = null;
        options.onResume();
      }, lane.pausedUntil - clock.now());
    },
    sweep(now) {
      // The lanes' own windows: "idle for a whole window" in their terms.
      const window = windowIndex(now, options.windowMs, options.windowOffsetMs);
      if (window === sweptWindow) return;
      sweptWindow = window;
      for (const [key, lane] of lanes) {
        if (lane.waiting === 0 && lane.inFlight === 0 && lane.pausedUntil <= now && lane.lastActiveWindow < window - 1) lanes.delete(key);
      }
    },
    summary(now) {
      let pausedLanes = 0;
      let known = 0;
      let sum = 0;
      let minRemaining: number | null = null;
      for (const lane of lanes.values()) {
        if (lane.pausedUntil > now) pausedLanes++;
        const remaining = lane.remainingEstimate(now);
        if (remaining === null) continue;
        known++;
        sum += remaining;
        minRemaining = minRemaining === null ? remaining : Math.min(minRemaining, remaining);
      }
      return { pausedLanes, minRemaining, avgRemaining: known > 0 ? sum / known : null };
    },
  };
}
