import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { applyHeapTuning } from '../src/heap-tuning.js';

function flagsFor(env: Record<string, string>): string[] {
  const set: string[] = [];
  const returned = applyHeapTuning(loadConfig(env).runtime, (flag) => set.push(flag));
  expect(returned).toEqual(set);
  return set;
}

describe('applyHeapTuning', () => {
  it('caps the heap growth factor at 100 % (twice the live heap) by default', () => {
    expect(loadConfig({}).runtime.heapGrowthPercent).toBe(100);
    expect(flagsFor({})).toEqual(['--heap-growing-percent=100']);
  });

  it('passes the configured percentage to V8', () => {
    expect(flagsFor({ HEAP_GROWTH_PERCENT: '75' })).toEqual(['--heap-growing-percent=75']);
  });

  it('sets nothing for 0, leaving V8 its adaptive factor', () => {
    expect(flagsFor({ HEAP_GROWTH_PERCENT: '0' })).toEqual([]);
  });

  it('compacts after 10 s of quiet by default; 0 turns it off; an hour at most', () => {
    expect(loadConfig({}).runtime.idleCompactMs).toBe(10_000);
    expect(loadConfig({ HEAP_IDLE_COMPACT_MS: '0' }).runtime.idleCompactMs).toBe(0);
    expect(() => loadConfig({ HEAP_IDLE_COMPACT_MS: '3600001' })).toThrow(/HEAP_IDLE_COMPACT_MS: expected an integer from 0 to 3600000/);
  });

  it('refuses values outside 0–300 with the variable named', () => {
    for (const value of ['-5', '301', '12.5', 'lots']) {
      let error: unknown;
      try {
        loadConfig({ HEAP_GROWTH_PERCENT: value });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([`HEAP_GROWTH_PERCENT: expected an integer from 0 to 300, got ${JSON.stringify(value)}`]);
    }
  });
});
