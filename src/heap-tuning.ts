import { setFlagsFromString } from 'node:v8';
import type { GatewayConfig } from './config.js';

/**
 * Process-wide V8 settings derived from the configuration; only the entry point calls this.
 *
 * Why the heap growth factor: left adaptive, V8 lets the old generation grow up to 4× what
 * survived the last full GC while allocation is fast. A burst of cold requests (each keeps its
 * state alive across an upstream round trip, so it reaches the old generation) then leaves
 * hundreds of MB committed in pages that also hold long-lived cache entries, and V8 does not
 * give them back while idle. A fixed, small factor collects sooner and keeps resident memory
 * close to the cache plus the live heap; the warm paths allocate little that survives, so they
 * barely notice. Returns the flags it set, for the start-up log.
 */
export function applyHeapTuning(runtime: GatewayConfig['runtime'], setFlags: (flags: string) => void = setFlagsFromString): string[] {
  const flags: string[] = [];
  // 0 is V8's own "unset" for this flag: its adaptive factor stays.
  if (runtime.heapGrowthPercent > 0) flags.push(`--heap-growing-percent=${runtime.heapGrowthPercent}`);
  for (const flag of flags) setFlags(flag);
  return flags;
}
