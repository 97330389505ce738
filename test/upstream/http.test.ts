import { getEventListeners } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { createSimulator, DEMO_TOKENS } from '../../src/simulator/index.js';
import {
  isForeignRefusal,
  UpstreamApiError,
  UpstreamBodyTooLargeError,
  UpstreamError,
  UpstreamMalformedError,
  UpstreamNetworkError,
  UpstreamPageSizeError,
  UpstreamTimeoutError,
} from '../../src/upstream/errors.js';
import { createKatapultHttp, createPooledFetch, parseJson, readRateLimit, type FetchLike } from '../../src/upstream/http.js';
import { annotationParams, lookupParams, pageParams } from '../../src/upstream/params.js';
import { closedAfterEach } from '../helpers/closed-after-each.js';

/**
 * The HTTP client against canned responses (as octokit tests its request layer): what goes on
 * the wire, and every way a response can go wrong becoming one typed error, never a crash and
 * never carrying the token.
 */

const BASE = 'http://127.0.0.1/core/v1';
const TOKEN = 'kp_secret_token_for_tests_Q7x2';

interface Sent {
  url: string;
  init: RequestInit;
}

/** A fetch that records what it was asked and answers with `respond`. */
function cannedFetch(respond: (sent: Sent) => Response | Promise<Response>): { fetch: FetchLike; sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    fetch: async (url, init) => {
      const entry = { url, init };
      sent.push(entry);
      return respond(entry);
    },
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const envelope = (code: string, description: string, detail: Record<string, unknown> = {}) => ({ error: { code, description, detail } });

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error('expected the call to fail');
}

/** A server on a loopback port, closed after the test: for what only a real connection shows (undici's own behaviour). */
const listen = closedAfterEach(async (handler: RequestListener) => {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});

/** undici's pooled fetch, closed after the test. */
const pooledFetch = closedAfterEach(() => createPooledFetch());

/** The token must not be in anything an error carries: message, stack, or any own property. */
function expectNoToken(error: unknown): void {
  const e = error as Error;
  expect(e.message).not.toContain(TOKEN);
  expect(String(e.stack)).not.toContain(TOKEN);
  expect(JSON.stringify(e, Object.getOwnPropertyNames(e))).not.toContain(TOKEN);
}

describe('the Katapult HTTP client', () => {
  it('sends the token as a Bearer header, percent-encoded brackets and interleaved annotations', async () => {
    const { fetch, sent } = cannedFetch(() => json(200, { ok: true }));
    const http = createKatapultHttp({ baseUrl: `${BASE}/`, fetch });
    await http.get({
      path: '/organizations/organization/virtual_machines',
      params: [...lookupParams('organization', { sub_domain: 'acme' }), ...annotationParams([{ key: 'env', value: 'prod' }, { key: 'team', value: 'web' }]), ...pageParams(2, 200)],
      token: TOKEN,
      requestId: 'req-1',
    });
    const [{ url, init }] = sent as [Sent];
    expect(url).toBe(
      `${BASE}/organizations/organization/virtual_machines?organization%5Bsub_domain%5D=acme&annotations%5B%5D%5Bkey%5D=env&annotations%5B%5D%5Bvalue%5D=prod&annotations%5B%5D%5Bkey%5D=team&annotations%5B%5D%5Bvalue%5D=web&page=2&per_page=200`,
    );
    const headers = init.headers as Record<string, string>;
    expect(headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(headers['x-request-id']).toBe('req-1');
    expect(init.method).toBe('GET');
    expect(init.body).toBeUndefined();
  });

  it('returns the body, its size, the upstream request id and the rate-limit headers', async () => {
    const body = { data_centers: [] };
    const { fetch } = cannedFetch(() => json(200, body, { 'X-Ratelimit-Permitted': '1000', 'X-Ratelimit-Remaining': '998', 'X-Request-Id': 'up-1' }));
    const result = await createKatapultHttp({ baseUrl: BASE, fetch }).get({ path: '/data_centers', token: TOKEN });
    expect(result).toEqual({ status: 200, body, bytes: JSON.stringify(body).length, raw: expect.any(Buffer), rateLimit: { permitted: 1000, remaining: 998, retryAfterMs: null, serverDateMs: null }, upstreamRequestId: 'up-1' });
    // The exact bytes received, in an allocation of their own (not a view into a shared pool).
    expect(result.raw!.toString('utf8')).toBe(JSON.stringify(body));
    expect(result.raw!.buffer.byteLength).toBe(result.raw!.length);
  });

  it('reads rate-limit headers whatever their case, and Retry-After in seconds or as a date', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(readRateLimit(new Headers({ 'X-RATELIMIT-PERMITTED': '200', 'x-ratelimit-remaining': '0' }), now)).toEqual({ permitted: 200, remaining: 0, retryAfterMs: null, serverDateMs: null });
    // With a Remaining, the answer's Date: the sender's clock as it counted the call.
    const date = 'Thu, 01 Jan 2026 11:59:58 GMT';
    expect(readRateLimit(new Headers({ 'x-ratelimit-remaining': '5', date }), now).serverDateMs).toBe(now - 2000);
    expect(readRateLimit(new Headers({ 'x-ratelimit-permitted': '5', date }), now).serverDateMs).toBeNull();
    expect(readRateLimit(new Headers({ 'x-ratelimit-remaining': '5', date: 'yesterday' }), now).serverDateMs).toBeNull();
    expect(readRateLimit(new Headers({ 'Retry-After': '7' }), now).retryAfterMs).toBe(7000);
    expect(readRateLimit(new Headers({ 'Retry-After': new Date(now + 30_000).toUTCString() }), now).retryAfterMs).toBe(30_000);
    expect(readRateLimit(new Headers({ 'X-Ratelimit-Remaining': 'lots' }), now)).toEqual({ permitted: null, remaining: null, retryAfterMs: null });
  });

  it('reads an empty or blank X-RateLimit-Remaining or -Permitted as absent, not as 0 (which would hold the token for the rest of its window)', async () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    for (const value of ['', '  ']) {
      expect(readRateLimit(new Headers({ 'x-ratelimit-remaining': value }), now), JSON.stringify(value)).toEqual({ permitted: null, remaining: null, retryAfterMs: null });
      expect(readRateLimit(new Headers({ 'x-ratelimit-permitted': value, 'x-ratelimit-remaining': '998' }), now), JSON.stringify(value)).toMatchObject({ permitted: null, remaining: 998 });
      expect(readRateLimit(new Headers({ 'x-ratelimit-permitted': '1000', 'x-ratelimit-remaining': value }), now), JSON.stringify(value)).toMatchObject({ permitted: 1000, remaining: null });
    }
    // As an answer carries it: the call is read as one that brought no count.
    const { fetch } = cannedFetch(() => json(200, { zones: [] }, { 'X-RateLimit-Permitted': '1000', 'X-RateLimit-Remaining': '' }));
    const result = await createKatapultHttp({ baseUrl: BASE, fetch }).get({ path: '/zones', token: TOKEN });
    expect(result.rateLimit).toMatchObject({ permitted: 1000, remaining: null });
  });

  it('reads a Retry-After of no wait (0, empty, a date already past) as no advice, so a 429 pauses its lane by the window instead', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    for (const value of ['0', '', '  ', 'soon', new Date(now - 5000).toUTCString()]) {
      expect(readRateLimit(new Headers({ 'retry-after': value, 'x-ratelimit-remaining': '0' }), now).retryAfterMs, JSON.stringify(value)).toBeNull();
    }
    expect(readRateLimit(new Headers({ 'retry-after': '1.5' }), now).retryAfterMs).toBe(1500);
  });

  it('reads a Retry-After date against the response’s own Date, whatever this machine’s clock says', () => {
    const ours = Date.UTC(2026, 0, 1, 12, 0, 0);
    // The sender's clock is 20 s behind ours: its "30 s from now" is 10 s ago here.
    const theirs = ours - 20_000;
    const headers = new Headers({ date: new Date(theirs).toUTCString(), 'retry-after': new Date(theirs + 30_000).toUTCString() });
    expect(readRateLimit(headers, ours).retryAfterMs).toBe(30_000);
  });

  it('turns Katapult’s error envelope into an UpstreamApiError with status, code, description and detail', async () => {
    const { fetch } = cannedFetch(() =>
      json(403, envelope('scope_not_granted', 'The scope required for this endpoint has not been granted', { scopes: ['virtual_machines:read'] }), { 'X-RateLimit-Remaining': '10' }),
    );
    const error = await failure(createKatapultHttp({ baseUrl: BASE, fetch }).get({ path: '/organizations/organization/virtual_machines', token: TOKEN }));
    expect(error).toBeInstanceOf(UpstreamApiError);
    expect(error).toMatchObject({
      status: 403,
      code: 'scope_not_granted',
      description: 'The scope required for this endpoint has not been granted',
      detail: { scopes: ['virtual_machines:read'] },
      retryable: false,
      rateLimit: { remaining: 10 },
    });
    expect(error.message).toBe('Katapult answered 403 scope_not_granted');
    expectNoToken(error);
  });

  it('marks 503 as retryable and keeps a missing detail as {}', async () => {
    const { fetch } = cannedFetch(() => json(503, { error: { code: 'service_unavailable', description: 'down' } }));
    const error = (await failure(createKatapultHttp({ baseUrl: BASE, fetch }).get({ path: '/zones', token: TOKEN }))) as UpstreamApiError;
    expect(error.retryable).toBe(true);
    expect(error.detail).toEqual({});
  });

  const unreadable: Array<[string, () => Response]> = [
    ['a body that is not JSON', () => new Response('<html>Bad gateway</html>', { status: 502 })],
    ['a truncated 200 body', () => new Response('{"data_centers":[{"id":"loc_', { status: 200 })],
    ['an empty 200 body', () => new Response('', { status: 200 })],
    ['a 200 body that is JSON but not an object', () => new Response('[1,2]', { status: 200 })],
    ['an error body without error.code', () => json(404, { error: { description: 'nope' } })],
    ["a proxy's 414 page", () => new Response('<html>414 Request-URI Too Large</html>', { status: 414 })],
    ['an error body that is not an envelope', () => json(500, { message: 'boom' })],
  ];
  for (const [name, respond] of unreadable) {
    it(`treats ${name} as UpstreamMalformedError`, async () => {
      const { fetch } = cannedFetch(respond);
      const error = await failure(createKatapultHttp({ baseUrl: BASE, fetch }).get({ path: '/zones', token: TOKEN }));
      expect(error).toBeInstanceOf(UpstreamMalformedError);
      // Retried unless it is a 4xx: a refusal of this request, whoever wrote its body.
      const status = (error as UpstreamMalformedError).status;
      expect(error.retryable).toBe(status < 400 || status >= 500);
      expectNoToken(error);
    });
  }

  it('reads Katapult\'s refusal of the page size asked for as the page-size error, and any other invalid argument as Katapult\'s error', async () => {
    const refusal = (name: string) =>
      cannedFetch(() => json(400, { error: { code: 'invalid_argument', description: `The '${name}' argument is invalid`, detail: { path: [name], index: null, issue: 'validation_errors', issue_description: null, errors: ['less_than_or_equal_to_one_hundred'], argument: { id: 'arg_1', name, description: null } } } }));
    const perPage = await failure(createKatapultHttp({ baseUrl: BASE, fetch: refusal('per_page').fetch }).get({ path: '/zones', token: TOKEN, params: pageParams(1, 200) }));
    expect(perPage).toBeInstanceOf(UpstreamPageSizeError);
    expect(perPage).toMatchObject({ asked: 200, answered: null, status: 400, retryable: false });
    const other = await failure(createKatapultHttp({ baseUrl: BASE, fetch: refusal('organization').fetch }).get({ path: '/zones', token: TOKEN, params: pageParams(1, 200) }));
    expect(other).toBeInstanceOf(UpstreamApiError);
    expect(other).toMatchObject({ code: 'invalid_argument' });
  });

  it('refuses a list answered in pages of another size than asked (a server that clamps per_page), without retrying', async () => {
    const page = (perPage: number) => ({ zones: [], pagination: { current_page: 1, total_pages: 1, total: 0, per_page: perPage, large_set: false } });
    const clamped = cannedFetch(() => json(200, page(100)));
    const error = await failure(createKatapultHttp({ baseUrl: BASE, fetch: clamped.fetch }).get({ path: '/zones', token: TOKEN, params: pageParams(1, 200) }));
    expect(error).toBeInstanceOf(UpstreamPageSizeError);
    expect(error).toMatchObject({ asked: 200, answered: 100, code: 'per_page_not_honoured', retryable: false });
    expectNoToken(error);
    // Pages of the size asked for, and answers to calls that ask no page size, are read as they are.
    const honoured = cannedFetch(() => json(200, page(200)));
    await expect(createKatapultHttp({ baseUrl: BASE, fetch: honoured.fetch }).get({ path: '/zones', token: TOKEN, params: pageParams(1, 200) })).resolves.toMatchObject({ status: 200 });
    const unpaged = cannedFetch(() => json(200, page(100)));
    await expect(createKatapultHttp({ baseUrl: BASE, fetch: unpaged.fetch }).get({ path: '/zones', token: TOKEN })).resolves.toMatchObject({ status: 200 });
    // Said as a string, or shown by a short page that is not the last while per_page repeats what was asked.
    const stringly = cannedFetch(() => json(200, { ...page(200), pagination: { ...page(200).pagination, per_page: '100' } }));
    await expect(failure(createKatapultHttp({ baseUrl: BASE, fetch: stringly.fetch }).get({ path: '/zones', token: TOKEN, params: pageParams(1, 200) }))).resolves.toMatchObject({ answered: 100 });
    const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `zone_${i}` }));
    const shortPage = cannedFetch(() => json(200, { zones: rows(100), pagination: { current_page: 1, total_pages: 3, total: 250, per_page: 200, large_set: false } }));
    await expect(failure(createKatapultHttp({ baseUrl: BASE, fetch: shortPage.fetch }).get({ path: '/zones', token: TOKEN, params: pageParams(1, 200) }))).resolves.toMatchObject({ asked: 200, answered: 100 });
    // The last page is short by nature.
    const lastPage = cannedFetch(() => json(200, { zones: rows(50), pagination: { current_page: 2, total_pages: 2, total: 250, per_page: 200, large_set: false } }));
    await expect(createKatapultHttp({ baseUrl: BASE, fetch: lastPage.fetch }).get({ path: '/zones', token: TOKEN, params: pageParams(2, 200) })).resolves.toMatchObject({ status: 200 });
  });

  it('tells a refusal by something in front of Katapult (a 4xx other than 429, or a redirect) from Katapult failing', () => {
    expect([404, 413, 414, 301, 302, 307, 308].map(isForeignRefusal)).toEqual([true, true, true, true, true, true, true]);
    expect([200, 429, 502, 503].map(isForeignRefusal)).toEqual([false, false, false, false]);
  });

  it('asks fetch not to follow redirects, and refuses a 3xx as not Katapult’s answer, without retrying, whatever its body', async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      // Even a body in Katapult's shape: the answer is from an address the gateway was not given.
      const { fetch, sent } = cannedFetch(() => json(status, { data_centers: [] }, { location: 'https://127.0.0.1/core/v1/data_centers' }));
      const error = await failure(createKatapultHttp({ baseUrl: BASE, fetch }).get({ path: '/data_centers', token: TOKEN }));
      expect(sent[0]!.init.redirect).toBe('manual');
      expect(error, String(status)).toBeInstanceOf(UpstreamMalformedError);
      expect(error).toMatchObject({ status, retryable: false });
      expectNoToken(error);
    }
  });

  it('never follows a redirect over a real connection: another address’s JSON is not read as Katapult’s, and a loop sends the token once', async () => {
    const elsewhereSaw: Array<string | undefined> = [];
    const elsewhere = await listen((req, res) => {
      elsewhereSaw.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data_centers: [{ id: 'dc_not_katapult' }] }));
    });
    const moved = await listen((req, res) => {
      res.writeHead(302, { location: `${elsewhere.url}${req.url}` });
      res.end();
    });
    const { fetch } = pooledFetch();
    const away = await failure(createKatapultHttp({ baseUrl: `${moved.url}/core/v1`, fetch }).get({ path: '/data_centers', token: TOKEN }));
    expect(away).toBeInstanceOf(UpstreamMalformedError);
    expect(away).toMatchObject({ status: 302, retryable: false });
    expect(elsewhereSaw).toEqual([]);

    let loopCalls = 0;
    const loop = await listen((req, res) => {
      loopCalls++;
      res.writeHead(307, { location: req.url });
      res.end();
    });
    const looped = await failure(createKatapultHttp({ baseUrl: `${loop.url}/core/v1`, fetch }).get({ path: '/data_centers', token: TOKEN }));
    expect(looped).toMatchObject({ status: 307, retryable: false });
    expect(loopCalls).toBe(1);
  });

  it('reads a body of up to maxBodyBytes, and refuses a longer one, whatever its status, without retrying', async () => {
    const limit = 1024;
    const exactly = `{"zones":[]${' '.repeat(limit - 12)}}`;
    expect(Buffer.byteLength(exactly)).toBe(limit);
    const fits = cannedFetch(() => new Response(exactly, { status: 200 }));
    const result = await createKatapultHttp({ baseUrl: BASE, fetch: fits.fetch, maxBodyBytes: limit }).get({ path: '/zones', token: TOKEN });
    expect(result).toMatchObject({ status: 200, body: { zones: [] }, bytes: limit });
    // Still the exact bytes, in an allocation of their own.
    expect(result.raw!.toString('utf8')).toBe(exactly);
    expect(result.raw!.buffer.byteLength).toBe(limit);

    for (const status of [200, 404, 503]) {
      const over = cannedFetch(() => new Response(`${exactly} `, { status }));
      const error = await failure(createKatapultHttp({ baseUrl: BASE, fetch: over.fetch, maxBodyBytes: limit }).get({ path: '/zones', token: TOKEN }));
      expect(error, String(status)).toBeInstanceOf(UpstreamBodyTooLargeError);
      // An answer, but not one the gateway reads: the same as a body that is not Katapult's JSON, except that asking again gets the same.
      expect(error).toBeInstanceOf(UpstreamMalformedError);
      expect(error).toMatchObject({ status, limitBytes: limit, code: 'body_too_large', kind: 'malformed', retryable: false });
      expectNoToken(error);
    }
  });

  it('stops reading an endless body as soon as it passes the limit, and cancels it', async () => {
    let pulls = 0;
    let cancelled = false;
    const endless = () =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          pulls++;
          controller.enqueue(new Uint8Array(100).fill(0x20));
        },
        cancel() {
          cancelled = true;
        },
      });
    const { fetch } = cannedFetch(() => new Response(endless(), { status: 200 }));
    const error = await failure(createKatapultHttp({ baseUrl: BASE, fetch, maxBodyBytes: 1000 }).get({ path: '/zones', token: TOKEN }));
    expect(error).toBeInstanceOf(UpstreamBodyTooLargeError);
    expect(cancelled).toBe(true);
    expect(pulls).toBeLessThanOrEqual(12);
  });

  it('refuses at once a body whose Content-Length is over the limit, unless compressed (its length then is not what is read)', async () => {
    const declared = cannedFetch(() => new Response('{}', { status: 200, headers: { 'content-length': '1025' } }));
    const error = await failure(createKatapultHttp({ baseUrl: BASE, fetch: declared.fetch, maxBodyBytes: 1024 }).get({ path: '/zones', token: TOKEN }));
    expect(error).toBeInstanceOf(UpstreamBodyTooLargeError);
    const compressed = cannedFetch(() => new Response('{}', { status: 200, headers: { 'content-length': '1025', 'content-encoding': 'gzip' } }));
    await expect(createKatapultHttp({ baseUrl: BASE, fetch: compressed.fetch, maxBodyBytes: 1024 }).get({ path: '/zones', token: TOKEN })).resolves.toMatchObject({ body: {} });
  });

  it('reads a body whose compression is corrupt (gzip or brotli) as an unreadable answer, not as Katapult unreachable', async () => {
    const server = await listen((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': req.url?.includes('/br') ? 'br' : 'gzip' });
      res.end(Buffer.from('{"zones": [] and junk that no decompressor takes'));
    });
    const http = createKatapultHttp({ baseUrl: `${server.url}/core/v1`, fetch: pooledFetch().fetch });
    for (const path of ['/gz', '/br']) {
      const error = await failure(http.get({ path, token: TOKEN }));
      expect(error).toBeInstanceOf(UpstreamMalformedError);
      expect(error.message).toMatch(/could not be decompressed \((Z_DATA_ERROR|ERR__ERROR_[A-Z_0-9]+)\)/);
      expect((error as UpstreamMalformedError).status).toBe(200);
    }
  });

  it('counts an answer’s size over a real connection as it is decompressed, and drops the connection of an endless one', async () => {
    // 16 MiB of JSON sent gzipped in about 16 KB: under the limit on the wire, over it once read.
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"zones":['), Buffer.alloc(16 * 1024 * 1024, 0x20), Buffer.from(']}')]));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    let endlessClosed = false;
    const server = await listen((req, res) => {
      req.resume();
      if (req.url?.startsWith('/core/v1/bomb')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length });
        res.end(bomb);
        return;
      }
      // Chunked, and never ending: written as fast as it is taken.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const write = () => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on('drain', write);
      res.on('close', () => (endlessClosed = true));
      res.write('{"zones":[');
      write();
    });
    const { fetch } = pooledFetch();
    const http = createKatapultHttp({ baseUrl: `${server.url}/core/v1`, fetch, maxBodyBytes: 1024 * 1024, timeoutMs: 10_000 });
    const bombed = await failure(http.get({ path: '/bomb', token: TOKEN }));
    expect(bombed).toBeInstanceOf(UpstreamBodyTooLargeError);
    const endless = await failure(http.get({ path: '/endless', token: TOKEN }));
    expect(endless).toBeInstanceOf(UpstreamBodyTooLargeError);
    await vi.waitFor(() => expect(endlessClosed).toBe(true));
  });

  it('times out through its AbortSignal as UpstreamTimeoutError', async () => {
    const neverAnswers: FetchLike = (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true });
      });
    const http = createKatapultHttp({ baseUrl: BASE, fetch: neverAnswers, timeoutMs: 20 });
    const error = await failure(http.get({ path: '/zones', token: TOKEN }));
    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect((error as UpstreamTimeoutError).timeoutMs).toBe(20);
    expectNoToken(error);
    // A per-request timeout wins over the client's.
    const quick = await failure(createKatapultHttp({ baseUrl: BASE, fetch: neverAnswers, timeoutMs: 60_000 }).get({ path: '/zones', token: TOKEN, timeoutMs: 15 }));
    expect(quick).toBeInstanceOf(UpstreamTimeoutError);
  });

  it('passes the caller’s own abort through as itself, not as a timeout', async () => {
    const neverAnswers: FetchLike = (_url, init) =>
      new Promise((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true }));
    const controller = new AbortController();
    const reason = new Error('client went away');
    const pending = createKatapultHttp({ baseUrl: BASE, fetch: neverAnswers, timeoutMs: 60_000 }).get({ path: '/zones', token: TOKEN, signal: controller.signal });
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('lets go of the caller’s signal once the call is over, answered or failed', async () => {
    // A request's signal outlives each of its upstream calls (a `nodes` lookup makes dozens):
    // every call must take its listener off when it settles, not when the signal goes.
    const controller = new AbortController();
    const ok = cannedFetch(() => json(200, { zones: [] }));
    await createKatapultHttp({ baseUrl: BASE, fetch: ok.fetch }).get({ path: '/zones', token: TOKEN, signal: controller.signal });
    const failing = cannedFetch(() => json(500, { error: { code: 'internal_error', description: 'x', detail: {} } }));
    await failure(createKatapultHttp({ baseUrl: BASE, fetch: failing.fetch }).get({ path: '/zones', token: TOKEN, signal: controller.signal }));
    const broken = cannedFetch(() => {
      throw new TypeError('fetch failed');
    });
    await failure(createKatapultHttp({ baseUrl: BASE, fetch: broken.fetch }).get({ path: '/zones', token: TOKEN, signal: controller.signal }));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // The signal handed to fetch is the call's own, and it was not aborted by finishing.
    expect(ok.sent[0]!.init.signal).not.toBe(controller.signal);
    expect(ok.sent[0]!.init.signal?.aborted).toBe(false);
  });

  it('stops the timeout of a call that is over: a body read in time is never aborted afterwards', async () => {
    const ok = cannedFetch(() => json(200, { zones: [] }));
    await createKatapultHttp({ baseUrl: BASE, fetch: ok.fetch, timeoutMs: 10 }).get({ path: '/zones', token: TOKEN });
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(ok.sent[0]!.init.signal?.aborted).toBe(false);
  });

  it('does not call out for a caller whose signal is already aborted, and reports that abort', async () => {
    const controller = new AbortController();
    const reason = new Error('client went away before the call');
    controller.abort(reason);
    const abortAware = cannedFetch((sent) => {
      if (sent.init.signal?.aborted) throw sent.init.signal.reason;
      return json(200, { zones: [] });
    });
    await expect(createKatapultHttp({ baseUrl: BASE, fetch: abortAware.fetch }).get({ path: '/zones', token: TOKEN, signal: controller.signal })).rejects.toBe(reason);
    expect(abortAware.sent[0]!.init.signal?.aborted).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('reports a reset connection as UpstreamNetworkError with its cause code', async () => {
    const sim = createSimulator({ resetRatio: 1 });
    const error = await failure(createKatapultHttp({ baseUrl: BASE, fetch: (url, init) => sim.fetch(url, init) }).get({ path: '/zones', token: DEMO_TOKENS.globex }));
    expect(error).toBeInstanceOf(UpstreamNetworkError);
    expect((error as UpstreamNetworkError).causeCode).toBe('ECONNRESET');
    expect(error.message).not.toContain(DEMO_TOKENS.globex);
  });

  it('reports a failing fetch without a cause code as UpstreamNetworkError too', async () => {
    const { fetch } = cannedFetch(() => {
      throw new TypeError(`fetch failed for ${BASE}/zones with Bearer ${TOKEN}`);
    });
    const error = await failure(createKatapultHttp({ baseUrl: BASE, fetch }).get({ path: '/zones', token: TOKEN }));
    expect(error).toBeInstanceOf(UpstreamNetworkError);
    expectNoToken(error);
  });

  it('works against the simulator for real bodies and real errors', async () => {
    const sim = createSimulator();
    const http = createKatapultHttp({ baseUrl: BASE, fetch: (url, init) => sim.fetch(url, init) });
    const ok = await http.get<{ organization: { sub_domain: string } }>({
      path: '/organizations/organization',
      params: lookupParams('organization', { sub_domain: 'globex' }),
      token: DEMO_TOKENS.globex,
    });
    expect(ok.body.organization.sub_domain).toBe('globex');
    expect(ok.rateLimit.permitted).toBe(1000);
    const missing = await failure(http.get({ path: '/organizations/organization', params: lookupParams('organization', { sub_domain: 'nope' }), token: DEMO_TOKENS.globex }));
    expect(missing).toMatchObject({ status: 404, code: 'organization_not_found' });
    const badToken = await failure(http.get({ path: '/zones', token: TOKEN }));
    expect(badToken).toMatchObject({ status: 403, code: 'invalid_api_token' });
    expectNoToken(badToken);
  });
});

describe('parseJson', () => {
  it('reads UTF-8 bytes, with or without a byte-order mark, and rejects what is not JSON', () => {
    const text = JSON.stringify({ name: 'Zürich — ☁' });
    expect(parseJson(Buffer.from(text))).toEqual({ name: 'Zürich — ☁' });
    expect(parseJson(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))).toEqual({ name: 'Zürich — ☁' });
    expect(() => parseJson(Buffer.from('<html>'))).toThrow(SyntaxError);
  });
});
