import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { compactingGc, MIN_SLACK_BYTES, startIdleCompaction, type EdgeActivity, type OldSpaceUsage } from '../src/heap-tuning.js';
import { createFakeClock } from './helpers/fake-clock.js';

const MIB = 1024 * 1024;

function setup(idleMs = 10_000) {
  const clock = createFakeClock();
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line)) } });
  const activity: EdgeActivity = { inFlight: 0, lastActiveAt: clock.now() };
  const heap: OldSpaceUsage = { committed: 300 * MIB, used: 100 * MIB };
  let collections = 0;
  const compaction = startIdleCompaction({
    idleMs,
    clock,
    logger,
    activity: () => ({ ...activity }),
    oldSpace: () => ({ ...heap }),
    collect: () => {
      collections++;
      heap.committed = heap.used + 8 * MIB;
    },
  });
  return { clock, lines, activity, heap, compaction, collections: () => collections };
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

  it('leaves a heap alone when the unused committed space is too small to be worth a pause', async () => {
    const t = setup();
    t.heap.committed = t.heap.used + MIN_SLACK_BYTES - 1;
    await t.clock.advance(30_000);
    // Large in bytes but under a quarter of the old space.
    t.heap.used = 1000 * MIB;
    t.heap.committed = 1200 * MIB;
    t.activity.lastActiveAt = t.clock.now();
    await t.clock.advance(30_000);
    expect(t.collections()).toBe(0);
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
      if (flag === '--expose-gc') compactingGc(); // really expose gc, so the fresh context has it
    });
    collect();
    expect(flags).toEqual(['--expose-gc', '--compact-on-every-full-gc', '--no-compact-on-every-full-gc']);
  });

  it('gives back old-space pages that an ordinary full GC keeps', () => {
    const collect = compactingGc();
    const oldCommitted = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_size;
    // Long-lived objects interleaved with garbage of the same age: every page keeps a few.
    let all: Array<{ id: number; pad: number[] }> = [];
    for (let i = 0; i < 400_000; i++) all.push({ id: i, pad: [i, i, i, i] });
    collect(); // promote them all
    const kept = all.filter((_, i) => i % 40 === 0);
    all = [];
    const before = oldCommitted();
    collect();
    const after = oldCommitted();
    expect(kept.length).toBe(10_000);
    expect(after).toBeLessThan(before * 0.6);
  });
});
