import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import { createTestGateway } from '../helpers/gateway.js';
import { InvalidInputError, MissingTokenError } from '../../src/data/errors.js';
import { UpstreamApiError } from '../../src/upstream/errors.js';
import { createLogger, exitAfterLogs, yogaLogging } from '../../src/logger.js';
import { isExpectedError } from '../../src/schema/errors.js';
import { MAX_LOGGED_OPERATION_NAME } from '../../src/server/request-log.js';
import { createSimulator, DEMO_TOKENS, LOAD_TOKEN_PREFIX } from '../../src/simulator/index.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import type { FetchLike } from '../../src/upstream/http.js';
import { bearer, get, ORG_NAME_QUERY, post, raw, startGateway, type TestGateway } from './gateway.js';

// Neither is a demo token: a leak of either would be a real leak, not a fixture echo.
const SECRET_TOKEN = `${LOAD_TOKEN_PREFIX}secret_abc123_${randomBytes(8).toString('hex')}`;
const INVALID_TOKEN = `kp_${randomBytes(12).toString('hex')}`;

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startGateway({ env: { LOG_LEVEL: 'debug' } });
  const { endpoint } = gateway;
  const auth = bearer(SECRET_TOKEN);
  const vmsQuery = 'query Fleet { organization(subDomain: "globex") { virtualMachines(first: 5) { edges { node { name zone { name } } } } } }';
  const apqQuery = 'query Apq { organization(subDomain: "globex") { id } }';
  const sha256Hash = createHash('sha256').update(apqQuery).digest('hex');
  const persistedQuery = { version: 1, sha256Hash };

  // A representative day: data, errors, bad and missing tokens, APQ, GET, garbage.
  await post(endpoint, { query: vmsQuery }, { ...auth, 'x-request-id': 'summary-check-1' });
  await post(endpoint, { query: vmsQuery }, auth);
  await post(endpoint, { query: '{ organization(id: "org_x", subDomain: "y") { name } }' }, auth);
  await post(endpoint, { query: '{ virtualMachine(id: "vm_doesnotexist00") { name } }' }, auth);
  await post(endpoint, { query: ORG_NAME_QUERY }, bearer(INVALID_TOKEN));
  await post(endpoint, { query: ORG_NAME_QUERY }, bearer(INVALID_TOKEN));
  await post(endpoint, { query: ORG_NAME_QUERY });
  await post(endpoint, { query: ORG_NAME_QUERY }, { authorization: `Token ${SECRET_TOKEN}` });
  await post(endpoint, { extensions: { persistedQuery } }, auth);
  await post(endpoint, { query: apqQuery, extensions: { persistedQuery } }, auth);
  await get(endpoint, { extensions: { persistedQuery } }, auth);
  await get(endpoint, { query: ORG_NAME_QUERY }, auth);
  await get(endpoint, { query: ORG_NAME_QUERY }, { authorization: `Bearer ${SECRET_TOKEN}` });
  await raw(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{"query": "{ organiz' });
  await raw(endpoint, { method: 'POST', headers: { 'content-type': 'text/plain', ...auth }, body: `{"query":"{ viewer { id } }"}` });
  await post(endpoint, { query: '{ nonsense }' }, bearer(INVALID_TOKEN));
  await post(endpoint, { query: '{ countries(first: 500) { totalCount } }' }, auth);
  await post(endpoint, { query: '{ countries(after: "bogus") { totalCount } }' }, auth);
  await post(endpoint, { query: 'query ($n: Int!) { countries(first: $n) { totalCount } }', variables: { n: 'ten' } }, auth);
});

afterAll(() => gateway?.close());

const records = () => gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>);

describe('request logging', () => {
  it('writes one JSON record per line', () => {
    expect(gateway.logs.length).toBeGreaterThan(10);
    for (const line of gateway.logs) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('never writes a token or an Authorization header value, even at debug level', () => {
    const all = gateway.logs.join('\n');
    expect(all).not.toContain(SECRET_TOKEN);
    expect(all).not.toContain(INVALID_TOKEN);
    expect(all).not.toContain('secret_abc123');
    expect(all).not.toMatch(/Bearer\s+kp_/i);
  });

  it('writes a summary line per GraphQL request with timing, cache, queue and a token fingerprint', () => {
    const summaries = records().filter((r) => r.msg === 'graphql request');
    expect(summaries).toHaveLength(19);
    const first = summaries.find((r) => r.requestId === 'summary-check-1')!;
    expect(first).toMatchObject({
      operationName: 'Fleet',
      method: 'POST',
      status: 200,
      upstreamCalls: 1,
      cache: { hits: 0, misses: 1, stale: 0, coalesced: 0 },
      tokenFingerprint: gateway.app.tokens.fingerprint(SECRET_TOKEN),
    });
    expect(first.durationMs).toEqual(expect.any(Number));
    expect(first.queueWaitMs).toEqual(expect.any(Number));
    const second = summaries.filter((r) => r.operationName === 'Fleet')[1]!;
    expect(second).toMatchObject({ upstreamCalls: 0, cache: { hits: 1, misses: 0 } });
    const anonymous = summaries.find((r) => r.status === 401);
    expect(anonymous).toMatchObject({ tokenFingerprint: gateway.app.tokens.fingerprint(INVALID_TOKEN) });
    expect(summaries.filter((r) => r.tokenFingerprint === null).length).toBeGreaterThanOrEqual(2);
  });

  it('logs none of those client mistakes as a server error (they are in each summary line)', () => {
    expect(records().filter((r) => (r.level as number) >= 50)).toEqual([]);
    // They are still there for whoever debugs, at debug level, with the contract's code behind them.
    const demoted = records().filter((r) => r.level === 20 && (r.err as { type?: string } | undefined)?.type === 'GraphQLError');
    expect(demoted.map((r) => r.msg)).toEqual(expect.arrayContaining([expect.stringMatching(/"first" must be an integer/), expect.stringMatching(/cursor/i)]));
  });

  it("keeps Katapult's own request id for each upstream call at debug level", () => {
    const calls = records().filter((r) => r.msg === 'upstream call');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls[0]).toMatchObject({ upstream: { path: expect.stringMatching(/^\//), katapultRequestId: expect.any(String) } });
  });
});

describe('errors yoga reports', () => {
  const capture = () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
    return { logging: yogaLogging(logger, isExpectedError), records: () => lines.map((line) => JSON.parse(line) as { level: number; msg: string; err?: { stack?: string } }) };
  };

  it('keeps an unexpected error at error level, with its stack', () => {
    const { logging, records } = capture();
    logging.error(new GraphQLError('Unexpected error.', { originalError: new TypeError('boom') }));
    logging.error(new TypeError('bare boom'));
    expect(records().map((r) => [r.level, r.msg])).toEqual([
      [50, 'Unexpected error.'],
      [50, 'bare boom'],
    ]);
    expect(records()[1]!.err?.stack).toContain('TypeError: bare boom');
  });

  it('warns about each Katapult fault (a 5xx), so an outage shows without debug logging', async () => {
    const failing = await startGateway({ env: { LOG_LEVEL: 'info', QUEUE_RETRY_MAX_ATTEMPTS: '1' }, simulator: createSimulator({ failureRatio: 1 }) });
    try {
      const response = await post(failing.endpoint, { query: '{ zones { id } }' }, bearer(SECRET_TOKEN));
      expect(response.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      const lines = failing.logs.map((line) => JSON.parse(line) as { level: number; msg: string; upstream?: { status: number } });
      expect(lines.filter((r) => r.msg === 'upstream call').map((r) => [r.level, r.upstream?.status])).toEqual([[40, 503]]);
      expect(lines.filter((r) => r.level >= 50)).toEqual([]);
    } finally {
      await failing.close();
    }
  });

  it('counts in a summary line only the Katapult calls actually made, not one the open circuit refused', async () => {
    const failing = await startGateway({
      env: { LOG_LEVEL: 'info', QUEUE_RETRY_MAX_ATTEMPTS: '1', QUEUE_CIRCUIT_FAILURE_THRESHOLD: '1', QUEUE_CIRCUIT_OPEN_MS: '60000' },
      simulator: createSimulator({ failureRatio: 1 }),
    });
    try {
      await post(failing.endpoint, { query: '{ zones { id } }' }, { ...bearer(SECRET_TOKEN), 'x-request-id': 'made-1' });
      await post(failing.endpoint, { query: '{ dataCenters { id } }' }, { ...bearer(SECRET_TOKEN), 'x-request-id': 'refused-1' });
      const summaries = failing.logs.map((line) => JSON.parse(line) as { msg: string; requestId?: string; upstreamCalls?: number }).filter((r) => r.msg === 'graphql request');
      expect(summaries.map((r) => [r.requestId, r.upstreamCalls])).toEqual([
        ['made-1', 1],
        ['refused-1', 0],
      ]);
    } finally {
      await failing.close();
    }
  });

  it('counts a call Katapult answered 429 and the gateway sent again as one call', async () => {
    let fetches = 0;
    const gateway = createTestGateway({
      env: { CACHE_EXTENSIONS: 'true' },
      wrapFetch: (simulator) => (input, init) => {
        fetches++;
        if (fetches > 1) return simulator(input, init);
        const body = JSON.stringify({ error: { code: 'rate_limit_reached', description: 'Rate limit reached', detail: { total_permitted: 100 } } });
        return Promise.resolve(new Response(body, { status: 429, headers: { 'content-type': 'application/json', 'retry-after': '0.05' } }));
      },
    });
    try {
      const answer = await gateway.query('{ zones { id } }', { token: SECRET_TOKEN });
      expect(answer.body.errors).toBeUndefined();
      expect(fetches).toBe(2);
      expect(answer.body.extensions?.cache).toMatchObject({ misses: 1, upstreamCalls: 1 });
    } finally {
      await gateway.close();
    }
  });

  it('says at warn level why a connection to Katapult failed (refused, unresolved), not only that it did', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = await startGateway({ env: { LOG_LEVEL: 'warn', QUEUE_RETRY_MAX_ATTEMPTS: '1' }, upstreamBaseUrl: `http://127.0.0.1:${port}/core/v1` });
    try {
      const response = await post(unreachable.endpoint, { query: '{ zones { id } }' }, bearer(SECRET_TOKEN));
      expect(response.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      const lines = unreachable.logs.map((line) => JSON.parse(line) as { level: number; msg: string; upstream?: { error: string; cause?: string } });
      expect(lines.filter((r) => r.msg === 'upstream call').map((r) => [r.level, r.upstream?.error, r.upstream?.cause])).toEqual([[40, 'network', 'ECONNREFUSED']]);
    } finally {
      await unreachable.close();
    }
  });

  it('refuses an answer over UPSTREAM_MAX_BODY_BYTES once, as UPSTREAM_UNAVAILABLE, and says why at warn level', async () => {
    const calls: string[] = [];
    const oversized = createServer((req, res) => {
      calls.push(req.url ?? '');
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-permitted': '1000', 'x-ratelimit-remaining': '999' });
      res.end(JSON.stringify({ zones: Array.from({ length: 2000 }, (_, i) => ({ id: `zone_${i}`, name: 'A zone with a long enough name' })) }));
    });
    await new Promise<void>((resolve) => oversized.listen(0, '127.0.0.1', resolve));
    const { port } = oversized.address() as AddressInfo;
    const gateway = await startGateway({ env: { LOG_LEVEL: 'warn', UPSTREAM_MAX_BODY_BYTES: '65536' }, upstreamBaseUrl: `http://127.0.0.1:${port}/core/v1` });
    try {
      const response = await post(gateway.endpoint, { query: '{ zones { id } }' }, { ...bearer(SECRET_TOKEN), 'x-request-id': 'oversize-1' });
      expect(response.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(response.json.errors[0].message).toBe('Katapult sent an answer larger than the gateway reads (UPSTREAM_MAX_BODY_BYTES): the gateway needs its operator');
      // Not retried: the same answer would come again.
      expect(calls).toHaveLength(1);
      const lines = gateway.logs.map((line) => JSON.parse(line) as { level: number; msg: string; requestId?: string; maxBodyBytes?: number });
      const said = lines.filter((r) => /UPSTREAM_MAX_BODY_BYTES/.test(r.msg));
      expect(said.map((r) => [r.level, r.requestId, r.maxBodyBytes])).toEqual([[40, 'oversize-1', 65_536]]);
      expect(said[0]!.msg).toMatch(/over UPSTREAM_MAX_BODY_BYTES \(65536 bytes\)/);
    } finally {
      await gateway.close();
      await new Promise<void>((resolve) => oversized.close(() => resolve()));
    }
  });

  it('cuts a very long operation name short in the summary line', async () => {
    const name = `Long${'x'.repeat(5000)}`;
    await post(gateway.endpoint, { query: `query ${name} { zones { id } }` }, { ...bearer(SECRET_TOKEN), 'x-request-id': 'long-name-1' });
    const summary = records().find((r) => r.msg === 'graphql request' && r.requestId === 'long-name-1');
    expect(summary?.status).toBe(200);
    expect(summary?.operationName).toBe(`${name.slice(0, MAX_LOGGED_OPERATION_NAME)}…`);
  });

  it('writes the contract’s errors (a missing token, a bad argument) at debug level', () => {
    const { logging, records } = capture();
    logging.error(new GraphQLError('needs a token', { originalError: new MissingTokenError() }));
    logging.error(new GraphQLError('bad first', { originalError: new InvalidInputError('"first" must be an integer from 0 to 100, got 500', 'first') }));
    expect(records().map((r) => r.level)).toEqual([20, 20]);
  });

  it('keeps a Katapult error code nobody documented at error level: it is news for whoever runs the gateway', () => {
    const { logging, records } = capture();
    logging.error(new GraphQLError('x', { originalError: new UpstreamApiError(422, 'brand_new_code', 'New', {}) }));
    logging.error(new GraphQLError('x', { originalError: new UpstreamApiError(404, 'zone_not_found', 'No zone', {}) }));
    expect(records().map((r) => r.level)).toEqual([50, 20]);
  });
});

describe('request ids', () => {
  it.each(['/health', '/ready', '/metrics', '/nowhere', '/graphql'])('echoes an incoming X-Request-Id on %s', async (path) => {
    const response = await raw(`${gateway.url}${path}`, { headers: { 'x-request-id': 'abc-123.def' } });
    expect(response.headers['x-request-id']).toBe('abc-123.def');
  });

  it('replaces an id that could forge log content with a fresh one', async () => {
    const response = await raw(`${gateway.url}/health`, { headers: { 'x-request-id': 'a"b' } });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('exiting after the last log lines', () => {
  /** A destination whose writes finish later, as stdout's do: `flush` answers once they have. */
  const slowDestination = (flushDelayMs: number | null) => {
    const written: string[] = [];
    const pending: string[] = [];
    return {
      written,
      destination: {
        write: (line: string) => void pending.push(line),
        flush: (callback: () => void) => {
          if (flushDelayMs === null) return; // a stdout that never drains
          setTimeout(() => {
            written.push(...pending.splice(0));
            callback();
          }, flushDelayMs);
        },
      },
    };
  };

  it('exits only once every line logged before it is written', async () => {
    const { written, destination } = slowDestination(20);
    const logger = createLogger({ level: 'info', destination });
    const exits: Array<{ code: number; linesWritten: number }> = [];
    logger.info('shutting down: finishing in-flight requests');
    logger.info('stopped');
    exitAfterLogs(logger, 0, { exit: (code) => exits.push({ code, linesWritten: written.length }) });
    expect(exits).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(exits).toEqual([{ code: 0, linesWritten: 2 }]);
    expect(written.map((line) => JSON.parse(line).msg)).toEqual(['shutting down: finishing in-flight requests', 'stopped']);
  });

  it('waits for pino’s own asynchronous destination, whose flush does not wait for a write under way', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'exit-after-logs-'));
    try {
      const file = join(dir, 'out.log');
      // What pino writes to stdout by default: sonic-boom, asynchronous, each line written at once.
      const destination = pino.destination({ dest: file, sync: false });
      await once(destination, 'ready');
      const logger = createLogger({ level: 'info', destination });
      for (let i = 0; i < 2000; i++) logger.info({ i }, 'serving');
      logger.info('stopped');
      const atExit = await new Promise<string[]>((resolve) => exitAfterLogs(logger, 0, { exit: () => resolve(readFileSync(file, 'utf8').trim().split('\n')) }));
      expect(atExit).toHaveLength(2001);
      expect(atExit.map((line) => JSON.parse(line).msg).at(-1)).toBe('stopped');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits anyway, once, when the output never drains', async () => {
    const { destination } = slowDestination(null);
    const logger = createLogger({ level: 'info', destination });
    const exits: number[] = [];
    logger.info('stopped');
    exitAfterLogs(logger, 1, { exit: (code) => exits.push(code), timeoutMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(exits).toEqual([1]);
  });
});

/** Wraps the simulator's fetch so its answers carry a `Date` `behindMs` behind `clock`. */
const datedBehind =
  (clock: { now(): number }, behindMs: number) =>
  (simulator: FetchLike): FetchLike =>
  async (input, init) => {
    const answer = await simulator(input, init);
    const headers = new Headers(answer.headers);
    headers.set('date', new Date(clock.now() - behindMs).toUTCString());
    return new Response(await answer.arrayBuffer(), { status: answer.status, headers });
  };

describe("a Katapult clock behind the gateway's", () => {
  it('is logged as a warning that names QUEUE_WINDOW_OFFSET_MS and what to set it to, once, not on every answer', async () => {
    // One second into a minute by the gateway's clock, while Katapult's Date still reads 3 s earlier.
    const clock = createFakeClock();
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
    const dated3sBehind = datedBehind(clock, 3_000);
    const reports = () => lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((r) => /Katapult's clock/.test(r.msg));

    const gateway = createTestGateway({ clock, logger, wrapFetch: dated3sBehind });
    try {
      // Two tokens, each its own window's first reading: the second is not logged again.
      for (const token of [DEMO_TOKENS.acme, DEMO_TOKENS.globex]) {
        expect((await gateway.query('{ zones { id } }', { token, headers: { 'cache-control': 'no-cache' } })).body.errors).toBeUndefined();
      }
    } finally {
      await gateway.close();
    }
    expect(reports()).toHaveLength(1);
    expect(reports()[0]!.level).toBe(40);
    expect(reports()[0]!.msg).toMatch(/^Katapult's clock is 1250 to 3000 ms behind this machine's .* more than QUEUE_WINDOW_OFFSET_MS \(250\): .* set QUEUE_WINDOW_OFFSET_MS to 3250, or correct the clocks$/);

    // Set to that, the same Date is not reported.
    const covered = createTestGateway({ clock, logger, env: { QUEUE_WINDOW_OFFSET_MS: '3250' }, wrapFetch: dated3sBehind });
    try {
      expect((await covered.query('{ zones { id } }', { token: DEMO_TOKENS.acme })).body.errors).toBeUndefined();
    } finally {
      await covered.close();
    }
    expect(reports()).toHaveLength(1);
  });

  it('is logged the other way when QUEUE_WINDOW_OFFSET_MS is more than the lag needs, with the offset that does', async () => {
    // One second into a minute, Katapult's Date in step: an offset of 5 s still counts this call in the minute before.
    const clock = createFakeClock();
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
    const dated = datedBehind(clock, 0);
    const gateway = createTestGateway({ clock, logger, env: { QUEUE_WINDOW_OFFSET_MS: '5000', QUEUE_REPLICAS: '2' }, wrapFetch: dated });
    try {
      expect((await gateway.query('{ zones { id } }', { token: DEMO_TOKENS.acme })).body.errors).toBeUndefined();
    } finally {
      await gateway.close();
    }
    const reports = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((r) => /QUEUE_WINDOW_OFFSET_MS/.test(r.msg));
    expect(reports).toHaveLength(1);
    expect(reports[0]!.msg).toMatch(/^QUEUE_WINDOW_OFFSET_MS \(5000\) is more than Katapult's clock needs: it is at most 0 ms behind .*which can cost replicas a 429; set QUEUE_WINDOW_OFFSET_MS to 250$/);
  });
});
