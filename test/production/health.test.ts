import { createServer, type RequestListener } from 'node:http';
import { createConnection, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ROUTE_RECHECK_MS, type GatewayApp } from '../../src/app.js';
import { createHttpServer, createMetricsServer } from '../../src/server/http-server.js';
import { createSimulator, DEMO_TOKENS } from '../../src/simulator/index.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { bearer, ORG_NAME_QUERY, post, raw, startGateway, type TestGateway } from './gateway.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(gateway: Promise<TestGateway>): Promise<TestGateway> {
  const ready = await gateway;
  cleanups.push(() => ready.close());
  return ready;
}

/** A server of the test's own where Katapult should be, closed after the test. Returns its /core/v1 URL. */
async function serverInPlaceOfKatapult(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/core/v1`;
}

/** /ready once it fails: a wrong address seen by a client's call fails it once the gateway's own call has confirmed it. */
function failingReady(gateway: TestGateway) {
  return vi.waitFor(async () => {
    const now = await raw(`${gateway.url}/ready`);
    expect(now.status).toBe(503);
    return now;
  });
}

/**
 * A proxy in front of the simulator that answers the calls `refuses` picks with its own HTML 403
 * page (a WAF's, a misconfigured proxy's), logging every call it gets. Returns its /core/v1 URL.
 */
async function refusingProxy(simulator: ReturnType<typeof createSimulator>, refuses: (path: string) => boolean) {
  const seen: Array<{ path: string; authorization: string | undefined }> = [];
  const upstreamBaseUrl = await serverInPlaceOfKatapult((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    if (refuses(req.url ?? '')) {
      res.writeHead(403, { 'content-type': 'text/html' });
      res.end('<html><body>Forbidden</body></html>');
      return;
    }
    void simulator.fetch(`http://127.0.0.1${req.url}`, { headers: req.headers as Record<string, string> }).then(async (answer) => {
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
  });
  return { seen, upstreamBaseUrl };
}

describe('liveness and readiness', () => {
  it('answers /health and /ready with 200 when the upstream works', async () => {
    const gateway = await started(startGateway());
    const health = await raw(`${gateway.url}/health`);
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok' });
    await post(gateway.endpoint, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    const ready = await raw(`${gateway.url}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ready' });
  });

  it('fails /ready (but not /health) when the base URL answers route_not_found, and the query says UPSTREAM_UNAVAILABLE', async () => {
    const simulator = createSimulator();
    const { baseUrl } = await simulator.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => simulator.close());
    const gateway = await started(startGateway({ simulator, upstreamBaseUrl: `${new URL(baseUrl).origin}/wrong/v1` }));

    expect((await raw(`${gateway.url}/ready`)).status).toBe(200);
    const answer = await post(gateway.endpoint, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    expect(answer.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    // Once the gateway's own call (no token, a fixed path) has confirmed it.
    const ready = await failingReady(gateway);
    expect(ready.json.problems.join(' ')).toMatch(/route_not_found/);
    expect((await raw(`${gateway.url}/health`)).status).toBe(200);
  });

  it('fails /ready, and says why at error level, when the base URL answers with a page that is not Katapult\'s (a 404 in HTML)', async () => {
    const upstreamBaseUrl = await serverInPlaceOfKatapult((req, res) => {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<html><body>Not Found</body></html>');
    });
    const gateway = await started(startGateway({ env: { LOG_LEVEL: 'warn' }, upstreamBaseUrl }));

    const answer = await post(gateway.endpoint, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    expect(answer.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    const ready = await failingReady(gateway);
    expect(ready.json.problems.join(' ')).toMatch(/HTTP 404 that is not Katapult's JSON/);
    const lines = gateway.logs.map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.some((r) => r.level === 50 && /configuration error/.test(r.msg))).toBe(true);
  });

  it('fails /ready and logs a configuration error when the base URL redirects (http to https), sending each call once and following none', async () => {
    const calls: string[] = [];
    const upstreamBaseUrl = await serverInPlaceOfKatapult((req, res) => {
      calls.push(req.url ?? '');
      req.resume();
      // Where it points is never asked: a port nothing listens on, on this machine.
      res.writeHead(301, { location: `https://127.0.0.1:1${req.url}` });
      res.end();
    });
    const gateway = await started(startGateway({ env: { LOG_LEVEL: 'warn' }, upstreamBaseUrl }));

    const answer = await post(gateway.endpoint, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    expect(answer.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    // Not retried: the same request gets the same redirect.
    expect(calls.length).toBeGreaterThan(0);
    // Once the gateway's own call (no token, a fixed path) has confirmed it.
    const ready = await failingReady(gateway);
    expect(new Set(calls).size).toBe(calls.length);
    expect(ready.json.problems).toEqual(['KATAPULT_API_URL does not point at the Katapult API (an HTTP 301 redirect, which the gateway does not follow)']);
    const lines = gateway.logs.map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.some((r) => r.level === 50 && /configuration error: Katapult answered an HTTP 301 redirect/.test(r.msg))).toBe(true);
    // The check at start says the same, without a token.
    expect(await gateway.app.checkUpstream()).toBe('wrong-address');
  });

  it('checks the base URL at start, without a token: a wrong address fails /ready and is logged before any request, an unreachable one is a warning', async () => {
    const simulator = createSimulator();
    const { baseUrl } = await simulator.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => simulator.close());
    const logLines = (gateway: TestGateway) => gateway.logs.map((line) => JSON.parse(line) as { level: number; msg: string; upstream?: string });

    const right = await started(startGateway({ simulator, upstreamBaseUrl: baseUrl, env: { LOG_LEVEL: 'info' } }));
    expect(await right.app.checkUpstream()).toBe('katapult');
    expect((await raw(`${right.url}/ready`)).status).toBe(200);
    expect(logLines(right).some((r) => r.level === 30 && r.msg === 'Katapult answers at the configured address' && r.upstream === baseUrl)).toBe(true);
    // Without a token: Katapult counts no token's budget for it.
    expect(simulator.requests.at(-1)).toMatchObject({ path: '/core/v1/data_centers', tokenFingerprint: null, status: 400 });

    const wrong = await started(startGateway({ simulator, upstreamBaseUrl: `${new URL(baseUrl).origin}/wrong/v1`, env: { LOG_LEVEL: 'warn' } }));
    expect(await wrong.app.checkUpstream()).toBe('wrong-address');
    const ready = await raw(`${wrong.url}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json.problems.join(' ')).toMatch(/route_not_found/);
    expect(logLines(wrong).some((r) => r.level === 50 && /configuration error: .* at start; check KATAPULT_API_URL/.test(r.msg))).toBe(true);

    // A web server's page where Katapult should be, answered slowly: /ready fails while the check waits, and after.
    const webServerUrl = await serverInPlaceOfKatapult((req, res) => {
      req.resume();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>Welcome</body></html>');
      }, 300);
    });
    const page = await started(startGateway({ upstreamBaseUrl: webServerUrl, env: { LOG_LEVEL: 'warn' } }));
    const checking = page.app.checkUpstream();
    const during = await raw(`${page.url}/ready`);
    expect([during.status, during.json.problems]).toEqual([503, ['checking KATAPULT_API_URL']]);
    expect(await checking).toBe('wrong-address');
    const after = await raw(`${page.url}/ready`);
    expect([after.status, after.json.problems]).toEqual([503, ["KATAPULT_API_URL does not point at the Katapult API (an HTTP 200 that is not Katapult's JSON)"]]);

    // A port nothing listens on: closed right after it was found free.
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const { port } = spare.address() as AddressInfo;
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    const away = await started(startGateway({ upstreamBaseUrl: `http://127.0.0.1:${port}/core/v1`, env: { LOG_LEVEL: 'warn', QUEUE_RETRY_MAX_ATTEMPTS: '1' } }));
    expect(await away.app.checkUpstream()).toBe('unreachable');
    expect((await raw(`${away.url}/ready`)).status).toBe(200);
    expect(logLines(away).some((r) => r.level === 40 && /could not be reached at start/.test(r.msg))).toBe(true);
  });

  it('checks the base URL again itself while /ready fails, so it is ready again once the address answers as Katapult', async () => {
    const simulator = createSimulator();
    let broken = true;
    // A proxy in front of Katapult that refuses with its own page, until it is fixed.
    const { seen, upstreamBaseUrl } = await refusingProxy(simulator, () => broken);
    const clock = createFakeClock();
    const gateway = await started(startGateway({ clock, simulator, upstreamBaseUrl }));

    await post(gateway.endpoint, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    await vi.waitFor(async () => expect((await raw(`${gateway.url}/ready`)).status).toBe(503));
    const calls = seen.length;
    // Probed often while still broken: one check of its own every ROUTE_RECHECK_MS at most.
    for (let i = 0; i < 5; i++) expect((await raw(`${gateway.url}/ready`)).status).toBe(503);
    expect(seen.length).toBe(calls);
    await clock.advance(ROUTE_RECHECK_MS);
    for (let i = 0; i < 5; i++) await raw(`${gateway.url}/ready`);
    await vi.waitFor(() => expect(seen.length).toBe(calls + 1));
    expect(seen.at(-1)!.authorization ?? '').not.toMatch(/kp_/);
    expect((await raw(`${gateway.url}/ready`)).status).toBe(503);

    // Fixed; no request comes in (a load balancer sends none to an instance that is not ready).
    broken = false;
    await clock.advance(ROUTE_RECHECK_MS);
    await raw(`${gateway.url}/ready`);
    await vi.waitFor(async () => expect((await raw(`${gateway.url}/ready`)).status).toBe(200));
  });

  it("stays ready when one path answers a page that is not Katapult's (a WAF in front of it), whatever a client asks for", async () => {
    const simulator = createSimulator();
    const { seen, upstreamBaseUrl } = await refusingProxy(simulator, (path) => path.includes('/virtual_machines'));
    const gateway = await started(startGateway({ simulator, upstreamBaseUrl, env: { LOG_LEVEL: 'warn' } }));

    const vms = '{ organization(subDomain: "globex") { virtualMachines(first: 2) { edges { node { id } } } } }';
    for (let i = 0; i < 5; i++) {
      const answer = await post(gateway.endpoint, { query: vms }, bearer(DEMO_TOKENS.globex));
      expect(answer.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    }
    // The gateway's own call, without a token, to a fixed path: one for all five, and Katapult answers it.
    const probes = () => seen.filter((call) => !/kp_/.test(call.authorization ?? '') && call.path === '/core/v1/data_centers');
    await vi.waitFor(() => expect(probes()).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const ready = await raw(`${gateway.url}/ready`);
    expect([ready.status, ready.json]).toEqual([200, { status: 'ready' }]);
    expect(probes()).toHaveLength(1);
    const lines = gateway.logs.map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.some((r) => /configuration error/.test(r.msg))).toBe(false);
  });

  it('fails /ready while the upstream circuit is open', async () => {
    const simulator = createSimulator({ failureRatio: 1 });
    const gateway = await started(
      startGateway({ simulator, env: { QUEUE_CIRCUIT_FAILURE_THRESHOLD: '2', QUEUE_RETRY_MAX_ATTEMPTS: '1', QUEUE_CIRCUIT_OPEN_MS: '60000' } }),
    );
    cleanups.push(() => simulator.close());
    for (const token of [DEMO_TOKENS.globex, DEMO_TOKENS.acme, DEMO_TOKENS.user]) {
      await post(gateway.endpoint, { query: ORG_NAME_QUERY }, bearer(token));
    }
    const ready = await raw(`${gateway.url}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json.problems.join(' ')).toMatch(/circuit open/);
  });

  it('is ready again once the circuit\'s open time is up, with no request in between', async () => {
    const clock = createFakeClock();
    const simulator = createSimulator({ failureRatio: 1 });
    const gateway = await started(
      startGateway({ simulator, clock, env: { QUEUE_CIRCUIT_FAILURE_THRESHOLD: '2', QUEUE_RETRY_MAX_ATTEMPTS: '1', QUEUE_CIRCUIT_OPEN_MS: '5000' } }),
    );
    cleanups.push(() => simulator.close());
    for (const token of [DEMO_TOKENS.globex, DEMO_TOKENS.acme, DEMO_TOKENS.user]) {
      await post(gateway.endpoint, { query: ORG_NAME_QUERY }, bearer(token));
    }
    expect((await raw(`${gateway.url}/ready`)).status).toBe(503);
    await clock.advance(5001);
    // Only /ready is asked: a load balancer's probe must be able to bring the instance back.
    const ready = await raw(`${gateway.url}/ready`);
    expect(ready.status).toBe(200);
  });
});

describe('graceful shutdown in process', () => {
  it('stops accepting, fails readiness, and lets the in-flight request finish', async () => {
    const upstreamClock = createFakeClock();
    const simulator = createSimulator({ clock: upstreamClock, latencyMs: 1000 });
    const gateway = await startGateway({ simulator });
    cleanups.push(() => simulator.close());

    const inFlight = post(gateway.endpoint, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    // The request is held inside the simulator until its (fake) latency elapses.
    await vi.waitFor(() => expect(upstreamClock.pendingTimers()).toBe(1));

    const stopping = gateway.close(10_000);
    expect(gateway.app.readiness.problems()).toContain('shutting down');
    await expect(raw(`${gateway.url}/health`)).rejects.toThrow(/ECONNREFUSED|ECONNRESET|socket hang up/);

    await upstreamClock.advance(1000);
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.json.data.organization.name).toBe('Globex Corporation');
    await stopping;
  });
});

describe('/metrics on a port of its own (METRICS_PORT)', () => {
  it('serves it there alone, and no longer on the GraphQL port', async () => {
    const gateway = await started(startGateway({ env: { METRICS_PORT: '0' } }));
    const metrics = createMetricsServer(gateway.app);
    const { url } = await metrics.listen(0, '127.0.0.1');
    cleanups.push(() => metrics.close());
    await post(gateway.endpoint, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));

    const scraped = await raw(`${url}/metrics`, { headers: { 'x-request-id': 'scrape-1' } });
    expect(scraped.status).toBe(200);
    expect(scraped.headers['x-request-id']).toBe('scrape-1');
    expect(scraped.text).toMatch(/^graphql_requests_total\{/m);
    expect((await raw(`${url}/metrics`, { method: 'HEAD' })).status).toBe(200);
    const posted = await raw(`${url}/metrics`, { method: 'POST' });
    expect(posted.status).toBe(405);
    expect(posted.headers.allow).toBe('GET, HEAD');
    for (const path of ['/graphql', '/health', '/']) expect((await raw(`${url}${path}`)).status, path).toBe(404);

    const hidden = await raw(`${gateway.url}/metrics`);
    expect(hidden.status).toBe(404);
    expect(hidden.json.errors[0].extensions.code).toBe('NOT_FOUND');
    expect((await raw(`${gateway.url}/health`)).status).toBe(200);
  });

  it('answers requests node cannot take there in the error contract too, not with a bare status line', async () => {
    const gateway = await started(startGateway({ env: { METRICS_PORT: '0' } }));
    const metrics = createMetricsServer(gateway.app);
    const { port } = await metrics.listen(0, '127.0.0.1');
    cleanups.push(() => metrics.close());
    // Sends the bytes as they are and reads everything until the server closes the connection.
    const exchange = (bytes: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write(bytes));
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
    const answers = {
      notHttp: await exchange('\u0001\u0002 not http\r\n\r\n'),
      connect: await exchange('CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n'),
      expect: await exchange('GET /metrics HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n'),
    };
    expect(answers.notHttp).toMatch(/^HTTP\/1\.1 400 /);
    expect(answers.connect).toMatch(/^HTTP\/1\.1 405 /);
    expect(answers.connect).toMatch(/\r\nallow: GET, HEAD\r\n/i);
    expect(answers.expect).toMatch(/^HTTP\/1\.1 417 /);
    for (const answer of Object.values(answers)) {
      expect(answer).toMatch(/\r\ncontent-type: application\/json/i);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { errors: Array<{ extensions: { code: string; requestId: string } }> };
      expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
      expect(answer).toMatch(new RegExp(`\\r\\nx-request-id: ${body.errors[0]!.extensions.requestId}\\r\\n`, 'i'));
    }
    // The port goes on answering.
    expect((await raw(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
  });
});

describe('shutdown past its grace period', () => {
  it('cuts off what is still in flight and says so at warn level, with how many', async () => {
    const simulator = createSimulator({ latencyMs: 2000 });
    const gateway = await startGateway({ simulator, env: { LOG_LEVEL: 'warn' } });
    cleanups.push(() => simulator.close());
    const slow = post(gateway.endpoint, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex)).catch((error: Error) => error);
    await vi.waitFor(() => expect(gateway.http.activity().inFlight).toBe(1));
    await gateway.http.shutdown(100);
    expect(await slow).toBeInstanceOf(Error);
    const lines = gateway.logs.map((line) => JSON.parse(line) as { level: number; msg: string; inFlight?: number });
    expect(lines.filter((r) => /grace period over/.test(r.msg)).map((r) => [r.level, r.inFlight])).toEqual([[40, 1]]);
  });
});

describe('a request still arriving during the shutdown drain', () => {
  it('is held to REQUEST_RECEIVE_TIMEOUT_MS (408), not to the longer grace period', async () => {
    const gateway = await startGateway({ env: { REQUEST_RECEIVE_TIMEOUT_MS: '1000', LOG_LEVEL: 'warn' } });
    cleanups.push(() => gateway.simulator.close());
    const { createConnection } = await import('node:net');
    const socket = createConnection({ host: '127.0.0.1', port: Number(new URL(gateway.url).port) });
    const answer = new Promise<string>((resolve, reject) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"query"');
    await vi.waitFor(() => expect(gateway.http.activity().inFlight).toBe(1));
    const started = Date.now();
    await gateway.http.shutdown(30_000);
    // Closing the server stops node's own checks; without the edge's, this waits the whole 30 s.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(gateway.logs.some((line) => /grace period over/.test(line))).toBe(false);
  });
});

describe('shutdown with a delay (SHUTDOWN_DELAY_MS)', () => {
  it('fails readiness at once but serves on until the delay is up, then stops accepting', async () => {
    const clock = createFakeClock();
    const gateway = await startGateway({ clock });
    cleanups.push(() => gateway.simulator.close());
    const token = bearer(DEMO_TOKENS.globex);
    let stoppedAccepting = false;
    const stopping = gateway.http.shutdown(10_000, { delayMs: 5000, onStopAccepting: () => (stoppedAccepting = true) });

    const ready = await raw(`${gateway.url}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json.problems).toContain('shutting down');
    expect((await raw(`${gateway.url}/health`)).status).toBe(200);
    const answer = await post(gateway.endpoint, { query: ORG_NAME_QUERY }, token);
    expect(answer.json.data.organization.name).toBe('Globex Corporation');
    // Clients holding a connection open are told to reconnect (and land elsewhere).
    expect(answer.headers.connection).toBe('close');
    expect(ready.headers.connection).toBe('close');
    await clock.advance(4999);
    expect(stoppedAccepting).toBe(false);
    expect((await raw(`${gateway.url}/health`)).status).toBe(200);

    await clock.advance(1);
    expect(stoppedAccepting).toBe(true);
    await stopping;
    await expect(raw(`${gateway.url}/health`)).rejects.toThrow(/ECONNREFUSED|ECONNRESET|socket hang up/);
  });

  it('cuts the delay short when asked to', async () => {
    const gateway = await startGateway({ clock: createFakeClock() });
    cleanups.push(() => gateway.simulator.close());
    const skip = new AbortController();
    const stopping = gateway.http.shutdown(0, { delayMs: 60_000, skipDelay: skip.signal });
    expect((await raw(`${gateway.url}/health`)).status).toBe(200);
    skip.abort();
    await stopping;
    await expect(raw(`${gateway.url}/health`)).rejects.toThrow(/ECONNREFUSED|ECONNRESET|socket hang up/);
  });
});

describe('request targets', () => {
  it('routes the absolute form a server must accept, and names unknown paths in a 404', async () => {
    const gateway = await started(startGateway());
    const { request } = await import('node:http');
    const { port } = new URL(gateway.url);
    const absolute = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const body = JSON.stringify({ query: ORG_NAME_QUERY });
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: `http://127.0.0.1:${port}/graphql`, headers: { 'content-type': 'application/json', ...bearer(DEMO_TOKENS.globex) } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(absolute.status).toBe(200);
    expect(JSON.parse(absolute.text).data.organization.name).toBe('Globex Corporation');

    const missing = await raw(`${gateway.url}/graphq?query=x`, { headers: { 'x-request-id': 'lost-1' } });
    expect(missing.status).toBe(404);
    // Shaped like every other error: a code and the request id.
    expect((missing.json as { errors: unknown[] }).errors[0]).toEqual({
      message: 'Nothing at /graphq; the GraphQL endpoint is /graphql',
      extensions: { code: 'NOT_FOUND', requestId: 'lost-1' },
    });
    // A doubled slash is a path of its own, named as sent (not read as a host name).
    const doubled = await raw(`${gateway.url}//graphql`);
    expect(doubled.status).toBe(404);
    expect(doubled.json.errors[0].message).toBe('Nothing at //graphql; the GraphQL endpoint is /graphql');
    // Dot segments are not resolved, in routing or in the message.
    const dotted = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/x/../graphql' }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(dotted.status).toBe(404);
    expect(JSON.parse(dotted.text).errors[0].message).toBe('Nothing at /x/../graphql; the GraphQL endpoint is /graphql');
  });

  it('answers only GET and HEAD on the probes and the metrics page', async () => {
    const gateway = await started(startGateway());
    for (const path of ['/health', '/ready', '/metrics']) {
      for (const method of ['POST', 'DELETE', 'PUT', 'OPTIONS']) {
        const refused = await raw(`${gateway.url}${path}`, { method, headers: { 'x-request-id': 'probe-1' } });
        expect(refused.status, `${method} ${path}`).toBe(405);
        expect(refused.headers.allow).toBe('GET, HEAD');
        expect(refused.json.errors[0].extensions).toEqual({ code: 'BAD_REQUEST', requestId: 'probe-1' });
      }
      const head = await raw(`${gateway.url}${path}`, { method: 'HEAD' });
      expect(head.status, `HEAD ${path}`).toBe(200);
      expect(head.body.length).toBe(0);
    }
  });

  it('answers a fault in its own code with a 500 in the same error shape, never a stack', async () => {
    const gateway = await started(startGateway({ env: { LOG_LEVEL: 'error' } }));
    // The same app, with a GraphQL engine that throws where no error handling of its own applies.
    const broken = { ...gateway.app, yoga: { fetchAPI: gateway.app.yoga.fetchAPI, fetch: () => Promise.reject(new Error('secret internals at /srv/gateway/app.js:1')) } };
    const edge = createHttpServer({ app: broken as unknown as GatewayApp });
    const { url } = await edge.listen(0, '127.0.0.1');
    cleanups.push(() => edge.shutdown(0));
    const failed = await post(`${url}/graphql`, { query: ORG_NAME_QUERY }, { ...bearer(DEMO_TOKENS.globex), 'x-request-id': 'fault-1' });
    expect(failed.status).toBe(500);
    expect(failed.headers['x-request-id']).toBe('fault-1');
    expect(failed.json).toEqual({ errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'fault-1' } }] });
    expect(failed.text).not.toContain('secret internals');
    expect(gateway.logs.some((line) => line.includes('unhandled error in HTTP handler') && line.includes('fault-1'))).toBe(true);
  });
});

describe('closing the app', () => {
  it('drops the Katapult calls still waiting in line (no request is left to answer) instead of waiting for their window', async () => {
    const gateway = await startGateway();
    const now = () => gateway.app.clock.now();
    const spent = { permitted: 10, remaining: 0, retryAfterMs: null };
    // The lane's first call says the window is spent: the next waits for the next window, up to a minute.
    await gateway.app.queue.add(() => Promise.resolve({ status: 200, body: {}, bytes: 2, rateLimit: spent, upstreamRequestId: null }), { laneKey: 'k', deadline: now() + 120_000 });
    const waiting = gateway.app.queue.add(() => Promise.resolve({ status: 200, body: {}, bytes: 2, rateLimit: spent, upstreamRequestId: null }), { laneKey: 'k', deadline: now() + 120_000 });
    const outcome = waiting.then(
      () => 'sent',
      (error: Error) => error.name,
    );
    const closed = gateway.close().then(() => 'closed');
    const timeout = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2_000));
    expect(await Promise.race([closed, timeout])).toBe('closed');
    expect(await outcome).toBe('UpstreamCancelledError');
  });
});
