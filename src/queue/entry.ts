import type { UpstreamResult } from '../upstream/http.js';
import type { Lane } from './lane.js';
import type { QueuePriority, QueueTask } from './types.js';

/**
 * Where a call is: in its lane's line, sleeping before a retry, in flight, between two of
 * those (an attempt just ended or a backoff just elapsed), or answered.
 */
export type EntryState = 'waiting' | 'backoff' | 'running' | 'between' | 'settled';

/** One caller's call, from `add` until its promise settles. */
export interface Entry {
  readonly task: QueueTask<unknown>;
  readonly lane: Lane<Entry>;
  /** Only ever moves later (`onLaterDeadline`). */
  deadline: number;
  /** Background until a caller who waits for the call joins it (see `onForeground`). */
  priority: QueuePriority;
  /** May spend what is held back from background work (see `QueueAddOptions.spendsHeldBack`). */
  readonly spendsHeldBack: boolean;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (result: UpstreamResult<unknown>) => void;
  readonly reject: (error: unknown) => void;
  state: EntryState;
  /** Attempts made; a 429 gives its attempt back. */
  attempts: number;
  /** When it last joined a line, for the wait it reports on start. */
  queuedAt: number;
  controller: AbortController | null;
  cancelDeadline: () => void;
  cancelBackoff: (() => void) | null;
  onAbort: () => void;
}

export function lineOf(entry: Entry): Entry[] {
  return entry.priority === 'foreground' ? entry.lane.foreground : entry.lane.background;
}

/** Calls its lane will send before this one: foreground first, then background. */
export function positionOf(entry: Entry): number {
  const { lane } = entry;
  return entry.priority === 'foreground' ? lane.foreground.indexOf(entry) : lane.foreground.length + lane.background.indexOf(entry);
}

export function lineLength(lane: Lane<Entry>): number {
  return lane.foreground.length + lane.background.length;
}
