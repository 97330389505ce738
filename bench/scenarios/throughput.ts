import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { assertAnswer, EXPECT, postGraphQL, withSystem, type BenchRun } from '../harness/bench-run.js';
import { residentBytes } from '../harness/children.js';
import type { AutocannonSummary } from '../harness/load.js';
import { dashboard, firstPageEndCursor, VARIED_WINDOW_SIZES, variedOperations } from '../harness/queries.js';
import { median, round } from '../harness/stats.js';
import type { RunningSystem, SystemId, SystemSpec } from '../harness/systems.js';

/**
 * P1 (one dashboard query, over and over) and P1b (50 distinct operations in rotation), both
 * warm. Rounds alternate the systems, each alone in its own process; ratios are taken within a
 * round (same machine state) and the median of those is reported.
 */
export const THROUGHPUT_ORGANIZATION = 'acme';
const TOKEN = DEMO_TOKENS.acme;

export interface ThroughputFigure extends AutocannonSummary {
  /** Resident memory of the system right after the load. */
  rssBytes: number | null;
}

export interface ThroughputRound {
  round: number;
  order: SystemId[];
  results: Partial<Record<SystemId, ThroughputFigure>>;
  failures: Partial<Record<SystemId, string>>;
}

export interface ThroughputScenario {
  organization: string;
  operations: number;
  rounds: ThroughputRound[];
  median: Partial<Record<SystemId, { requestsPerSec: number; p50Ms: number; p99Ms: number; mismatches: number; non2xx: number; rssBytes: number | null }>>;
  /** `ours/x` req/s ratios: per round, then their median. */
  ratios: Record<string, { perRound: number[]; median: number }>;
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

async function measureP1b(run: BenchRun, system: RunningSystem): Promise<ThroughputFigure> {
  const { flavor } = system.spec;
  const cursors = new Map<number, string>();
  if (flavor === 'katapult') {
    for (const first of VARIED_WINDOW_SIZES) {
      const answer = await postGraphQL(system.url, firstPageEndCursor(THROUGHPUT_ORGANIZATION, first), TOKEN);
      const cursor = (answer.json?.data as { organization?: { virtualMachines?: { pageInfo?: { endCursor?: string } } } } | undefined)?.organization?.virtualMachines?.pageInfo?.endCursor;
      if (!cursor) throw new Error(`${system.spec.id}: no end cursor for first: ${first}: ${answer.text.slice(0, 300)}`);
      cursors.set(first, cursor);
    }
  }
  const ops = variedOperations(flavor, THROUGHPUT_ORGANIZATION, cursors);
  if (new Set(ops).size !== ops.length) throw new Error('P1b operations are not distinct');
  // Every operation once (ten at a time), so all of them are warm before the clock starts.
  for (let i = 0; i < ops.length; i += 10) {
    const batch = ops.slice(i, i + 10);
    const answers = await Promise.all(batch.map((body) => postGraphQL(system.url, body, TOKEN)));
    answers.forEach((answer, j) => assertAnswer(`${system.spec.id} P1b #${i + j}`, answer, EXPECT[flavor]));
  }
  const summary = await run.load({
    kind: 'autocannon',
    url: system.url,
    connections: run.config.connections,
    durationS: run.config.variedDurationS,
    warmupS: Math.min(1, run.config.warmupS),
    requests: warmRequests(ops),
    expect: EXPECT[flavor],
  });
  return { ...summary, rssBytes: residentBytes(system.pid)?.rss ?? null };
}

const rotate = <T>(items: readonly T[], by: number): T[] => items.map((_, i) => items[(i + by) % items.length]!);

function summarise(rounds: ThroughputRound[], organization: string, operations: number): ThroughputScenario {
  const ids = [...new Set(rounds.flatMap((r) => Object.keys(r.results) as SystemId[]))];
  const med: ThroughputScenario['median'] = {};
  for (const id of ids) {
    const figures = rounds.map((r) => r.results[id]).filter((f): f is ThroughputFigure => f !== undefined);
    const rss = figures.map((f) => f.rssBytes).filter((v): v is number => v !== null);
    med[id] = {
      requestsPerSec: round(median(figures.map((f) => f.requestsPerSec)), 1),
      p50Ms: round(median(figures.map((f) => f.latencyMs.p50))),
      p99Ms: round(median(figures.map((f) => f.latencyMs.p99))),
      mismatches: figures.reduce((n, f) => n + f.mismatches, 0),
      non2xx: figures.reduce((n, f) => n + f.non2xx, 0),
      rssBytes: rss.length ? median(rss) : null,
    };
  }
  const ratios: ThroughputScenario['ratios'] = {};
  const rps = (r: ThroughputRound, id: SystemId) => r.results[id]?.requestsPerSec;
  const best = (r: ThroughputRound, a: SystemId, b: SystemId) => {
    const values = [rps(r, a), rps(r, b)].filter((v): v is number => v !== undefined);
    return values.length ? Math.max(...values) : undefined;
  };
  const others: Array<[string, (r: ThroughputRound) => number | undefined]> = [
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
  return { organization, operations, rounds, median: med, ratios };
}

export async function runThroughput(run: BenchRun, systems: readonly SystemSpec[]): Promise<{ p1: ThroughputScenario; p1b: ThroughputScenario }> {
  const p1Rounds: ThroughputRound[] = [];
  const p1bRounds: ThroughputRound[] = [];
  // The acme token's own budget (1,000 a minute) would turn an uncached peer's load into 429s.
  await run.simulator.setTokenLimit(TOKEN, 1_000_000_000);
  for (let r = 0; r < run.config.rounds; r++) {
    const order = rotate(systems, r);
    const p1: ThroughputRound = { round: r + 1, order: order.map((s) => s.id), results: {}, failures: {} };
    const p1b: ThroughputRound = { round: r + 1, order: order.filter((s) => s.id !== 'limit').map((s) => s.id), results: {}, failures: {} };
    run.log(`round ${r + 1}/${run.config.rounds}: ${p1.order.join(' → ')}`);
    for (const spec of order) {
      const started = Date.now();
      const describe = (f: ThroughputFigure) =>
        `${f.requestsPerSec.toFixed(0).padStart(6)} req/s p50 ${f.latencyMs.p50} ms p99 ${f.latencyMs.p99} ms${f.mismatches || f.non2xx ? ` (bad answers: ${f.mismatches} mismatched, ${f.non2xx} non-2xx)` : ''}`;
      try {
        await withSystem(run, spec, async (system) => {
          try {
            p1.results[spec.id] = await measureP1(run, system);
          } catch (error) {
            p1.failures[spec.id] = (error as Error).message;
          }
          if (spec.id === 'limit') return;
          try {
            p1b.results[spec.id] = await measureP1b(run, system);
          } catch (error) {
            p1b.failures[spec.id] = (error as Error).message;
          }
        });
      } catch (error) {
        p1.failures[spec.id] = (error as Error).message;
        if (spec.id !== 'limit') p1b.failures[spec.id] = (error as Error).message;
      }
      const a = p1.results[spec.id];
      const b = p1b.results[spec.id];
      const failure = p1.failures[spec.id] ?? p1b.failures[spec.id];
      run.log(
        `${spec.id.padEnd(13)} P1 ${a ? describe(a) : 'failed'}${spec.id === 'limit' ? '' : ` | P1b ${b ? describe(b) : 'failed'}`} (${((Date.now() - started) / 1000).toFixed(0)} s)${failure ? `: ${failure.split('\n')[0]}` : ''}`,
      );
    }
    p1Rounds.push(p1);
    p1bRounds.push(p1b);
  }
  return { p1: summarise(p1Rounds, THROUGHPUT_ORGANIZATION, 1), p1b: summarise(p1bRounds, THROUGHPUT_ORGANIZATION, 50) };
}
