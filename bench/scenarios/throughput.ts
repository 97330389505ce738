import { DEMO_TOKENS, VM_COUNTS } from '../../src/simulator/index.js';
import { assertAnswer, EXPECT, postGraphQL, withSystem, type BenchRun } from '../harness/bench-run.js';
import { residentBytes } from '../harness/children.js';
import type { AutocannonSummary } from '../harness/load.js';
import { dashboard } from '../harness/queries.js';
import { median, round } from '../harness/stats.js';
import type { RunningSystem, SystemId, SystemSpec } from '../harness/systems.js';
import {
  availableWindows,
  listingStep,
  SELECTION_COUNT,
  variedBody,
  variedWindows,
  windowsNeeded,
  windowVariables,
  type VariedWindow,
  type VariedWorkload,
} from '../harness/varied.js';

/**
 * P1 (one dashboard query, over and over) and P1b (warm, varied: every request body new, see
 * harness/varied.ts), both warm. Rounds alternate the systems, each alone in its own process;
 * ratios are taken within a round (same machine state) and the median of those is reported.
 */
export const THROUGHPUT_ORGANIZATION = 'acme';
const TOKEN = DEMO_TOKENS.acme;
const ACME_VMS = VM_COUNTS.acme.live;

export interface ThroughputFigure extends AutocannonSummary {
  /** Resident memory of the system right after the load. */
  rssBytes: number | null;
}

export interface ThroughputRound<F extends ThroughputFigure = ThroughputFigure> {
  round: number;
  order: SystemId[];
  results: Partial<Record<SystemId, F>>;
  failures: Partial<Record<SystemId, string>>;
  /** Figures that were measured but cannot stand (P1b: a response cache may have answered); kept, and their row fails. */
  invalid: Partial<Record<SystemId, string>>;
}

export interface ThroughputMedian {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  mismatches: number;
  non2xx: number;
  rssBytes: number | null;
}

export interface ThroughputScenario<F extends ThroughputFigure = ThroughputFigure, M extends ThroughputMedian = ThroughputMedian> {
  organization: string;
  /** Distinct request bodies available to the load. */
  operations: number;
  rounds: ThroughputRound<F>[];
  median: Partial<Record<SystemId, M>>;
  /** `ours/x` req/s ratios: per round, then their median. */
  ratios: Record<string, { perRound: number[]; median: number }>;
}

export interface VariedMedian extends ThroughputMedian {
  /** Median over rounds of the Katapult calls during the load. */
  upstreamCalls: number;
  /** Median over rounds of the request bodies sent (all distinct). */
  requestsGenerated: number;
  /** Sums over rounds; both must be 0. */
  repeatedBodies: number;
  responseCacheHits: number | null;
}

export interface VariedScenario extends ThroughputScenario<VariedFigure, VariedMedian> {
  windows: number;
  selections: number;
  listLength: number;
  /** Every system/round whose figure cannot stand, with the reason; empty when P1b is clean. */
  problems: string[];
}

function warmRequests(ops: string[]) {
  return ops.map((body) => ({ headers: { authorization: `Bearer ${TOKEN}` }, body }));
}

async function measureP1(run: BenchRun, system: RunningSystem): Promise<ThroughputFigure> {
  const body = dashboard(system.spec.flavor, THROUGHPUT_ORGANIZATION);
  assertAnswer(`${system.spec.id} P1`, await postGraphQL(system.url, body, TOKEN), EXPECT[system.spec.flavor]);
  const summary = await run.load({
    kind: 'autocannon',
    url: system.url,
    connections: run.config.connections,
    durationS: run.config.durationS,
    warmupS: run.config.warmupS,
    requests: warmRequests([body]),
    expect: EXPECT[system.spec.flavor],
  });
  return { ...summary, rssBytes: residentBytes(system.pid)?.rss ?? null };
}

/** Windows asked for at once by the warm-up requests (as aliases of the list field). */
const WARM_BATCH = 10;
/** Warm-up requests in flight at once. */
const WARM_CONCURRENCY = 8;
/** The listing walk's window: 13 requests cover acme's 1,250 VMs. */
const LISTING_SIZE = 100;

/** What P1b adds to a throughput figure: the checks that no answer came from a finished-response cache. */
export interface VariedFigure extends ThroughputFigure {
  /** Request bodies generated during the load (warm-up and measured phase): one per request sent. */
  requestsGenerated: number;
  /** Bodies that repeated an earlier one (the sequence wrapped); must be 0. */
  repeatedBodies: number;
  /** Katapult calls during the load (warm-up and measured phase); 0 when the REST data stayed warm. */
  upstreamCalls: number;
  /** Gateway only: how much `response_cache_hits_total` grew from the start of P1b to the end of the load; must be 0. */
  responseCacheHits: number | null;
  /** Time spent on steps (1)–(3) before the load. */
  preparationMs: number;
}

async function runPool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index]!, index);
      }
    }),
  );
}

/** The gateway's `response_cache_hits_total`, read from its /metrics. */
async function responseCacheHitsOf(system: RunningSystem): Promise<number> {
  const url = new URL('/metrics', system.url);
  const response = await fetch(url);
  const text = await response.text();
  const match = /^response_cache_hits_total(?:\{[^}]*\})? (\d+(?:\.\d+)?(?:e\+?\d+)?)$/m.exec(text);
  if (response.status !== 200 || !match) throw new Error(`cannot read response_cache_hits_total from ${url} (HTTP ${response.status}); P1b cannot show it had no response-cache hits`);
  return Number(match[1]);
}

/** Walks the whole list once, warming its pages; returns every item's cursor (Katapult flavour) and the list's length. */
export async function listAll(system: Pick<RunningSystem, 'url' | 'spec'>): Promise<{ cursors: string[] | null; length: number }> {
  const { flavor } = system.spec;
  const cursors: string[] = [];
  let length = 0;
  let after: string | null = null;
  for (let page = 1; page <= 100; page++) {
    const answer = await postGraphQL(system.url, listingStep(flavor, THROUGHPUT_ORGANIZATION, LISTING_SIZE, { after, page }), TOKEN);
    if (answer.status !== 200 || answer.json?.errors) throw new Error(`${system.spec.id}: listing walk, step ${page}: ${answer.text.slice(0, 300)}`);
    if (flavor === 'katapult') {
      const connection = (answer.json?.data as { organization?: { virtualMachines?: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ cursor: string }> } } } | undefined)?.organization
        ?.virtualMachines;
      if (!connection) throw new Error(`${system.spec.id}: listing walk, step ${page}: ${answer.text.slice(0, 300)}`);
      cursors.push(...connection.edges.map((e) => e.cursor));
      length = cursors.length;
      if (!connection.pageInfo.hasNextPage || connection.edges.length === 0) break;
      after = connection.pageInfo.endCursor;
    } else {
      const items = (answer.json?.data as { vms?: { virtual_machines?: unknown[] } } | undefined)?.vms?.virtual_machines;
      if (!items) throw new Error(`${system.spec.id}: listing walk, page ${page}: ${answer.text.slice(0, 300)}`);
      length += items.length;
      if (items.length < LISTING_SIZE) break;
    }
  }
  return { cursors: flavor === 'katapult' ? cursors : null, length };
}

/** One request asking for several windows at once (aliases), `id` only: warms the REST response behind each window. */
function warmWindowsBody(workload: VariedWorkload, windows: readonly VariedWindow[]): string {
  const org = `organization_LEFT_SQUARE_BRACE_sub_domain_RIGHT_SQUARE_BRACE_: "${workload.organization}"`;
  const fields = windows.map((window, i) => {
    const v = windowVariables(workload, window);
    return workload.flavor === 'katapult'
      ? `w${i}: virtualMachines(first: ${v.first as number}, after: ${JSON.stringify(v.after)}) { edges { node { id } } }`
      : `w${i}: get_organization_virtual_machines(${org}, per_page: ${v.perPage as number}, page: ${v.page as number}) { ... on get_organization_virtual_machines_200_response { virtual_machines { id } } }`;
  });
  const query =
    workload.flavor === 'katapult'
      ? `query P1bWarmWindows { organization(subDomain: "${workload.organization}") { ${fields.join(' ')} } }`
      : `query P1bWarmWindows { ${fields.join(' ')} }`;
  return JSON.stringify({ operationName: 'P1bWarmWindows', query });
}

/**
 * P1b for one system: (1) walk the list (warms its pages; the gateway's are acme's seven
 * 200-item pages) and collect every item's cursor; (2) ask once for every window the load
 * will use (so the REST response behind each is cached by systems that cache per URL, as the
 * Apollo peer does; skipped for Mesh, which keeps no REST responses); (3) run each of the 256 documents once on a window the load never uses
 * (compiled, validated, and the catalogue lists cached); then (4) the load, every body new.
 * Nothing sent in (1)–(3) is sent again in (4), and nothing in (4) is sent twice.
 */
async function measureP1b(run: BenchRun, system: RunningSystem, windowCount: number): Promise<VariedFigure> {
  const { flavor } = system.spec;
  const isGateway = system.spec.id === 'gateway';
  const hitsBefore = isGateway ? await responseCacheHitsOf(system) : null;
  const started = Date.now();

  const listing = await listAll(system);
  if (listing.length !== ACME_VMS) throw new Error(`${system.spec.id}: the listing walk saw ${listing.length} VMs, expected ${ACME_VMS}`);
  const workload: VariedWorkload = { flavor, organization: THROUGHPUT_ORGANIZATION, windows: variedWindows(ACME_VMS, windowCount), cursors: listing.cursors };

  // Mesh keeps no REST responses (as shipped, and its cached variant only whole answers): nothing to warm per window.
  const batches: VariedWindow[][] = [];
  if (flavor === 'katapult') for (let i = 0; i < workload.windows.length; i += WARM_BATCH) batches.push(workload.windows.slice(i, i + WARM_BATCH));
  await runPool(batches, WARM_CONCURRENCY, async (batch, i) => {
    const answer = await postGraphQL(system.url, warmWindowsBody(workload, batch), TOKEN);
    assertAnswer(`${system.spec.id} P1b window warm-up #${i}`, answer, EXPECT[flavor]);
  });
  const masks = Array.from({ length: SELECTION_COUNT }, (_, mask) => mask);
  await runPool(masks, WARM_CONCURRENCY * 2, async (mask) => {
    // Start 0 (no `after`): never a measured window, so these bodies never come back in the load.
    const answer = await postGraphQL(system.url, variedBody(workload, mask, { first: 1, start: 0 }), TOKEN);
    assertAnswer(`${system.spec.id} P1b selection warm-up #${mask}`, answer, EXPECT[flavor]);
  });

  const preparationMs = Date.now() - started;

  await run.simulator.clear();
  const summary = await run.load({
    kind: 'autocannon',
    url: system.url,
    connections: run.config.connections,
    durationS: run.config.variedDurationS,
    // As long as P1's: a second of varied load left every system short of its steady rate
    // (the gateway's and Apollo's alike rose by about a quarter with a few seconds more).
    warmupS: run.config.warmupS,
    requests: [{ headers: { authorization: `Bearer ${TOKEN}` }, body: '' }],
    expect: EXPECT[flavor],
    varied: workload,
  });
  const upstreamCalls = (await run.simulator.requests(TOKEN)).length;
  const rssBytes = residentBytes(system.pid)?.rss ?? null;
  const hitsAfter = isGateway ? await responseCacheHitsOf(system) : null;
  const varied = summary.varied ?? { generated: 0, capacity: 0, overflow: 0 };
  return {
    ...summary,
    rssBytes,
    requestsGenerated: varied.generated,
    repeatedBodies: varied.overflow,
    upstreamCalls,
    responseCacheHits: hitsBefore === null || hitsAfter === null ? null : hitsAfter - hitsBefore,
    preparationMs,
  };
}

/** Why a P1b figure cannot stand (some answer may have come from a response cache); null when it can. */
export function p1bProblem(figure: VariedFigure): string | null {
  const problems: string[] = [];
  if (figure.responseCacheHits !== null && figure.responseCacheHits > 0) problems.push(`response_cache_hits_total grew by ${figure.responseCacheHits} during P1b`);
  if (figure.repeatedBodies > 0) problems.push(`${figure.repeatedBodies} request bodies repeated (the sequence of ${figure.requestsGenerated - figure.repeatedBodies} distinct bodies ran out)`);
  return problems.length ? problems.join('; ') : null;
}

const rotate = <T>(items: readonly T[], by: number): T[] => items.map((_, i) => items[(i + by) % items.length]!);

/**
 * Round `r`'s order: the systems P1b measures move one place each round, and the limit (P1
 * only) is put back in at a place that moves too. Rotating the whole list instead made P1b's
 * order repeat whenever the limit came round to the front.
 */
function roundOrder(systems: readonly SystemSpec[], r: number): SystemSpec[] {
  const limit = systems.find((s) => s.id === 'limit');
  const order = rotate(systems.filter((s) => s.id !== 'limit'), r);
  if (limit) order.splice(r % (order.length + 1), 0, limit);
  return order;
}

function baseMedian(figures: readonly ThroughputFigure[]): ThroughputMedian {
  const rss = figures.map((f) => f.rssBytes).filter((v): v is number => v !== null);
  return {
    requestsPerSec: round(median(figures.map((f) => f.requestsPerSec)), 1),
    p50Ms: round(median(figures.map((f) => f.latencyMs.p50))),
    p99Ms: round(median(figures.map((f) => f.latencyMs.p99))),
    mismatches: figures.reduce((n, f) => n + f.mismatches, 0),
    non2xx: figures.reduce((n, f) => n + f.non2xx, 0),
    rssBytes: rss.length ? median(rss) : null,
  };
}

function summarise<F extends ThroughputFigure, M extends ThroughputMedian>(
  rounds: ThroughputRound<F>[],
  operations: number,
  medianOf: (figures: F[]) => M,
): ThroughputScenario<F, M> {
  const ids = [...new Set(rounds.flatMap((r) => Object.keys(r.results) as SystemId[]))];
  const med: Partial<Record<SystemId, M>> = {};
  for (const id of ids) med[id] = medianOf(rounds.map((r) => r.results[id]).filter((f): f is F => f !== undefined));
  const ratios: ThroughputScenario['ratios'] = {};
  const rps = (r: ThroughputRound<F>, id: SystemId) => r.results[id]?.requestsPerSec;
  const best = (r: ThroughputRound<F>, a: SystemId, b: SystemId) => {
    const values = [rps(r, a), rps(r, b)].filter((v): v is number => v !== undefined);
    return values.length ? Math.max(...values) : undefined;
  };
  const others: Array<[string, (r: ThroughputRound<F>) => number | undefined]> = [
    ['limit', (r) => rps(r, 'limit')],
    ['apollo', (r) => rps(r, 'apollo')],
    ['apollo-cache', (r) => rps(r, 'apollo-cache')],
    ['apollo-best', (r) => best(r, 'apollo', 'apollo-cache')],
    ['mesh', (r) => rps(r, 'mesh')],
    ['mesh-cache', (r) => rps(r, 'mesh-cache')],
  ];
  for (const [name, of] of others) {
    const perRound = rounds
      .map((r) => {
        const ours = rps(r, 'gateway');
        const other = of(r);
        return ours !== undefined && other !== undefined && other > 0 ? ours / other : undefined;
      })
      .filter((v): v is number => v !== undefined);
    if (perRound.length) ratios[`gateway/${name}`] = { perRound: perRound.map((v) => round(v, 3)), median: round(median(perRound), 3) };
  }
  return { organization: THROUGHPUT_ORGANIZATION, operations, rounds, median: med, ratios };
}

const variedMedian = (figures: VariedFigure[]): VariedMedian => {
  const hits = figures.map((f) => f.responseCacheHits).filter((v): v is number => v !== null);
  return {
    ...baseMedian(figures),
    upstreamCalls: median(figures.map((f) => f.upstreamCalls)),
    requestsGenerated: median(figures.map((f) => f.requestsGenerated)),
    repeatedBodies: figures.reduce((n, f) => n + f.repeatedBodies, 0),
    responseCacheHits: hits.length ? hits.reduce((a, b) => a + b, 0) : null,
  };
};

export interface ThroughputSelection {
  p1: boolean;
  p1b: boolean;
}

export async function runThroughput(run: BenchRun, systems: readonly SystemSpec[], selection: ThroughputSelection): Promise<{ p1?: ThroughputScenario; p1b?: VariedScenario }> {
  const p1Rounds: ThroughputRound[] = [];
  const p1bRounds: ThroughputRound<VariedFigure>[] = [];
  // Enough windows that even 20,000 req/s through warm-up and measured phase never repeats a body.
  const windowCount = Math.min(windowsNeeded(run.config.warmupS + run.config.variedDurationS), availableWindows(ACME_VMS) - (availableWindows(ACME_VMS) % 2));
  // The acme token's own budget (1,000 a minute) would turn an uncached peer's load into 429s.
  await run.simulator.setTokenLimit(TOKEN, 1_000_000_000);
  const inRounds = systems.filter((s) => selection.p1 || s.id !== 'limit');
  for (let r = 0; r < run.config.rounds; r++) {
    const order = roundOrder(inRounds, r);
    const p1: ThroughputRound = { round: r + 1, order: order.map((s) => s.id), results: {}, failures: {}, invalid: {} };
    const p1b: ThroughputRound<VariedFigure> = { round: r + 1, order: order.filter((s) => s.id !== 'limit').map((s) => s.id), results: {}, failures: {}, invalid: {} };
    run.log(`round ${r + 1}/${run.config.rounds}: ${order.map((s) => s.id).join(' → ')}`);
    for (const spec of order) {
      const started = Date.now();
      const wantsP1b = selection.p1b && spec.id !== 'limit';
      const describe = (f: ThroughputFigure) =>
        `${f.requestsPerSec.toFixed(0).padStart(6)} req/s p50 ${f.latencyMs.p50} ms p99 ${f.latencyMs.p99} ms${f.mismatches || f.non2xx ? ` (bad answers: ${f.mismatches} mismatched, ${f.non2xx} non-2xx)` : ''}`;
      try {
        await withSystem(run, spec, async (system) => {
          if (selection.p1) {
            try {
              p1.results[spec.id] = await measureP1(run, system);
            } catch (error) {
              p1.failures[spec.id] = (error as Error).message;
            }
          }
          if (!wantsP1b) return;
          try {
            const figure = await measureP1b(run, system, windowCount);
            p1b.results[spec.id] = figure;
            const problem = p1bProblem(figure);
            if (problem) {
              p1b.invalid[spec.id] = problem;
              console.error(`\n  !!! P1b round ${r + 1}, ${spec.id}: ${problem}: this figure is NOT a varied-path figure and its row fails\n`);
            }
          } catch (error) {
            p1b.failures[spec.id] = (error as Error).message;
          }
        });
      } catch (error) {
        if (selection.p1) p1.failures[spec.id] = (error as Error).message;
        if (wantsP1b) p1b.failures[spec.id] = (error as Error).message;
      }
      const a = p1.results[spec.id];
      const b = p1b.results[spec.id];
      const failure = p1.failures[spec.id] ?? p1b.failures[spec.id];
      const parts = [
        ...(selection.p1 ? [`P1 ${a ? describe(a) : 'failed'}`] : []),
        ...(wantsP1b
          ? [
              `P1b ${b ? `${describe(b)}, ${b.requestsGenerated} distinct bodies, ${b.upstreamCalls} upstream calls, ${(b.preparationMs / 1000).toFixed(1)} s warming${b.responseCacheHits === null ? '' : `, ${b.responseCacheHits} response-cache hits`}` : 'failed'}`,
            ]
          : []),
      ];
      run.log(`${spec.id.padEnd(13)} ${parts.join(' | ')} (${((Date.now() - started) / 1000).toFixed(0)} s)${failure ? `: ${failure.split('\n')[0]}` : ''}`);
    }
    p1Rounds.push(p1);
    p1bRounds.push(p1b);
  }
  const out: { p1?: ThroughputScenario; p1b?: VariedScenario } = {};
  if (selection.p1) out.p1 = summarise(p1Rounds, 1, baseMedian);
  if (selection.p1b) {
    const problems = p1bRounds.flatMap((r) => Object.entries(r.invalid).map(([id, reason]) => `round ${r.round}, ${id}: ${reason}`));
    out.p1b = { ...summarise(p1bRounds, windowCount * SELECTION_COUNT, variedMedian), windows: windowCount, selections: SELECTION_COUNT, listLength: ACME_VMS, problems };
  }
  return out;
}
