import { request as httpRequest } from 'node:http';
import { createConnection } from 'node:net';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS } from '../../src/simulator/index.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { bearer, gatewaysPerTest, ORG_NAME_QUERY, post, raw, type RawResponse, type TestGateway } from './gateway.js';

const gatewayWith = gatewaysPerTest();

const auth = bearer(DEMO_TOKENS.globex);
const query = { query: ORG_NAME_QUERY };
const code = (response: RawResponse) => response.json?.errors?.[0]?.extensions?.code;

describe('the inbound rate limit per client address', () => {
  it('answers 429 TOO_MANY_REQUESTS with Retry-After once an address spends its bucket, and refills with time', async () => {
    const clock = createFakeClock();
    const gateway = await gatewayWith({ clock, env: { INBOUND_RATE_LIMIT_PER_MINUTE: '3' } });
    for (let i = 0; i < 3; i++) expect((await post(gateway.endpoint, query, auth)).status).toBe(200);
    const refused = await post(gateway.endpoint, query, auth);
    expect(refused.status).toBe(429);
    expect(code(refused)).toBe('TOO_MANY_REQUESTS');
    expect(refused.headers['retry-after']).toBe('20');
    expect(refused.headers['content-type']).toMatch(/application\/json/);
    await clock.advance(20_000);
    expect((await post(gateway.endpoint, query, auth)).status).toBe(200);
    expect((await raw(`${gateway.url}/metrics`)).text).toContain('inbound_rejections_total{reason="rate_limited"} 1');
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY is set', async () => {
    const gateway = await gatewayWith({ env: { INBOUND_RATE_LIMIT_PER_MINUTE: '1' } });
    expect((await post(gateway.endpoint, query, { ...auth, 'x-forwarded-for': '203.0.113.1' })).status).toBe(200);
    expect((await post(gateway.endpoint, query, { ...auth, 'x-forwarded-for': '203.0.113.2' })).status).toBe(429);
  });

  it('counts each forwarded client separately behind a trusted proxy, by the address the proxy appended', async () => {
    const gateway = await gatewayWith({ env: { INBOUND_RATE_LIMIT_PER_MINUTE: '1', TRUST_PROXY: 'true' } });
    expect((await post(gateway.endpoint, query, { ...auth, 'x-forwarded-for': '203.0.113.1' })).status).toBe(200);
    expect((await post(gateway.endpoint, query, { ...auth, 'x-forwarded-for': '203.0.113.2' })).status).toBe(200);
    // A client-chosen first entry does not buy a new bucket: the proxy's entry is last.
    expect((await post(gateway.endpoint, query, { ...auth, 'x-forwarded-for': '198.51.100.7, 203.0.113.1' })).status).toBe(429);
  });

  it('is off when INBOUND_RATE_LIMIT_PER_MINUTE is 0', async () => {
    const gateway = await gatewayWith({ env: { INBOUND_RATE_LIMIT_PER_MINUTE: '0' } });
    for (let i = 0; i < 5; i++) expect((await post(gateway.endpoint, query, auth)).status).toBe(200);
  });
});

describe('requests node:http cannot parse', () => {
  it('answers a request line over 16 KB with 431, a JSON error and a request id, not a bare status line', async () => {
    const gateway = await gatewayWith();
    const refused = await raw(`${gateway.endpoint}?query=${encodeURIComponent(`{ zones { id } } # ${'x'.repeat(20_000)}`)}`, { headers: { ...auth, 'x-graphql-csrf': '1' } });
    expect(refused.status).toBe(431);
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(code(refused)).toBe('BAD_REQUEST');
    expect(refused.json.errors[0].message).toMatch(/POST body/);
    expect(refused.headers['x-request-id']).toBe(refused.json.errors[0].extensions.requestId);
    // The server goes on answering.
    expect((await post(gateway.endpoint, query, auth)).status).toBe(200);
  });

  /** Sends `bytes` as they are and reads everything the server answers until it closes. */
  const exchange = (endpoint: string, bytes: string) =>
    new Promise<string>((resolve, reject) => {
      const { port } = new URL(endpoint);
      const socket = createConnection({ host: '127.0.0.1', port: Number(port) }, () => socket.write(bytes));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString('utf8')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
  const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { errors: Array<{ message: string; extensions: { code: string } }> };

  it.each([
    ['a body that stops coming', `POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"query"`],
    ['headers that stop coming', 'POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-ty'],
    ['a new connection that sends nothing', ''],
  ])('answers a request that is not received within REQUEST_RECEIVE_TIMEOUT_MS (%s) with 408 and lets it go', async (_case, bytes) => {
    const gateway = await gatewayWith({ env: { REQUEST_RECEIVE_TIMEOUT_MS: '1000' } });
    const started = Date.now();
    // `exchange` resolves only once the server closes the connection.
    const answer = await exchange(gateway.endpoint, bytes);
    // node's default limits (a minute for headers, five for the whole request) would hold it far longer.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(bodyOf(answer).errors[0]).toMatchObject({ message: 'The request was not received in time', extensions: { code: 'BAD_REQUEST' } });
    // The server goes on answering.
    expect((await post(gateway.endpoint, query, auth)).status).toBe(200);
  });

  it.each([
    ['405', 'PUT', 405],
    ['403 (no CSRF header)', 'POST', 403],
  ])('answers an early refusal (%s) once: a body that then stops coming closes the connection without a stray 408', async (_case, method, status) => {
    const gateway = await gatewayWith({ env: { REQUEST_RECEIVE_TIMEOUT_MS: '1000' } });
    const started = Date.now();
    // text/plain: a "simple" request, so the CSRF check refuses it before its body is read.
    const contentType = status === 403 ? 'text/plain' : 'application/json';
    const answer = await exchange(gateway.endpoint, `${method} /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: ${contentType}\r\ncontent-length: 100\r\n\r\n{"query"`);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    // One answer on the connection: the refusal, and nothing after it.
    expect(answer.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1);
    expect((await post(gateway.endpoint, query, auth)).status).toBe(200);
  });

  it('keeps a connection whose early-refused request sent its whole body, and answers the next request on it', async () => {
    const gateway = await gatewayWith({ env: { REQUEST_RECEIVE_TIMEOUT_MS: '1000' } });
    const { port } = new URL(gateway.endpoint);
    const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
    await new Promise((resolve) => socket.once('connect', resolve));
    const answers: string[] = [];
    socket.on('data', (chunk: Buffer) => answers.push(chunk.toString('utf8')));
    try {
      const body = JSON.stringify(query);
      socket.write(`PUT /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.write(body);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      socket.write(`GET /health HTTP/1.1\r\nHost: x\r\n\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(answers.join('').match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 405 ', 'HTTP/1.1 200 ']);
      // A later request on it that stops coming still gets its 408: the early answer is forgotten once its body arrived.
      socket.write(`POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"query"`);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(answers.join('').match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 405 ', 'HTTP/1.1 200 ', 'HTTP/1.1 408 ']);
    } finally {
      socket.destroy();
    }
  });

  it('keeps an idle keep-alive connection past REQUEST_RECEIVE_TIMEOUT_MS: the limit is on receiving a request, not on waiting for one', async () => {
    const gateway = await gatewayWith({ env: { REQUEST_RECEIVE_TIMEOUT_MS: '1000' } });
    const { port } = new URL(gateway.endpoint);
    const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
    await new Promise((resolve) => socket.once('connect', resolve));
    const request = `GET /health HTTP/1.1\r\nHost: x\r\n\r\n`;
    const nextAnswer = () => new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8'))));
    try {
      socket.write(request);
      expect(await nextAnswer()).toMatch(/^HTTP\/1\.1 200 /);
      // Idle for more than twice the limit (node checks it every 250 ms here).
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(socket.destroyed).toBe(false);
      socket.write(request);
      expect(await nextAnswer()).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      socket.destroy();
    }
  });

  it('answers bytes that are not HTTP with 400 and a JSON error', async () => {
    const gateway = await gatewayWith();
    const answer = await exchange(gateway.endpoint, 'NOT HTTP AT ALL\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toMatch(/x-request-id: [0-9a-f-]{36}\r\n/);
    expect(bodyOf(answer).errors[0]!.extensions.code).toBe('BAD_REQUEST');
  });

  it.each([
    ['a port out of range', 'http://x:99999/graphql'],
    ['an unclosed IPv6 bracket', 'http://[::1/graphql'],
  ])('answers an absolute-form request target that is not a URL (%s) with 400, not a server error', async (_case, target) => {
    const gateway = await gatewayWith();
    const answer = await exchange(gateway.endpoint, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toMatch(/x-request-id: [0-9a-f-]{36}\r\n/);
    expect(bodyOf(answer).errors[0]).toMatchObject({ message: 'The request target is not a valid URL', extensions: { code: 'BAD_REQUEST' } });
    expect(gateway.logs.some((line) => line.includes('unhandled error'))).toBe(false);
  });

  it('answers an HTTP/1.1 request without a Host header with 400 in the error contract, and still serves HTTP/1.0 without one', async () => {
    const gateway = await gatewayWith();
    const answer = await exchange(gateway.endpoint, 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toMatch(/x-request-id: [0-9a-f-]{36}\r\n/);
    expect(bodyOf(answer).errors[0]).toMatchObject({ message: 'An HTTP/1.1 request must carry a Host header', extensions: { code: 'BAD_REQUEST' } });
    expect(await exchange(gateway.endpoint, 'GET /health HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('answers an Expect other than 100-continue with 417 in the error contract', async () => {
    const gateway = await gatewayWith();
    const answer = await exchange(gateway.endpoint, 'GET /health HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/);
    expect(answer).toMatch(/x-request-id: [0-9a-f-]{36}\r\n/);
    expect(bodyOf(answer).errors[0]!.extensions.code).toBe('BAD_REQUEST');
  });

  it('answers CONNECT with 405 in the error contract instead of dropping the connection', async () => {
    const gateway = await gatewayWith();
    const answer = await exchange(gateway.endpoint, 'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(bodyOf(answer).errors[0]!.extensions.code).toBe('BAD_REQUEST');
  });

  it.each([
    ['CONNECT', 'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n'],
    ['bytes that are not HTTP', 'NOT HTTP AT ALL\r\n\r\n'],
  ])('lets go of the socket after refusing %s, even when the client never closes its side', async (_case, bytes) => {
    const gateway = await gatewayWith();
    const { port } = new URL(gateway.endpoint);
    const released = await new Promise<boolean>((resolve) => {
      // A client that keeps its side open: only the server can let go of the connection.
      const socket = createConnection({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true }, () => socket.write(bytes));
      socket.resume();
      socket.on('error', () => resolve(true));
      socket.on('close', () => resolve(true));
      socket.on('end', () => {
        // Writing to a socket the server has let go of is refused (a reset); to a half-closed one it is not.
        const poke = setInterval(() => socket.write('x'), 20);
        setTimeout(() => {
          clearInterval(poke);
          socket.destroy();
          resolve(false);
        }, 500);
      });
    });
    expect(released).toBe(true);
  });
});

describe('form-encoded POST bodies', () => {
  it('answers variables or extensions that are not JSON with 400 BAD_REQUEST, as for a GET', async () => {
    const gateway = await gatewayWith({ env: { LOG_LEVEL: 'info' } });
    for (const [name, value, contentType] of [
      ['variables', '{', 'application/x-www-form-urlencoded'],
      ['extensions', 'notjson', 'Application/X-WWW-Form-Urlencoded; charset=utf-8'],
      // yoga reads the media type before the first comma.
      ['variables', '{bad', 'application/x-www-form-urlencoded,application/json'],
    ] as const) {
      const response = await raw(gateway.endpoint, {
        method: 'POST',
        headers: { ...auth, 'content-type': contentType, 'apollo-require-preflight': '1' },
        body: `query=${encodeURIComponent('{ __typename }')}&${name}=${encodeURIComponent(value)}`,
      });
      expect(response.status, name).toBe(400);
      expect(code(response)).toBe('BAD_REQUEST');
      expect(response.json.errors[0].message).toBe(`The "${name}" parameter is not valid JSON`);
    }
    expect(gateway.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50)).toEqual([]);
    const fine = await raw(gateway.endpoint, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded', 'apollo-require-preflight': '1' },
      body: `query=${encodeURIComponent('{ __typename }')}&variables=${encodeURIComponent('{}')}`,
    });
    expect(fine.json).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('a client that goes away before its answer', () => {
  it('is logged as a request its client closed (499), not as a server error', async () => {
    const gateway = await gatewayWith({ env: { LOG_LEVEL: 'info' }, simulator: createSimulator({ latencyMs: 300 }) });
    try {
      const { port } = new URL(gateway.endpoint);
      const body = JSON.stringify(query);
      await new Promise<void>((resolve) => {
        const socket = createConnection({ host: '127.0.0.1', port: Number(port) }, () => {
          socket.write(`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${DEMO_TOKENS.globex}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 50);
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 600));
      const records = gateway.logs.map((line) => JSON.parse(line) as { level: number; msg: string; status?: number });
      expect(records.filter((record) => record.level >= 50)).toEqual([]);
      expect(records.find((record) => record.msg === 'graphql request')).toMatchObject({ status: 499 });
    } finally {
      await gateway.simulator.close();
    }
  });
});

describe('the request body limit', () => {
  it('answers 413 with a JSON GraphQL error when Content-Length is over LIMIT_BODY_BYTES', async () => {
    const gateway = await gatewayWith({ env: { LIMIT_BODY_BYTES: '1024' } });
    const padded = { query: ORG_NAME_QUERY, variables: { pad: 'x'.repeat(2000) } };
    const refused = await post(gateway.endpoint, padded, auth);
    expect(refused.status).toBe(413);
    expect(code(refused)).toBe('BAD_USER_INPUT');
    expect(refused.json.errors[0].message).toMatch(/1024-byte limit/);
  });

  it('counts the bytes of a chunked body that declares no length', async () => {
    const gateway = await gatewayWith({ env: { LIMIT_BODY_BYTES: '1024' } });
    const body = JSON.stringify({ query: ORG_NAME_QUERY, variables: { pad: 'x'.repeat(2000) } });
    const response = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(gateway.endpoint, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...auth } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 600));
      req.end(body.slice(600));
    });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.text).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('accepts a body within the limit', async () => {
    const gateway = await gatewayWith({ env: { LIMIT_BODY_BYTES: '1024' } });
    expect((await post(gateway.endpoint, query, auth)).status).toBe(200);
  });
});

describe('CSRF prevention', () => {
  const url = (gateway: TestGateway) => `${gateway.endpoint}?query=${encodeURIComponent(ORG_NAME_QUERY)}`;

  it('refuses a GET operation without a preflight-forcing header', async () => {
    const gateway = await gatewayWith({});
    const refused = await raw(url(gateway), { headers: auth });
    expect(refused.status).toBe(403);
    expect(code(refused)).toBe('FORBIDDEN');
    expect(refused.json.errors[0].message).toMatch(/apollo-require-preflight/);
  });

  it.each(['apollo-require-preflight', 'x-apollo-operation-name', 'x-graphql-csrf', 'graphql-preflight'])('runs a GET operation that carries %s', async (name) => {
    const gateway = await gatewayWith({});
    const answered = await raw(url(gateway), { headers: { ...auth, [name]: 'OrgName' } });
    expect(answered.status).toBe(200);
    expect(answered.json.data.organization.name).toBe('Globex Corporation');
  });

  it('does not count an empty header', async () => {
    const gateway = await gatewayWith({});
    expect((await raw(url(gateway), { headers: { ...auth, 'apollo-require-preflight': '' } })).status).toBe(403);
  });

  it.each(['text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded'])('refuses a POST sent as %s without the header', async (contentType) => {
    const gateway = await gatewayWith({});
    const refused = await raw(gateway.endpoint, { method: 'POST', headers: { ...auth, 'content-type': contentType }, body: JSON.stringify(query) });
    expect(refused.status).toBe(403);
    expect(code(refused)).toBe('FORBIDDEN');
  });

  it('lets a JSON POST through without any extra header', async () => {
    const gateway = await gatewayWith({});
    expect((await post(gateway.endpoint, query, auth)).status).toBe(200);
  });

  it('sees a GET operation wherever yoga would read it: after a doubled `?` too', async () => {
    const gateway = await gatewayWith({});
    // A URL parser names that parameter `?query`; yoga reads what follows the first `?`, and runs it.
    const target = `${gateway.endpoint}??query=${encodeURIComponent(ORG_NAME_QUERY)}`;
    const refused = await raw(target, { headers: auth });
    expect(refused.status).toBe(403);
    expect(code(refused)).toBe('FORBIDDEN');
    const answered = await raw(target, { headers: { ...auth, 'x-graphql-csrf': '1' } });
    expect(answered.json.data.organization.name).toBe('Globex Corporation');
  });

  it('refuses a request target with a fragment, which could hide an operation from one reader and not the other', async () => {
    const gateway = await gatewayWith({});
    const { port } = new URL(gateway.endpoint);
    const send = (path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; json: any }>((resolve, reject) => {
        // Given as a path, the target goes out as written (a URL string would lose its fragment).
        const req = httpRequest({ host: '127.0.0.1', port: Number(port), path, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
        });
        req.on('error', reject);
        req.end();
      });
    const q = encodeURIComponent(ORG_NAME_QUERY);
    for (const path of [`/graphql?#&query=${q}`, `/graphql?query=${q}#x`, '/health#']) {
      const refused = await send(path, { ...auth, 'x-graphql-csrf': '1' });
      expect(refused.status, path).toBe(400);
      expect(refused.json.errors[0].extensions.code).toBe('BAD_REQUEST');
      expect(refused.json.errors[0].message).toMatch(/fragment/);
    }
  });
});

describe('CORS', () => {
  const ALLOWED = 'https://dashboard.example';

  it('answers a preflight from a listed origin with the methods and headers a client needs', async () => {
    const gateway = await gatewayWith({ env: { CORS_ORIGINS: `${ALLOWED}, https://other.example` } });
    const preflight = await raw(gateway.endpoint, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(preflight.headers['access-control-allow-methods']).toMatch(/POST/);
    const allowed = preflight.headers['access-control-allow-headers']!.split(/,\s*/);
    for (const name of ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-graphql-csrf', 'graphql-preflight', 'x-request-id', 'cache-control', 'if-none-match', 'apollographql-client-name', 'apollographql-client-version', 'traceparent', 'tracestate', 'baggage', 'sentry-trace']) {
      expect(allowed).toContain(name);
    }
    expect(preflight.headers.vary).toMatch(/Origin/);
  });

  it('frames a preflight’s 204 by its status alone: no Content-Length, no Transfer-Encoding', async () => {
    const gateway = await gatewayWith({ env: { CORS_ORIGINS: ALLOWED } });
    for (const origin of [ALLOWED, 'https://evil.example']) {
      const preflight = await raw(gateway.endpoint, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['content-length'], origin).toBeUndefined();
      expect(preflight.headers['transfer-encoding'], origin).toBeUndefined();
    }
  });

  it('matches a listed origin written with a trailing slash or capitals, as browsers send it', async () => {
    const gateway = await gatewayWith({ env: { CORS_ORIGINS: `${ALLOWED.toUpperCase().replace('HTTPS', 'https')}/` } });
    const answer = await post(gateway.endpoint, query, { ...auth, origin: ALLOWED });
    expect(answer.headers['access-control-allow-origin']).toBe(ALLOWED);
  });

  it('adds the allow-origin header to answers for a listed origin and varies on Origin', async () => {
    const gateway = await gatewayWith({ env: { CORS_ORIGINS: ALLOWED } });
    const answer = await post(gateway.endpoint, query, { ...auth, origin: ALLOWED });
    expect(answer.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(answer.headers['access-control-expose-headers']).toMatch(/x-request-id/);
    expect(answer.headers.vary).toMatch(/Origin/);
  });

  it('sends no CORS headers at all to an unlisted origin', async () => {
    const gateway = await gatewayWith({ env: { CORS_ORIGINS: ALLOWED } });
    const preflight = await raw(gateway.endpoint, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    const answer = await post(gateway.endpoint, query, { ...auth, origin: 'https://evil.example' });
    for (const response of [preflight, answer]) {
      expect(Object.keys(response.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
      expect(response.headers.vary).toMatch(/Origin/);
    }
  });
});

describe('encoded request bodies', () => {
  it('refuses a body with a Content-Encoding with 415, saying so, instead of reporting JSON that does not parse', async () => {
    const gateway = await gatewayWith();
    const body = gzipSync(JSON.stringify(query));
    const refused = await raw(gateway.endpoint, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', ...auth }, body });
    expect(refused.status).toBe(415);
    expect(refused.headers['accept-encoding']).toBe('identity');
    expect(code(refused)).toBe('BAD_REQUEST');
    expect(refused.json.errors[0].message).toMatch(/Content-Encoding: gzip.*unencoded/);
  });

  it('reads a body whose Content-Encoding is identity', async () => {
    const gateway = await gatewayWith();
    const answered = await raw(gateway.endpoint, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'identity', ...auth }, body: JSON.stringify(query) });
    expect(answered.status).toBe(200);
    expect(answered.json.data).toBeTruthy();
  });
});
