import { LOAD_TOKEN_PREFIX } from '../../src/simulator/index.js';
import { EXPECT, withSystem, type BenchRun } from '../harness/bench-run.js';
import { residentBytes } from '../harness/children.js';
import { dashboard } from '../harness/queries.js';
import type { SystemSpec } from '../harness/systems.js';
import { COLD_ORGANIZATION } from './cold.js';

/**
 * P6: the gateway's resident memory once many distinct tokens each have a few pages cached
 * (the dashboard's three REST resources: a VM list page, the data centers and the packages),
 * with the cache bounded by CACHE_MAX_BYTES. The target is RSS ≤ that bound + 150 MB.
 *
 * Right after a burst of cold queries V8's heap is sized for the allocation rate, mostly
 * garbage; its memory reducer gives that back some 30 s into idleness. So RSS is sampled every
 * second for `settleS` seconds: the lowest sample ("settled") is compared with the limit, and
 * the figure right after the load and the peak (VmHWM) are reported beside it.
 */
const HEADROOM_BYTES = 150 * 1000 * 1000;

export interface MemoryFigure {
  tokens: number;
  queriesPerToken: number;
  cacheMaxBytes: number;
  rssBeforeBytes: number | null;
  rssRightAfterBytes: number | null;
  /** The lowest sample while idle for `settleS` seconds: compared with the limit. */
  rssBytes: number | null;
  settleS: number;
  /** RSS each second while idle. */
  idleRssSamples: number[];
  /** The process's high-water mark (VmHWM) at the end of the idle time. */
  peakRssBytes: number | null;
  /** The high-water mark right after the load: where it is below `peakRssBytes`, the peak came while idle. */
  peakRightAfterBytes: number | null;
  rssLimitBytes: number;
  okQueries: number;
  failedQueries: number;
  errorCodes: Record<string, number>;
  elapsedMs: number;
  upstreamCalls: number;
  /** Memory-related series from the gateway's /metrics, when it serves them (for diagnosis). */
  metrics: Record<string, number>;
}

const MEMORY_SERIES = /(cache|heap|external|resident|rss)/i;

/** Memory-related samples from a Prometheus text page; empty when there is none. */
async function memoryMetrics(graphqlUrl: string): Promise<Record<string, number>> {
  try {
    const response = await fetch(new URL('/metrics', graphqlUrl), { signal: AbortSignal.timeout(5000) });
    if (!response.ok) return {};
    const out: Record<string, number> = {};
    for (const line of (await response.text()).split('\n')) {
      const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)$/.exec(line);
      if (match && MEMORY_SERIES.test(match[1]!) && /bytes|entries|size/i.test(match[1]!)) out[match[1]!] = Number(match[2]);
    }
    return out;
  } catch {
    return {};
  }
}

export async function runMemory(run: BenchRun, gateway: SystemSpec): Promise<MemoryFigure> {
  const { memoryTokens: tokens, cacheMaxBytes } = run.config;
  const bodies = [dashboard('katapult', COLD_ORGANIZATION)];
  return withSystem(
    run,
    gateway,
    async (system) => {
      await run.simulator.clear();
      const before = residentBytes(system.pid);
      const summary = await run.load(
        { kind: 'pool', url: system.url, concurrency: 64, tokenPrefix: `${LOAD_TOKEN_PREFIX}p6_${run.nonce}_`, tokens, bodies, expect: EXPECT.katapult },
        600_000,
      );
      const rightAfter = residentBytes(system.pid);
      const samples: number[] = [];
      let peak: number | null = rightAfter?.peak ?? null;
      for (let i = 0; i < run.config.memorySettleS; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const now = residentBytes(system.pid);
        if (now) {
          samples.push(now.rss);
          peak = now.peak;
        }
      }
      const settled = samples.length ? Math.min(...samples) : (rightAfter?.rss ?? null);
      const metrics = await memoryMetrics(system.url);
      const upstreamCalls = (await run.simulator.requests()).length;
      await run.simulator.clear();
      const figure: MemoryFigure = {
        tokens,
        queriesPerToken: bodies.length,
        cacheMaxBytes,
        rssBeforeBytes: before?.rss ?? null,
        rssRightAfterBytes: rightAfter?.rss ?? null,
        rssBytes: settled,
        settleS: run.config.memorySettleS,
        idleRssSamples: samples,
        peakRssBytes: peak,
        peakRightAfterBytes: rightAfter?.peak ?? null,
        rssLimitBytes: cacheMaxBytes + HEADROOM_BYTES,
        okQueries: summary.ok,
        failedQueries: summary.failed,
        errorCodes: summary.errorCodes,
        elapsedMs: Math.round(summary.elapsedMs),
        upstreamCalls,
        metrics,
      };
      const mb = (b: number | null | undefined) => (b == null ? '?' : `${(b / 1e6).toFixed(0)} MB`);
      run.log(
        `gateway       P6 ${tokens} tokens in ${(summary.elapsedMs / 1000).toFixed(1)} s (${summary.failed} failed, ${upstreamCalls} upstream calls): RSS ${mb(figure.rssBeforeBytes)} → ${mb(figure.rssRightAfterBytes)} → ${mb(figure.rssBytes)} lowest in ${figure.settleS} s idle (peak ${mb(figure.peakRssBytes)}, ${mb(figure.peakRightAfterBytes)} by the end of the load), limit ${mb(figure.rssLimitBytes)}`,
      );
      return figure;
    },
    { CACHE_MAX_BYTES: String(cacheMaxBytes) },
  );
}
