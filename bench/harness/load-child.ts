import autocannon from 'autocannon';
import { createVariedSequence, type VariedWorkload } from './varied.js';

/**
 * The load generator, always in its own process so it never shares an event loop with what it
 * measures. It reads one job as JSON on stdin and prints one JSON result on stdout.
 */
export interface HttpRequestSpec {
  headers: Record<string, string>;
  body: string;
}

export type LoadJob =
  /**
   * Closed-loop load with autocannon. A response counts as a mismatch when it carries GraphQL
   * `errors` or lacks `expect` (Mesh answers a failed REST call with an empty union member, not an error).
   */
  | {
      kind: 'autocannon';
      url: string;
      connections: number;
      durationS: number;
      warmupS: number;
      /** Sent in rotation; with `varied`, only their headers are used. */
      requests: HttpRequestSpec[];
      expect: string;
      /** P1b: a new body for every request, from one sequence shared by all connections, warm-up and measured phase alike. */
      varied?: VariedWorkload;
    }
  /** Every request sent at once; an answer without `expect` counts as failed. */
  | { kind: 'burst'; url: string; requests: HttpRequestSpec[]; expect: string }
  /** For each of `tokens` tokens (`prefix` + n), the bodies in order; `concurrency` tokens at a time. */
  | { kind: 'pool'; url: string; concurrency: number; tokenPrefix: string; tokens: number; bodies: string[]; expect: string }
  /** Cold queries through a gateway against the same REST calls made directly, alternating. */
  | {
      kind: 'overhead';
      url: string;
      iterations: number;
      tokenPrefix: string;
      probeBody: string;
      body: string;
      expect: string;
      /** The REST URLs the cold query needs; the first is the one the others depend on. */
      directUrls: string[];
      directProbeUrl: string;
      /** Cold queries (each with its direct calls) run between the two measurements, `warmupConcurrency` at a time. */
      warmupQueries: number;
      warmupConcurrency: number;
    };

export interface AutocannonSummary {
  requestsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  total: number;
  bytesPerSec: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  durationS: number;
  /** With `varied`: bodies built (warm-up and measured phase, one per request sent) and how many of them repeated an earlier one. */
  varied?: { generated: number; capacity: number; overflow: number };
}

export interface BurstOutcome {
  status: number;
  ms: number;
  /** GraphQL `errors[].extensions.code` (or 'NO_DATA'); empty when the answer had none. */
  errorCodes: string[];
}

export interface PoolSummary {
  requests: number;
  ok: number;
  failed: number;
  errorCodes: Record<string, number>;
  elapsedMs: number;
}

/** P4's samples: on the process as the earlier phases left it, then after the warm-up. */
export interface OverheadSamples {
  first: OverheadSample[];
  warm: OverheadSample[];
  /** Warm-up queries (or their direct calls) that did not come back clean: not measured, but a failing system is worth knowing about. */
  warmupFailures: number;
}

export interface OverheadSample {
  gatewayMs: number;
  directParallelMs: number;
  directChainedMs: number;
  gatewayOk: boolean;
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' };

function errorCodesOf(text: string, expect: string | undefined): string[] {
  try {
    const body = JSON.parse(text) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
    const codes = (body.errors ?? []).map((e) => e.extensions?.code ?? 'UNKNOWN');
    if (codes.length === 0 && (body.data === undefined || body.data === null)) return ['NO_DATA'];
    if (codes.length === 0 && expect !== undefined && !text.includes(expect)) return ['MISSING_EXPECTED_DATA'];
    return codes;
  } catch {
    return ['UNPARSABLE'];
  }
}

async function post(url: string, spec: HttpRequestSpec, expect?: string): Promise<BurstOutcome> {
  const started = performance.now();
  try {
    const response = await fetch(url, { method: 'POST', headers: { ...JSON_HEADERS, ...spec.headers }, body: spec.body });
    const text = await response.text();
    return { status: response.status, ms: performance.now() - started, errorCodes: errorCodesOf(text, expect) };
  } catch (error) {
    return { status: 0, ms: performance.now() - started, errorCodes: [`FETCH_FAILED:${(error as Error).message}`] };
  }
}

type VariedSequence = ReturnType<typeof createVariedSequence>;

function runAutocannon(job: Extract<LoadJob, { kind: 'autocannon' }>, durationS: number, sequence: VariedSequence | null): Promise<autocannon.Result> {
  const requests = sequence
    ? [
        {
          method: 'POST' as const,
          headers: { ...JSON_HEADERS, ...job.requests[0]!.headers },
          // autocannon rebuilds the request through this before every send (a reconnect included).
          setupRequest: (request: autocannon.Request) => {
            request.body = sequence.next();
            return request;
          },
        },
      ]
    : job.requests.map((r) => ({ method: 'POST' as const, headers: { ...JSON_HEADERS, ...r.headers }, body: r.body }));
  return autocannon({
    url: job.url,
    connections: job.connections,
    duration: durationS,
    requests,
    verifyBody: (body) => typeof body === 'string' && !body.includes('"errors"') && body.includes(job.expect),
  });
}

async function autocannonJob(job: Extract<LoadJob, { kind: 'autocannon' }>): Promise<AutocannonSummary> {
  const sequence = job.varied ? createVariedSequence(job.varied) : null;
  if (job.warmupS > 0) await runAutocannon(job, job.warmupS, sequence);
  const result = await runAutocannon(job, job.durationS, sequence);
  return {
    requestsPerSec: result.requests.total / result.duration,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, mean: result.latency.mean, max: result.latency.max },
    total: result.requests.total,
    bytesPerSec: result.throughput.average,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    durationS: result.duration,
    ...(sequence ? { varied: { generated: sequence.generated, capacity: sequence.capacity, overflow: sequence.overflow } } : {}),
  };
}

async function poolJob(job: Extract<LoadJob, { kind: 'pool' }>): Promise<PoolSummary> {
  const started = performance.now();
  const summary: PoolSummary = { requests: 0, ok: 0, failed: 0, errorCodes: {}, elapsedMs: 0 };
  let next = 0;
  const worker = async () => {
    while (next < job.tokens) {
      const token = `${job.tokenPrefix}${next++}`;
      for (const body of job.bodies) {
        const outcome = await post(job.url, { headers: { authorization: `Bearer ${token}` }, body }, job.expect);
        summary.requests++;
        if (outcome.status === 200 && outcome.errorCodes.length === 0) summary.ok++;
        else {
          summary.failed++;
          for (const code of outcome.errorCodes.length ? outcome.errorCodes : [`HTTP_${outcome.status}`]) summary.errorCodes[code] = (summary.errorCodes[code] ?? 0) + 1;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  summary.elapsedMs = performance.now() - started;
  return summary;
}

async function timeDirect(urls: string[], token: string, chained: boolean): Promise<number> {
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
  const get = async (url: string) => JSON.parse(await (await fetch(url, { headers })).text()) as unknown;
  const started = performance.now();
  if (chained) {
    await get(urls[0]!);
    await Promise.all(urls.slice(1).map(get));
  } else {
    await Promise.all(urls.map(get));
  }
  return performance.now() - started;
}

async function overheadJob(job: Extract<LoadJob, { kind: 'overhead' }>): Promise<OverheadSamples> {
  const first = await overheadSamples(job, 'a');
  // Both sides warm up alike: the system with cold queries, this process with the direct calls.
  let next = 0;
  let warmupFailures = 0;
  const worker = async () => {
    for (let i = next++; i < job.warmupQueries; i = next++) {
      const token = `${job.tokenPrefix}w${i}`;
      await post(job.url, { headers: { authorization: `Bearer ${token}` }, body: job.probeBody });
      const outcome = await post(job.url, { headers: { authorization: `Bearer ${token}` }, body: job.body }, job.expect);
      if (outcome.status !== 200 || outcome.errorCodes.length > 0) warmupFailures++;
      try {
        await fetch(job.directProbeUrl, { headers: { authorization: `Bearer ${token}d` } }).then((r) => r.arrayBuffer());
        await timeDirect(job.directUrls, `${token}d`, false);
        await timeDirect(job.directUrls, `${token}d`, true);
      } catch {
        // A direct call that failed is only warm-up lost; the measured phases report their own.
        warmupFailures++;
      }
    }
  };
  await Promise.all(Array.from({ length: job.warmupConcurrency }, worker));
  const warm = await overheadSamples(job, 'b');
  return { first, warm, warmupFailures };
}

async function overheadSamples(job: Extract<LoadJob, { kind: 'overhead' }>, phase: string): Promise<OverheadSample[]> {
  const samples: OverheadSample[] = [];
  for (let i = 0; i < job.iterations; i++) {
    const gatewayToken = `${job.tokenPrefix}${phase}g${i}`;
    const directToken = `${job.tokenPrefix}${phase}d${i}`;
    const gateway = async () => {
      await post(job.url, { headers: { authorization: `Bearer ${gatewayToken}` }, body: job.probeBody });
      return post(job.url, { headers: { authorization: `Bearer ${gatewayToken}` }, body: job.body }, job.expect);
    };
    const direct = async () => {
      await fetch(job.directProbeUrl, { headers: { authorization: `Bearer ${directToken}` } }).then((r) => r.arrayBuffer());
      return { parallel: await timeDirect(job.directUrls, directToken, false), chained: await timeDirect(job.directUrls, directToken, true) };
    };
    // Alternate which side goes first so neither always meets a warmer machine.
    let g: BurstOutcome;
    let d: { parallel: number; chained: number };
    if (i % 2 === 0) {
      g = await gateway();
      d = await direct();
    } else {
      d = await direct();
      g = await gateway();
    }
    samples.push({ gatewayMs: g.ms, directParallelMs: d.parallel, directChainedMs: d.chained, gatewayOk: g.status === 200 && g.errorCodes.length === 0 });
  }
  return samples;
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const job = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadJob;
  let result: unknown;
  switch (job.kind) {
    case 'autocannon':
      result = await autocannonJob(job);
      break;
    case 'burst':
      result = await Promise.all(job.requests.map((r) => post(job.url, r, job.expect)));
      break;
    case 'pool':
      result = await poolJob(job);
      break;
    case 'overhead':
      result = await overheadJob(job);
      break;
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
