import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock } from './clock.js';
import type { GatewayConfig } from './config.js';
import type { Logger } from './logger.js';

/**
 * Process-wide V8 settings derived from the configuration; only the entry point calls this.
 *
 * Why the heap growth factor: left adaptive, V8 lets the old generation grow up to 4× what
 * survived the last full GC while allocation is fast. A burst of cold requests (each keeps its
 * state alive across an upstream round trip, so it reaches the old generation) then leaves
 * hundreds of MB committed in pages that also hold long-lived cache entries, and V8 does not
 * give them back while idle. A fixed factor of 2 (the default) bounds what a burst leaves
 * committed; idle compaction (below) then returns it. Smaller factors keep even less committed
 * but mean more full GCs while the cache is being filled: at 30 % the varied-query load ran
 * three times as many. Returns the flags it set, for the start-up log.
 */
export function applyHeapTuning(runtime: GatewayConfig['runtime'], setFlags: (flags: string) => void = setFlagsFromString): string[] {
  const flags: string[] = [];
  // 0 is V8's own "unset" for this flag: its adaptive factor stays.
  if (runtime.heapGrowthPercent > 0) flags.push(`--heap-growing-percent=${runtime.heapGrowthPercent}`);
  for (const flag of flags) setFlags(flag);
  return flags;
}

/** How busy the process is: work in flight (requests, Katapult calls), and when the edge's last request ended (clock ms). */
export interface EdgeActivity {
  inFlight: number;
  lastActiveAt: number;
}

/** The old generation's committed and used bytes. */
export interface OldSpaceUsage {
  committed: number;
  used: number;
}

export interface IdleCompactionOptions {
  /** Quiet time after the last request before compacting; 0 turns compaction off (HEAP_IDLE_COMPACT_MS). */
  idleMs: number;
  activity: () => EdgeActivity;
  clock: Clock;
  logger: Logger;
  /** @default the old space's figures from V8 */
  oldSpace?: () => OldSpaceUsage;
  /** One full GC that compacts every page. @default V8's own, see compactingGc */
  collect?: () => void;
}

/**
 * Worth a pause: old space that grew by at least this much since the last compaction (or
 * start-up), or that holds at least this much (and a quarter of itself) committed but unused.
 * "Used" counts garbage no full GC has collected yet, and a quiet process runs none, so right
 * after a burst the growth is what shows.
 */
export const MIN_SLACK_BYTES = 32 * 1024 * 1024;

function v8OldSpace(): OldSpaceUsage {
  const old = getHeapSpaceStatistics().find((space) => space.space_name === 'old_space');
  return { committed: old?.space_size ?? 0, used: old?.space_used_size ?? 0 };
}

/**
 * A full GC that evacuates every page it can. V8's ordinary full GCs only move objects off
 * the most fragmented pages, and its memory reducer does not run here, so pages that keep a
 * few long-lived cache entries among freed garbage stay committed indefinitely. `gc` is
 * reached without a command-line flag: `--expose-gc` set at run time installs it in contexts
 * created afterwards. The compaction flag is set only for this one collection.
 */
export function compactingGc(setFlags: (flags: string) => void = setFlagsFromString): () => void {
  setFlags('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // Only this function gets it: contexts and workers created later see no global `gc`.
  setFlags('--no-expose-gc');
  return () => {
    setFlags('--compact-on-every-full-gc');
    try {
      gc();
    } finally {
      setFlags('--no-compact-on-every-full-gc');
    }
  };
}

/**
 * Gives memory back after a burst: once nothing is in flight, the edge has had no request for
 * `idleMs`, and the old generation has grown or holds unused space (see MIN_SLACK_BYTES), runs
 * one compacting GC (a pause of a few hundred ms on a heap of a few hundred MB) and logs what
 * it returned. At most once per quiet period: it waits for a request before considering
 * another. Only the entry point starts it; GC is process-wide.
 */
export function startIdleCompaction(options: IdleCompactionOptions): { stop(): void } {
  if (options.idleMs <= 0) return { stop() {} };
  const { clock, logger, activity } = options;
  const oldSpace = options.oldSpace ?? v8OldSpace;
  let collect = options.collect;
  // The quiet period already compacted (by its lastActiveAt), so one idle stretch costs one pause.
  let compactedFor = Number.NaN;
  // Committed old space after the last compaction (or at start): growth past it is worth one.
  let baseline = oldSpace().committed;
  let cancel: (() => void) | null = null;

  const check = () => {
    const { inFlight, lastActiveAt } = activity();
    const quietFor = clock.now() - lastActiveAt;
    if (inFlight > 0 || quietFor < options.idleMs || lastActiveAt === compactedFor) return;
    const before = oldSpace();
    const slack = before.committed - before.used;
    const grown = before.committed - baseline >= MIN_SLACK_BYTES;
    if (!grown && (slack < MIN_SLACK_BYTES || slack < before.committed / 4)) return;
    // Set first: a collection that throws is not retried until the next quiet period.
    compactedFor = lastActiveAt;
    collect ??= compactingGc();
    const started = performance.now();
    collect();
    const after = oldSpace();
    baseline = after.committed;
    logger.info(
      { pauseMs: Math.round(performance.now() - started), oldSpaceCommittedMb: [before.committed, after.committed].map((b) => Math.round(b / 1048576)), oldSpaceUsedMb: Math.round(after.used / 1048576) },
      'heap compacted while idle',
    );
  };

  const schedule = () => {
    // Half the idle time between looks: compaction starts between idleMs and 1.5 × idleMs after the last request.
    cancel = clock.setTimeout(() => {
      try {
        check();
      } catch (error) {
        logger.warn({ err: error }, 'idle heap compaction failed');
      }
      schedule();
    }, Math.max(1, Math.floor(options.idleMs / 2)));
  };
  schedule();
  return {
    stop() {
      cancel?.();
      cancel = null;
    },
  };
}
