import type { ColdResults, OverheadPhase } from '../scenarios/cold.js';
import type { MemoryFigure } from '../scenarios/memory.js';
import type { BurstLimitFigure } from '../scenarios/rate-limit.js';
import type { ThroughputScenario, VariedScenario } from '../scenarios/throughput.js';
import { DASHBOARD_URLS } from './queries.js';
import type { SystemId } from './systems.js';

/** Everything a run found, as written to results/latest.json. */
export interface BenchResults {
  meta: {
    date: string;
    quick: boolean;
    node: string;
    platform: string;
    cpuModel: string;
    cores: number;
    memoryBytes: number;
    loadAverageAtStart: number[];
    settings: Record<string, unknown>;
    gatewayRunMode: string;
    versions: Record<string, Record<string, string | null>>;
    durationS?: number;
  };
  systems: Partial<Record<SystemId, { label: string; measured: boolean; reason?: string }>>;
  p1?: ThroughputScenario & { query: string };
  p1b?: VariedScenario;
  p2?: ColdResults['p2'];
  p3?: ColdResults['p3'];
  p4?: ColdResults['p4'];
  p5?: Partial<Record<SystemId, BurstLimitFigure | { notMeasured: string }>>;
  p6?: MemoryFigure | { notMeasured: string };
  targets: Target[];
  notes: string[];
}

export interface Target {
  id: string;
  description: string;
  target: string;
  value: string;
  /** null when it could not be measured. */
  met: boolean | null;
}

const isMeasured = <T extends object>(v: T | { notMeasured: string } | undefined): v is T => v !== undefined && !('notMeasured' in v);
const fmt = (n: number | undefined | null, digits = 2) => (n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : String(Math.round(n * 10 ** digits) / 10 ** digits));
const signed = (n: number | undefined | null) => (n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : `${n >= 0 ? '+' : '−'}${fmt(Math.abs(n))}`);
const mb = (bytes: number | null | undefined) => (bytes == null ? 'n/a' : `${(bytes / 1e6).toFixed(0)} MB`);

export function evaluateTargets(results: BenchResults): Target[] {
  const targets: Target[] = [];
  const ratio = (scenario: ThroughputScenario | undefined, key: string) => scenario?.ratios[key]?.median;
  // A request answered with the wrong body or a non-2xx still counts in autocannon's req/s, so a
  // gateway answering errors fast would look fast: any such answer of the gateway fails the row.
  const badAnswers = (scenario: ThroughputScenario | undefined) => {
    const own = scenario?.median.gateway;
    return own ? own.mismatches + own.non2xx : 0;
  };
  const addRatio = (id: string, description: string, scenario: ThroughputScenario | undefined, key: string, min: number) => {
    const value = ratio(scenario, key);
    const bad = badAnswers(scenario);
    targets.push({
      id,
      description,
      target: `≥ ${min}×`,
      value: value === undefined ? 'not measured' : `${fmt(value)}×${bad ? ` (INVALID: ${bad} bad answers from the gateway)` : ''}`,
      met: value === undefined ? null : value >= min && bad === 0,
    });
  };
  addRatio('P1-limit', 'P1 warm identical: gateway vs the limit (req/s)', results.p1, 'gateway/limit', 0.5);
  addRatio('P1-mesh', 'P1 warm identical: gateway vs Mesh/Hive with its cache', results.p1, 'gateway/mesh-cache', 4);
  addRatio('P1-apollo', 'P1 warm identical: gateway vs Apollo at its best', results.p1, 'gateway/apollo-best', 30);
  const p1b = results.p1b;
  const gatewayHits = p1b?.median.gateway?.responseCacheHits;
  const honest = p1b?.median.gateway ? p1b.problems.length === 0 && gatewayHits === 0 : null;
  targets.push({
    id: 'P1b-no-hits',
    description: "P1b answered without any finished-response cache: the gateway's response_cache_hits_total over P1b, and repeated request bodies (all systems)",
    target: '0 hits, 0 repeats',
    value: p1b
      ? `${gatewayHits ?? 'unread'} hits, ${Object.values(p1b.median).reduce((n, m) => n + (m?.repeatedBodies ?? 0), 0)} repeats${p1b.problems.length ? ` (FAILED: ${p1b.problems.join('; ')})` : ''}`
      : 'not measured',
    met: honest,
  });
  const p1bRatio = ratio(p1b, 'gateway/apollo-best');
  targets.push({
    id: 'P1b-apollo',
    description: 'P1b warm varied (every body new): gateway vs Apollo at its best',
    target: '≥ 6×',
    value:
      p1bRatio === undefined
        ? 'not measured'
        : `${fmt(p1bRatio)}×${honest === false ? ' (INVALID: a response cache may have answered, see P1b-no-hits)' : ''}${badAnswers(p1b) ? ` (INVALID: ${badAnswers(p1b)} bad answers from the gateway)` : ''}`,
    met: p1bRatio === undefined ? null : honest === true && p1bRatio >= 6 && badAnswers(p1b) === 0,
  });

  const p2 = results.p2?.gateway;
  targets.push({
    id: 'P2',
    description: 'P2 concurrent identical cold queries: upstream calls = distinct URLs (the dashboard needs 3)',
    target: `calls = distinct URLs = ${DASHBOARD_URLS}`,
    value: isMeasured(p2) ? p2.map((f) => `${f.concurrent}: ${f.upstreamCalls} calls / ${f.distinctUrls} URLs`).join('; ') : 'not measured',
    // The URLs are the ones the gateway itself asked for: that they are the dashboard's three is checked too.
    met: isMeasured(p2) ? p2.every((f) => f.upstreamCalls === f.distinctUrls && f.distinctUrls === DASHBOARD_URLS && f.failedResponses === 0) : null,
  });
  const p3 = results.p3?.gateway;
  targets.push({
    id: 'P3',
    description: 'P3 walk 1,000 VMs in windows of 25: upstream calls',
    target: '≤ 5',
    value: isMeasured(p3) ? `${p3.upstreamCalls} (${p3.vmsSeen} VMs)` : 'not measured',
    met: isMeasured(p3) ? p3.upstreamCalls <= 5 && p3.vmsSeen === 1000 : null,
  });
  const p4 = results.p4?.gateway;
  targets.push({
    id: 'P4',
    description: 'P4 cold-path overhead over direct parallel REST calls (p50, after the warm-up; before it in parentheses)',
    target: '≤ +3 ms',
    value: isMeasured(p4)
      ? `${signed(p4.overheadP50Ms)} ms (${signed(p4.beforeWarmup.overheadP50Ms)} ms); ${signed(p4.overheadOverChainedP50Ms)} ms over the chained calls`
      : 'not measured',
    // A query that failed anywhere in P4 (either measurement or the warm-up) fails the row.
    met: isMeasured(p4) ? p4.overheadP50Ms <= 3 && p4.failedGatewayQueries === 0 && p4.beforeWarmup.failedGatewayQueries === 0 && p4.warmupFailures === 0 : null,
  });
  const p5 = results.p5?.gateway;
  targets.push({
    id: 'P5',
    description: 'P5 burst of 10× the budget: upstream 429s and peak calls per window',
    target: '0 × 429, peak ≤ permitted',
    value: isMeasured(p5) ? `${p5.upstream429} × 429, peak ${p5.peakCallsPerWindow}/${p5.permittedPerWindow}` : 'not measured',
    met: isMeasured(p5) ? p5.upstream429 === 0 && p5.peakCallsPerWindow <= p5.permittedPerWindow : null,
  });
  const p6 = results.p6;
  targets.push({
    id: 'P6',
    description: `P6 RSS with ${(isMeasured(p6) ? p6.tokens : Number(results.meta.settings.memoryTokens)).toLocaleString('en')} warm tokens (lowest while idle; right after the load and peak beside it)`,
    target: isMeasured(p6) ? `≤ ${mb(p6.rssLimitBytes)}` : '≤ cache + 150 MB',
    value: isMeasured(p6) ? `${mb(p6.rssBytes)} settled (${mb(p6.rssRightAfterBytes)} right after, peak ${mb(p6.peakRssBytes)}, ${mb(p6.peakRightAfterBytes)} by the end of the load)` : 'not measured',
    met: isMeasured(p6) && p6.rssBytes !== null ? p6.rssBytes <= p6.rssLimitBytes && p6.failedQueries === 0 : null,
  });
  return targets;
}

function table(headers: string[], rows: string[][]): string {
  return [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function throughputTable(results: BenchResults, scenario: ThroughputScenario | VariedScenario | undefined): string {
  if (!scenario) return '_not run_';
  const varied = 'problems' in scenario ? scenario : null;
  const headers = ['system', 'req/s', 'p50 ms', 'p99 ms', 'gateway ×', 'bad answers', 'RSS after'];
  if (varied) headers.push('bodies sent (all distinct)', 'upstream calls in the load', 'response-cache hits', 'check');
  const rows = (Object.keys(scenario.median) as SystemId[]).map((id) => {
    const m = scenario.median[id]!;
    const ratio = id === 'gateway' ? '1' : fmt(scenario.ratios[`gateway/${id}`]?.median);
    const row = [results.systems[id]?.label ?? id, fmt(m.requestsPerSec, 0), fmt(m.p50Ms), fmt(m.p99Ms), ratio, String(m.mismatches + m.non2xx), mb(m.rssBytes)];
    if (varied) {
      const v = varied.median[id]!;
      const invalid = varied.rounds.filter((r) => r.invalid[id]).map((r) => `round ${r.round}: ${r.invalid[id]}`);
      row.push(
        `${fmt(v.requestsGenerated, 0)}${v.repeatedBodies ? ` (**${v.repeatedBodies} repeated**)` : ''}`,
        fmt(v.upstreamCalls, 0),
        v.responseCacheHits === null ? 'n/a (no counter)' : String(v.responseCacheHits),
        invalid.length ? `**FAILED: ${invalid.join('; ')}**` : id === 'gateway' ? 'ok (counter did not grow)' : 'ok (no repeats)',
      );
    }
    return row;
  });
  const failures = scenario.rounds.flatMap((r) => Object.entries(r.failures).map(([id, reason]) => `- round ${r.round}, ${id}: ${String(reason).split('\n')[0]}`));
  return [table(headers, rows), ...(failures.length ? ['', ...failures] : [])].join('\n');
}

function overheadRow(when: string, phase: OverheadPhase): string[] {
  return [
    when,
    fmt(phase.gatewayP50Ms),
    fmt(phase.directParallelP50Ms),
    fmt(phase.directChainedP50Ms),
    signed(phase.overheadP50Ms),
    signed(phase.overheadOverChainedP50Ms),
    `${phase.iterations}${phase.failedGatewayQueries ? ` (${phase.failedGatewayQueries} failed)` : ''}`,
  ];
}

function perSystem<T extends object>(
  results: BenchResults,
  data: Partial<Record<SystemId, T | { notMeasured: string }>> | undefined,
  headers: string[],
  row: (value: T) => string[][],
): string {
  if (!data) return '_not run_';
  const rows: string[][] = [];
  for (const [id, value] of Object.entries(data) as Array<[SystemId, T | { notMeasured: string }]>) {
    const label = results.systems[id]?.label ?? id;
    if (isMeasured(value)) for (const r of row(value)) rows.push([label, ...r]);
    else rows.push([label, `not measured: ${value.notMeasured.split('\n')[0]}`, ...headers.slice(2).map(() => '')]);
  }
  return table(headers, rows);
}

export function renderMarkdown(results: BenchResults): string {
  const m = results.meta;
  const out: string[] = [];
  out.push('# Gateway benchmark', '');
  out.push(
    `${m.date} · ${m.settings.complete === false ? `**partial run** (scenarios ${(m.settings.scenarios as string[]).join(', ')}${m.settings.only ? `; systems ${(m.settings.only as string[]).join(', ')}` : ''}) · ` : ''}${m.quick ? '**quick smoke run** (short phases, 1 round: indicative only)' : `${m.settings.rounds} rounds`} · Node ${m.node} · ${m.cores} cores (${m.cpuModel}) · load average at start ${m.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')} · simulated Katapult latency ${m.settings.latencyMs} ms · gateway run as ${m.gatewayRunMode}`,
    '',
  );
  out.push('## Targets', '', table(['', 'what', 'target', 'measured', 'met'], results.targets.map((t) => [t.id, t.description, t.target, t.value, t.met === null ? '—' : t.met ? 'yes' : '**no**'])), '');
  out.push('## Systems', '', table(['id', 'system', 'measured'], (Object.entries(results.systems) as Array<[string, { label: string; measured: boolean; reason?: string }]>).map(([id, s]) => [id, s.label, s.measured ? 'yes' : `not measured: ${s.reason ?? ''}`])), '');
  out.push(`## P1: warm, identical dashboard query (${results.p1?.organization ?? 'acme'}, first: 30), ${m.settings.connections} connections, ${m.settings.durationS} s per system per round`, '');
  out.push('Medians over rounds; "gateway ×" is the median of the per-round ratios of req/s.', '', throughputTable(results, results.p1), '');
  const p1b = results.p1b;
  out.push(
    `## P1b: warm, varied: every request body new (${p1b ? `${p1b.selections} selections × ${p1b.windows} windows of ${p1b.listLength} VMs` : 'selections × windows'}), ${m.settings.variedDurationS} s per system per round`,
    '',
    'Each request pairs one of 256 selections (every subset of eight optional parts: name, hostname, fqdn, zone, data center and country, package, addresses, totalCount/pageInfo) with one window: `first` 1–100 from a page-aligned `after` cursor collected in warm-up (Mesh: the same windows as `per_page`/`page`). No body is sent twice, so no finished-response cache can answer; the REST data underneath is warmed first. "Upstream calls" counts Katapult calls during the load (warm-up and measured phase); Mesh has no REST-level cache. The check column fails the row when the gateway\'s `response_cache_hits_total` grew during P1b or a body repeated.',
    '',
    throughputTable(results, p1b),
    '',
  );
  out.push(
    '## P2: concurrent identical cold queries (dashboard, globex, a new token each burst)',
    '',
    perSystem(results, results.p2, ['system', 'concurrent', 'upstream calls', 'distinct URLs', 'answered', 'p50 ms', 'max ms'], (figures) =>
      figures.map((f) => [String(f.concurrent), String(f.upstreamCalls), String(f.distinctUrls), `${f.okResponses}/${f.concurrent}`, fmt(f.p50Ms), fmt(f.maxMs)]),
    ),
    '',
  );
  out.push(
    '## P3: walk 1,000 of acme\'s VMs in windows of 25 (cold)',
    '',
    perSystem(results, results.p3, ['system', 'upstream calls', 'windows', 'VMs', 'how'], (w) => [[String(w.upstreamCalls), String(w.windows), String(w.vmsSeen), w.how]]),
    '',
  );
  out.push(
    '## P4: cold-path latency against the same REST calls made directly (new token each iteration, after one probe call)',
    '',
    perSystem(results, results.p4, ['system', 'measured', 'p50 ms', 'direct parallel p50', 'direct chained p50', 'overhead (parallel)', 'overhead (chained)', 'iterations'], (o) => [
      overheadRow('before the warm-up', o.beforeWarmup),
      overheadRow(`after ${o.warmupQueries} warm-up queries${o.warmupFailures ? ` (${o.warmupFailures} failed)` : ''}`, o),
    ]),
    '',
    '"Parallel" fires every REST call the system made at once; "chained" fetches the VM list first and the rest after it, as the data depends.',
    'Each system is measured twice in one process: first as P3 and P2 leave it, then after a warm-up of cold queries (new tokens, 20 at a time) during which the load process makes the same direct calls, parallel and chained, so both sides have run their code paths as often. The target is judged on the second: a gateway in service has run its cold path many times over.',
    '',
  );
  out.push(
    `## P5: burst of 10× a token's budget (${m.settings.burstLimit} per ${m.settings.burstWindowMs} ms window)`,
    '',
    perSystem(results, results.p5, ['system', 'queries', 'upstream calls', '429s', 'peak per window', 'answered', 'time s'], (f) => [
      [String(f.queries), String(f.upstreamCalls), String(f.upstream429), `${f.peakCallsPerWindow}/${f.permittedPerWindow}`, `${f.okResponses}/${f.queries}`, fmt(f.elapsedMs / 1000, 1)],
    ]),
    '',
  );
  const p6 = results.p6;
  out.push('## P6: resident memory with many warm tokens', '');
  if (isMeasured(p6)) {
    out.push(
      table(
        ['tokens', 'queries', 'CACHE_MAX_BYTES', 'RSS before', 'RSS right after', `RSS lowest in ${p6.settleS} s idle`, 'peak RSS (by the end of the load)', 'limit', 'failed', 'time s', 'upstream calls'],
        [
          [
            p6.tokens.toLocaleString('en'),
            String(p6.tokens * p6.queriesPerToken),
            mb(p6.cacheMaxBytes),
            mb(p6.rssBeforeBytes),
            mb(p6.rssRightAfterBytes),
            mb(p6.rssBytes),
            `${mb(p6.peakRssBytes)} (${mb(p6.peakRightAfterBytes)})`,
            mb(p6.rssLimitBytes),
            String(p6.failedQueries),
            fmt(p6.elapsedMs / 1000, 1),
            String(p6.upstreamCalls),
          ],
        ],
      ),
      '',
      `Gateway metrics after the load: ${Object.entries(p6.metrics).map(([k, v]) => `${k} ${v}`).join(', ') || 'none served'}.`,
      '',
    );
  } else out.push(p6 ? `not measured: ${p6.notMeasured}` : '_not run_', '');
  if (results.notes.length) out.push('## Notes', '', ...results.notes.map((n) => `- ${n}`), '');
  out.push('## Versions', '', ...Object.entries(m.versions).map(([k, v]) => `- ${k}: ${Object.entries(v).map(([n, ver]) => `${n} ${ver ?? '?'}`).join(', ')}`), '');
  return out.join('\n');
}
