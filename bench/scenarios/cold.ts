import { DEMO_TOKENS, LOAD_TOKEN_PREFIX } from '../../src/simulator/index.js';
import { EXPECT, postGraphQL, withSystem, type BenchRun } from '../harness/bench-run.js';
import type { OverheadSample } from '../harness/load.js';
import type { LoggedRequest } from '../harness/simulator.js';
import { dashboard, probe, traversalStep } from '../harness/queries.js';
import { median, percentile, round } from '../harness/stats.js';
import type { RunningSystem, SystemId, SystemSpec } from '../harness/systems.js';

/**
 * The cold path, on a fresh process per system: P3 walks acme's VMs (nothing cached yet),
 * P2 sends bursts of identical cold queries, P4 times cold queries against the same REST calls
 * made directly. Upstream calls are counted from the simulator's request log, per token.
 * P2 and P4 use load tokens (they act for globex), a new one for each cold query.
 */
export const COLD_ORGANIZATION = 'globex';
const WALK_ORGANIZATION = 'acme';
const WALK_SIZE = 25;
const WALK_ITEMS = 1000;
/** P4's warm-up: cold queries in flight at once. */
const WARMUP_CONCURRENCY = 20;

export interface BurstFigure {
  concurrent: number;
  upstreamCalls: number;
  distinctUrls: number;
  okResponses: number;
  failedResponses: number;
  p50Ms: number;
  maxMs: number;
}

export interface WalkFigure {
  windows: number;
  vmsSeen: number;
  upstreamCalls: number;
  how: string;
}

/** One measurement of P4: `iterations` cold queries, each against the same REST calls made directly. */
export interface OverheadPhase {
  iterations: number;
  failedGatewayQueries: number;
  gatewayP50Ms: number;
  directParallelP50Ms: number;
  directChainedP50Ms: number;
  /** p50(system) − p50(direct, every call in parallel): the figure the target is about. */
  overheadP50Ms: number;
  /** p50(system) − p50(direct, the VM list first and then the rest, as the data depends). */
  overheadOverChainedP50Ms: number;
}

/**
 * P4 is measured twice on the same process: first as the earlier cold phases leave it (its code
 * paths have run a few hundred times), then after a warm-up of cold queries, as a long-running
 * process meets them. The target is about the second; both are reported.
 */
export interface OverheadFigure extends OverheadPhase {
  /** The same measurement before the warm-up. */
  beforeWarmup: OverheadPhase;
  warmupQueries: number;
  warmupFailures: number;
  /** The REST calls both sides made. */
  upstreamUrls: string[];
}

export interface ColdResults {
  p2: Partial<Record<SystemId, BurstFigure[] | { notMeasured: string }>>;
  p3: Partial<Record<SystemId, WalkFigure | { notMeasured: string }>>;
  p4: Partial<Record<SystemId, OverheadFigure | { notMeasured: string }>>;
}

const signed = (n: number) => `${n >= 0 ? '+' : '−'}${Math.abs(n)}`;
const urlOf = (r: LoggedRequest) => (r.query ? `${r.path}?${r.query}` : r.path);
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

async function walk(run: BenchRun, system: RunningSystem): Promise<WalkFigure> {
  await run.simulator.clear();
  const token = DEMO_TOKENS.acme;
  const ids = new Set<string>();
  let after: string | null = null;
  let windows = 0;
  while (ids.size < WALK_ITEMS) {
    windows++;
    const answer = await postGraphQL(system.url, traversalStep(system.spec.flavor, WALK_ORGANIZATION, WALK_SIZE, { after, page: windows }), token);
    const data = answer.json?.data as
      | { organization?: { virtualMachines?: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ node: { id: string } }> } }; vms?: { virtual_machines?: Array<{ id: string }> } }
      | undefined;
    const items = system.spec.flavor === 'katapult' ? data?.organization?.virtualMachines?.edges.map((e) => e.node) : data?.vms?.virtual_machines;
    if (!items || answer.json?.errors) throw new Error(`walk window ${windows}: ${answer.text.slice(0, 300)}`);
    for (const item of items) ids.add(item.id);
    after = data?.organization?.virtualMachines?.pageInfo.endCursor ?? null;
    if (items.length < WALK_SIZE || windows > WALK_ITEMS / WALK_SIZE + 5) break;
  }
  await settle();
  const calls = (await run.simulator.requests(token)).length;
  return {
    windows,
    vmsSeen: Math.min(ids.size, WALK_ITEMS),
    upstreamCalls: calls,
    how: system.spec.flavor === 'katapult' ? `first: ${WALK_SIZE} with after: cursors` : `page/per_page=${WALK_SIZE} (no cursors in the REST-shaped schema)`,
  };
}

async function bursts(run: BenchRun, system: RunningSystem): Promise<{ figures: BurstFigure[]; urls: string[] }> {
  const figures: BurstFigure[] = [];
  let urls: string[] = [];
  for (const concurrent of run.config.coldBursts) {
    const token = `${LOAD_TOKEN_PREFIX}p2_${system.spec.id}_${concurrent}_${run.nonce}`;
    const body = dashboard(system.spec.flavor, COLD_ORGANIZATION);
    const outcomes = await run.load({
      kind: 'burst',
      url: system.url,
      requests: Array.from({ length: concurrent }, () => ({ headers: { authorization: `Bearer ${token}` }, body })),
      expect: EXPECT[system.spec.flavor],
    });
    await settle();
    const log = await run.simulator.requests(token);
    const distinct = [...new Set(log.map(urlOf))];
    if (urls.length === 0) urls = distinct;
    const ok = outcomes.filter((o) => o.status === 200 && o.errorCodes.length === 0).length;
    figures.push({
      concurrent,
      upstreamCalls: log.length,
      distinctUrls: distinct.length,
      okResponses: ok,
      failedResponses: outcomes.length - ok,
      p50Ms: round(percentile(outcomes.map((o) => o.ms), 50)),
      maxMs: round(Math.max(...outcomes.map((o) => o.ms))),
    });
  }
  return { figures, urls };
}

async function overhead(run: BenchRun, system: RunningSystem, urls: string[]): Promise<OverheadFigure> {
  if (urls.length === 0) throw new Error('no upstream URLs were seen for the cold query');
  // The VM list goes first in the chained baseline: the other calls depend on what it returns.
  const ordered = [...urls].sort((a, b) => Number(b.includes('/virtual_machines')) - Number(a.includes('/virtual_machines')));
  const origin = new URL(run.simulator.baseUrl).origin;
  const samples = await run.load(
    {
      kind: 'overhead',
      url: system.url,
      iterations: run.config.overheadIterations,
      tokenPrefix: `${LOAD_TOKEN_PREFIX}p4_${system.spec.id}_${run.nonce}_`,
      probeBody: probe(system.spec.flavor),
      body: dashboard(system.spec.flavor, COLD_ORGANIZATION),
      expect: EXPECT[system.spec.flavor],
      directUrls: ordered.map((u) => `${origin}${u}`),
      directProbeUrl: `${run.simulator.baseUrl}/organizations`,
      warmupQueries: run.config.overheadWarmup,
      warmupConcurrency: WARMUP_CONCURRENCY,
    },
    // Two measured phases of about 0.2 s per iteration, and the warm-up; Apollo's cold query is the slowest at ~50 ms.
    120_000 + run.config.overheadIterations * 2 * 1_000 + Math.ceil(run.config.overheadWarmup / WARMUP_CONCURRENCY) * 2_000,
  );
  return {
    ...overheadPhase(samples.warm),
    beforeWarmup: overheadPhase(samples.first),
    warmupQueries: run.config.overheadWarmup,
    warmupFailures: samples.warmupFailures,
    upstreamUrls: ordered,
  };
}

function overheadPhase(samples: OverheadSample[]): OverheadPhase {
  const g = samples.map((s) => s.gatewayMs);
  const p = samples.map((s) => s.directParallelMs);
  const c = samples.map((s) => s.directChainedMs);
  return {
    iterations: samples.length,
    failedGatewayQueries: samples.filter((s) => !s.gatewayOk).length,
    gatewayP50Ms: round(median(g)),
    directParallelP50Ms: round(median(p)),
    directChainedP50Ms: round(median(c)),
    overheadP50Ms: round(median(g) - median(p)),
    overheadOverChainedP50Ms: round(median(g) - median(c)),
  };
}

export interface ColdSelection {
  p2: boolean;
  p3: boolean;
  p4: boolean;
}

/**
 * P4 always meets the process as a full run leaves it (after P3's walk and P2's bursts): when
 * P4 is selected without them they still run, unrecorded, so its figure does not depend on
 * the selection.
 */
export async function runCold(run: BenchRun, systems: readonly SystemSpec[], selection: ColdSelection): Promise<Partial<ColdResults>> {
  const results: ColdResults = { p2: {}, p3: {}, p4: {} };
  const wanted = (['p2', 'p3', 'p4'] as const).filter((key) => selection[key]);
  const runs = { p3: selection.p3 || selection.p4, p2: selection.p2 || selection.p4 };
  for (const spec of systems) {
    const notMeasured = (reason: string) => ({ notMeasured: reason });
    try {
      await withSystem(run, spec, async (system) => {
        if (runs.p3) {
          try {
            const w = await walk(run, system);
            if (selection.p3) results.p3[spec.id] = w;
            run.log(`${spec.id.padEnd(13)} P3${selection.p3 ? '' : ' (unrecorded)'} ${w.upstreamCalls} upstream calls for ${w.vmsSeen} VMs in ${w.windows} windows`);
          } catch (error) {
            if (selection.p3) results.p3[spec.id] = notMeasured((error as Error).message);
            run.log(`${spec.id.padEnd(13)} P3 failed: ${(error as Error).message.split('\n')[0]}`);
          }
        }
        let urls: string[] = [];
        if (runs.p2) {
          const burst = await bursts(run, system);
          urls = burst.urls;
          if (selection.p2) results.p2[spec.id] = burst.figures;
          run.log(
            `${spec.id.padEnd(13)} P2${selection.p2 ? '' : ' (unrecorded)'} ${burst.figures.map((f) => `${f.concurrent} concurrent → ${f.upstreamCalls} calls (${f.distinctUrls} distinct, ${f.failedResponses} failed)`).join('; ')}`,
          );
        }
        if (selection.p4) {
          const o = await overhead(run, system, urls);
          results.p4[spec.id] = o;
          run.log(
            `${spec.id.padEnd(13)} P4 p50 ${o.gatewayP50Ms} ms vs direct ${o.directParallelP50Ms} ms parallel / ${o.directChainedP50Ms} ms chained → ${signed(o.overheadP50Ms)} ms / ${signed(o.overheadOverChainedP50Ms)} ms (before the warm-up of ${o.warmupQueries}: ${signed(o.beforeWarmup.overheadP50Ms)} ms / ${signed(o.beforeWarmup.overheadOverChainedP50Ms)} ms${o.warmupFailures ? `; ${o.warmupFailures} warm-up queries failed` : ''})`,
          );
        }
      });
    } catch (error) {
      const reason = (error as Error).message;
      for (const key of wanted) results[key][spec.id] ??= notMeasured(reason);
      run.log(`${spec.id}: cold phase failed: ${reason.split('\n')[0]}`);
    }
  }
  return Object.fromEntries(wanted.map((key) => [key, results[key]])) as Partial<ColdResults>;
}
