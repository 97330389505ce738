import { LOAD_TOKEN_PREFIX } from '../../src/simulator/index.js';
import { EXPECT_LIST, withSystem, type BenchRun } from '../harness/bench-run.js';
import { distinctListCall } from '../harness/queries.js';
import type { SystemId, SystemSpec } from '../harness/systems.js';

/**
 * P5: a burst of ten times a token's budget, each query needing its own REST call, against a
 * simulator whose windows are short so the test ends in seconds. The gateway is told the same
 * window length. Counted from the simulator's log: 429s, and the most calls in any one window.
 */
const ORGANIZATION = 'globex';
const DEFAULT_WINDOW_MS = 60_000;

export interface BurstLimitFigure {
  permittedPerWindow: number;
  windowMs: number;
  queries: number;
  upstreamCalls: number;
  upstream429: number;
  peakCallsPerWindow: number;
  okResponses: number;
  failedResponses: number;
  /** GraphQL error codes the client saw, with counts. */
  clientErrors: Record<string, number>;
  elapsedMs: number;
}

export async function runRateLimit(run: BenchRun, systems: readonly SystemSpec[]): Promise<Partial<Record<SystemId, BurstLimitFigure | { notMeasured: string }>>> {
  const { burstLimit: limit, burstWindowMs: windowMs } = run.config;
  const queries = limit * 10;
  const results: Partial<Record<SystemId, BurstLimitFigure | { notMeasured: string }>> = {};
  await run.simulator.setFaults({ rateLimitWindowMs: windowMs });
  try {
    for (const spec of systems) {
      const token = `${LOAD_TOKEN_PREFIX}p5_${spec.id}_${run.nonce}`;
      await run.simulator.setTokenLimit(token, limit);
      // Long enough for the whole burst to drain at the permitted rate, with room to spare.
      const drainMs = Math.ceil(queries / limit + 3) * windowMs;
      const gatewayEnv: Record<string, string> =
        spec.id === 'gateway'
          ? { QUEUE_WINDOW_MS: String(windowMs), REQUEST_DEADLINE_MS: String(Math.min(300_000, drainMs + 10_000)), QUEUE_MAX_PER_TOKEN: String(Math.max(500, queries)) }
          : {};
      try {
        results[spec.id] = await withSystem(
          run,
          spec,
          async (system) => {
            await run.simulator.clear();
            const started = Date.now();
            const outcomes = await run.load(
              {
                kind: 'burst',
                url: system.url,
                requests: Array.from({ length: queries }, (_, i) => ({ headers: { authorization: `Bearer ${token}` }, body: distinctListCall(spec.flavor, ORGANIZATION, `bench-burst-${i}`) })),
                expect: EXPECT_LIST[spec.flavor],
              },
              drainMs + 60_000,
            );
            const elapsedMs = Date.now() - started;
            const log = await run.simulator.requests(token);
            const perWindow = new Map<number, number>();
            for (const r of log) perWindow.set(Math.floor(r.at / windowMs), (perWindow.get(Math.floor(r.at / windowMs)) ?? 0) + 1);
            const clientErrors: Record<string, number> = {};
            for (const o of outcomes) for (const code of o.errorCodes) clientErrors[code] = (clientErrors[code] ?? 0) + 1;
            const ok = outcomes.filter((o) => o.status === 200 && o.errorCodes.length === 0).length;
            const figure: BurstLimitFigure = {
              permittedPerWindow: limit,
              windowMs,
              queries,
              upstreamCalls: log.length,
              upstream429: log.filter((r) => r.status === 429).length,
              peakCallsPerWindow: Math.max(0, ...perWindow.values()),
              okResponses: ok,
              failedResponses: outcomes.length - ok,
              clientErrors,
              elapsedMs,
            };
            run.log(
              `${spec.id.padEnd(13)} P5 ${figure.upstreamCalls} calls, ${figure.upstream429} × 429, peak ${figure.peakCallsPerWindow}/${limit} per ${windowMs} ms window, ${ok}/${queries} answered in ${(elapsedMs / 1000).toFixed(1)} s`,
            );
            return figure;
          },
          gatewayEnv,
        );
      } catch (error) {
        results[spec.id] = { notMeasured: (error as Error).message };
        run.log(`${spec.id}: P5 failed: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  } finally {
    await run.simulator.setFaults({ rateLimitWindowMs: DEFAULT_WINDOW_MS });
  }
  return results;
}
