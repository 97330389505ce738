import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { compactingGc, MIN_SLACK_BYTES, startIdleCompaction, type EdgeActivity, type OldSpaceUsage } from '../src/heap-tuning.js';
import { createFakeClock } from './helpers/fake-clock.js';

const MIB = 1024 * 1024;

function setup(idleMs = 10_000, start: OldSpaceUsage = { committed: 300 * MIB, used: 100 * MIB }, fail?: () => never) {
  const clock = createFakeClock();
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line)) } });
  const activity: EdgeActivity = { inFlight: 0, lastActiveAt: clock.now() };
  const heap: OldSpaceUsage = { ...start };
  let attempts = 0;
  let collections = 0;
  const compaction = startIdleCompaction({
    idleMs,
    clock,
    logger,
    activity: () => ({ ...activity }),
    oldSpace: () => ({ ...heap }),
    collect: () => {
      attempts++;
      fail?.();
      collections++;
      // What is left after a compaction: the live objects, a little slack.
      heap.used = Math.min(heap.used, 100 * MIB);
      heap.committed = heap.used + 8 * MIB;
    },
  });
  return { clock, lines, activity, heap, compaction, collections: () => collections, attempts: () => attempts };
}

describe('idle heap compaction', () => {
  it('compacts once the edge has been quiet for the idle time, and logs what it returned', async () => {
    const t = setup();
    await t.clock.advance(9_000);
    expect(t.collections()).toBe(0);
    await t.clock.advance(6_000);
    expect(t.collections()).toBe(1);
    const line = t.lines.find((l) => l.msg === 'heap compacted while idle');
    expect(line).toMatchObject({ oldSpaceCommittedMb: [300, 108], oldSpaceUsedMb: 100 });
    t.compaction.stop();
  });

  it('never runs while a request is in flight, however long it takes', async () => {
    const t = setup();
    t.activity.inFlight = 1;
    await t.clock.advance(120_000);
    expect(t.collections()).toBe(0);
    t.activity.inFlight = 0;
    t.activity.lastActiveAt = t.clock.now();
    await t.clock.advance(15_000);
    expect(t.collections()).toBe(1);
    t.compaction.stop();
  });

  it('runs once per quiet period, and again only after new requests', async () => {
    const t = setup();
    await t.clock.advance(15_000);
    expect(t.collections()).toBe(1);
    // Fragmented again (say, by revalidations) but no request came: still one pause per quiet period.
    t.heap.committed = 300 * MIB;
    await t.clock.advance(60_000);
    expect(t.collections()).toBe(1);
    t.activity.lastActiveAt = t.clock.now();
    await t.clock.advance(15_000);
    expect(t.collections()).toBe(2);
    t.compaction.stop();
  });

  it('leaves a heap alone when it has not grown and its unused space is not worth a pause', async () => {
    const t = setup();
    // Committed at start is the baseline (300 MiB); this shrinks below it.
    t.heap.committed = t.heap.used + MIN_SLACK_BYTES - 1;
    await t.clock.advance(30_000);
    expect(t.collections()).toBe(0);
    // Unused space large in bytes but under a quarter of the old space, and no growth past the baseline.
    t.heap.used = 230 * MIB;
    t.heap.committed = 300 * MIB;
    t.activity.lastActiveAt = t.clock.now();
    await t.clock.advance(30_000);
    expect(t.collections()).toBe(0);
    t.compaction.stop();
  });

  it('compacts a heap that grew since the last compaction even when its garbage still counts as used', async () => {
    // Right after a burst no full GC has run yet: V8 reports the garbage as used.
    const t = setup(10_000, { committed: 100 * MIB, used: 98 * MIB });
    t.heap.committed = 100 * MIB + MIN_SLACK_BYTES;
    t.heap.used = t.heap.committed - MIB;
    await t.clock.advance(15_000);
    expect(t.collections()).toBe(1);
    // The baseline is now what the compaction left (used + 8 MiB): the same growth again is needed.
    t.activity.lastActiveAt = t.clock.now();
    t.heap.committed += MIN_SLACK_BYTES - MIB;
    t.heap.used = t.heap.committed - MIB;
    await t.clock.advance(15_000);
    expect(t.collections()).toBe(1);
    t.heap.committed += MIB;
    t.heap.used = t.heap.committed - MIB;
    t.activity.lastActiveAt = t.clock.now();
    await t.clock.advance(15_000);
    expect(t.collections()).toBe(2);
    t.compaction.stop();
  });

  it('logs a collection that fails, keeps checking, and tries again only after new requests', async () => {
    const t = setup(10_000, undefined, () => {
      throw new Error('no gc here');
    });
    await t.clock.advance(15_000);
    expect(t.attempts()).toBe(1);
    expect(t.lines.find((l) => l.msg === 'idle heap compaction failed')).toMatchObject({ err: { message: 'no gc here' } });
    await t.clock.advance(60_000);
    expect(t.attempts()).toBe(1);
    expect(t.clock.pendingTimers()).toBe(1);
    t.activity.lastActiveAt = t.clock.now();
    await t.clock.advance(15_000);
    expect(t.attempts()).toBe(2);
    t.compaction.stop();
  });

  it('is off at 0, and stop() cancels its timer', async () => {
    const off = setup(0);
    expect(off.clock.pendingTimers()).toBe(0);
    await off.clock.advance(60_000);
    expect(off.collections()).toBe(0);
    const on = setup();
    expect(on.clock.pendingTimers()).toBe(1);
    on.compaction.stop();
    expect(on.clock.pendingTimers()).toBe(0);
  });
});

describe('compactingGc', () => {
  it('turns compaction on for its one collection only', () => {
    const flags: string[] = [];
    const collect = compactingGc((flag) => {
      flags.push(flag);
      setFlagsFromString(flag);
    });
    collect();
    expect(flags).toEqual(['--expose-gc', '--no-expose-gc', '--compact-on-every-full-gc', '--no-compact-on-every-full-gc']);
    // Contexts made afterwards get no global gc.
    expect(() => runInNewContext('gc')).toThrow(/gc is not defined/);
  });

  it('gives back old-space pages that an ordinary full GC keeps', () => {
    const compact = compactingGc();
    setFlagsFromString('--expose-gc');
    const plainGc = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
    const oldCommitted = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_size;
    // Long-lived objects interleaved with garbage of the same age: every page keeps a few.
    const fragment = () => {
      const all: Array<{ id: number; pad: number[] }> = [];
      for (let i = 0; i < 400_000; i++) all.push({ id: i, pad: [i, i, i, i] });
      compact(); // promote them all, on as few pages as possible
      return all.filter((_, i) => i % 40 === 0);
    };

    const keptA = fragment();
    const beforePlain = oldCommitted();
    plainGc();
    const afterPlain = oldCommitted();
    const keptB = fragment();
    const beforeCompacting = oldCommitted();
    compact();
    const afterCompacting = oldCommitted();

    expect(keptA.length + keptB.length).toBe(20_000);
    // The control: an ordinary full GC frees the objects but keeps most of their pages.
    expect(afterPlain).toBeGreaterThan(beforePlain * 0.6);
    expect(afterCompacting).toBeLessThan(beforeCompacting * 0.6);
  });
});
