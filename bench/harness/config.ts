/**
 * What a bench run measures and for how long, from `BENCH_*` variables. `BENCH_QUICK=1` is a
 * smoke run of two to three minutes: one round, short load phases, smaller bursts and token
 * sets. The full run's defaults (3 rounds of 6 s + 3 s per system, 10,000 tokens) are budgeted
 * to finish in about nine minutes on a 2-core machine that is not busy with anything else, a
 * margin under the ten it must stay within: at 8 s + 3 s and 40 s of P6 idling it took 576 to
 * 593 s, too close to the limit for a slower or busier machine.
 */
export interface BenchConfig {
  quick: boolean;
  /** Alternating rounds of the throughput scenarios (P1, P1b). */
  rounds: number;
  /** Measured load per system per round in P1, in seconds. */
  durationS: number;
  /** Measured load per system per round in P1b, in seconds. */
  variedDurationS: number;
  /** Load before each measured phase (JIT, connection pools, caches), in seconds. */
  warmupS: number;
  /** autocannon connections. */
  connections: number;
  /** Simulated Katapult latency per request, in ms. */
  latencyMs: number;
  /** Concurrent identical cold queries in P2. */
  coldBursts: number[];
  /** Cold iterations in P4, measured once before its warm-up and once after. */
  overheadIterations: number;
  /** P4's warm-up between the two measurements: cold queries (and the same direct calls), 20 at a time. */
  overheadWarmup: number;
  /** P5: the token's budget per window, the window, and the burst size (10× the budget). */
  burstLimit: number;
  burstWindowMs: number;
  /** P6: distinct tokens made warm, and the cache bound the gateway is given. */
  memoryTokens: number;
  cacheMaxBytes: number;
  /** P6: seconds of idleness over which RSS is sampled after the load. */
  memorySettleS: number;
  /** Only these systems (`BENCH_ONLY`, comma-separated ids; the gateway always runs). */
  only: readonly string[] | null;
  /** Only these scenarios (`BENCH_SCENARIOS`, comma-separated ids, any case: `P1b,P4`). */
  scenarios: ReadonlySet<ScenarioId>;
  /**
   * Node options for the gateway's process alone (`BENCH_GATEWAY_NODE_ARGS`, space-separated),
   * e.g. `--cpu-prof --cpu-prof-dir=<dir>` to profile it under a scenario's load. A
   * run with any is not a result: it never replaces results/latest.*.
   */
  gatewayNodeArgs: readonly string[];
  /** Whether every scenario and every system runs, as shipped; only such a run replaces results/latest.*. */
  complete: boolean;
}

export const SCENARIOS = ['p1', 'p1b', 'p2', 'p3', 'p4', 'p5', 'p6'] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

const MIB = 1024 * 1024;

function readInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

export function loadBenchConfig(env: NodeJS.ProcessEnv): BenchConfig {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const durationS = readInt(env, 'BENCH_DURATION_S', quick ? 2 : 6, 1);
  const burstLimit = readInt(env, 'BENCH_BURST_LIMIT', quick ? 10 : 30, 3);
  const only = env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean) ?? null;
  const asked = env.BENCH_SCENARIOS?.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean) ?? [];
  const unknown = asked.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`BENCH_SCENARIOS: unknown ${unknown.join(', ')}; expected some of ${SCENARIOS.join(', ')} (any case)`);
  const scenarios = new Set<ScenarioId>(asked.length ? (asked as ScenarioId[]) : SCENARIOS);
  const onlyList = only && only.length > 0 ? only : null;
  const gatewayNodeArgs = (env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return {
    quick,
    rounds: readInt(env, 'BENCH_ROUNDS', quick ? 1 : 3, 1),
    durationS,
    variedDurationS: readInt(env, 'BENCH_VARIED_DURATION_S', quick ? 2 : 3, 1),
    warmupS: readInt(env, 'BENCH_WARMUP_S', quick ? 1 : 2, 0),
    connections: readInt(env, 'BENCH_CONNECTIONS', 10, 1),
    latencyMs: readInt(env, 'BENCH_LATENCY_MS', 20, 0),
    coldBursts: [50, 100],
    overheadIterations: readInt(env, 'BENCH_OVERHEAD_ITERATIONS', quick ? 12 : 30, 3),
    overheadWarmup: readInt(env, 'BENCH_OVERHEAD_WARMUP', quick ? 100 : 600, 0),
    burstLimit,
    burstWindowMs: readInt(env, 'BENCH_BURST_WINDOW_MS', quick ? 1000 : 2000, 1000),
    memoryTokens: readInt(env, 'BENCH_MEMORY_TOKENS', quick ? 500 : 10_000, 1),
    cacheMaxBytes: readInt(env, 'BENCH_CACHE_MAX_BYTES', 256 * MIB, MIB),
    // The gateway compacts its heap after HEAP_IDLE_COMPACT_MS (10 s) of quiet; twice that covers it.
    memorySettleS: readInt(env, 'BENCH_MEMORY_SETTLE_S', quick ? 10 : 20, 0),
    only: onlyList,
    scenarios,
    gatewayNodeArgs,
    complete: scenarios.size === SCENARIOS.length && onlyList === null && gatewayNodeArgs.length === 0,
  };
}
