import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/schema/errors.js';
import { answersGraphQLResponseJson } from '../../src/server/error-contract.js';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { bearer, gatewaysPerTest, post, raw } from './gateway.js';

/**
 * Whatever is wrong with a request, each error it gets has a code from the documented set and
 * the request id, nothing of the parser's internals, and the status is never a 5xx.
 */
const start = gatewaysPerTest();
const json = { 'content-type': 'application/json', ...bearer(DEMO_TOKENS.globex) };
const postJson = (body: string) => ({ method: 'POST', headers: json, body });

const BAD_REQUESTS: Array<[string, { method?: string; headers?: Record<string, string>; body?: string }]> = [
  ['a body that is not JSON', postJson('{"query": "{ zones { id } }"')],
  ['a batch', postJson('[{"query":"{ zones { id } }"}]')],
  ['a query that is not a string', postJson('{"query": 5}')],
  ['variables that are not an object', postJson('{"query": "{ zones { id } }", "variables": "x"}')],
  ['no query', postJson('{}')],
  ['an unknown operation name', postJson('{"query": "query A { zones { id } } query B { zones { name } }", "operationName": "C"}')],
  ['a mutation', postJson('{"query": "mutation { x }"}')],
  ['a subscription', postJson('{"query": "subscription { x }"}')],
  ['a PUT', { method: 'PUT', headers: json, body: '{"query": "{ zones { id } }"}' }],
  ['a DELETE without a body', { method: 'DELETE', headers: bearer(DEMO_TOKENS.globex) }],
  ['a syntax error', postJson('{"query": "{ zones { id }"}')],
  ['an unknown field', postJson('{"query": "{ zones { nope } }"}')],
  ['a variable of the wrong type', postJson('{"query": "query($n: Int!) { organization(subDomain: \\"globex\\") { virtualMachines(first: $n) { totalCount } } }", "variables": {"n": "x"}}')],
  ['a body in a media type nobody reads', { method: 'POST', headers: { ...json, 'content-type': 'text/plain', 'x-graphql-csrf': '1' }, body: '{"query": "{ zones { id } }"}' }],
  ['an Accept no answer can meet', { method: 'POST', headers: { ...json, accept: 'text/html' }, body: '{"query": "{ zones { id } }"}' }],
];

describe('error codes', () => {
  it('every error of a bad request has a documented code and the request id, and no 5xx', async () => {
    const gateway = await start();
    for (const [what, init] of BAD_REQUESTS) {
      const response = await raw(gateway.endpoint, { ...init, headers: { ...init.headers, 'x-request-id': 'bad-1' } });
      expect(response.status, what).toBeLessThan(500);
      const errors = response.json?.errors as Array<{ extensions?: Record<string, unknown> }> | undefined;
      expect(errors?.length, `${what}: ${response.text}`).toBeGreaterThan(0);
      for (const error of errors!) {
        expect(ERROR_CODES, `${what}: ${response.text}`).toContain(error.extensions?.code);
        expect(error.extensions?.requestId, what).toBe('bad-1');
        expect(error.extensions, what).not.toHaveProperty('originalError');
      }
    }
  });

  it("answers the edge's own refusals in the JSON type the client prefers", async () => {
    const gateway = await start();
    const body = '{"query": "{ zones { id } }"}';
    const refusals: Array<[string, { method: string; headers: Record<string, string>; body?: string }, number]> = [
      ['a PUT', { method: 'PUT', headers: json, body }, 405],
      ['a body in a media type nobody reads', { method: 'POST', headers: { ...json, 'content-type': 'text/plain', 'x-graphql-csrf': '1' }, body }, 415],
      ['a form POST without a preflight header', { method: 'POST', headers: { ...json, 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B%20zones%20%7B%20id%20%7D%20%7D' }, 403],
    ];
    for (const [what, init, status] of refusals) {
      for (const [accept, type] of [
        ['application/graphql-response+json', 'application/graphql-response+json; charset=utf-8'],
        ['application/json;q=0.5, application/graphql-response+json', 'application/graphql-response+json; charset=utf-8'],
        ['application/json, application/graphql-response+json', 'application/json; charset=utf-8'],
        [undefined, 'application/json; charset=utf-8'],
      ] as const) {
        const response = await raw(gateway.endpoint, { ...init, headers: { ...init.headers, ...(accept ? { accept } : {}) } });
        expect(response.status, `${what}, ${accept}`).toBe(status);
        expect(response.headers['content-type'], `${what}, ${accept}`).toBe(type);
        expect(response.json.errors[0].extensions.code, `${what}, ${accept}`).toEqual(expect.any(String));
      }
    }
  });

  it('answers a mutation sent as a GET with 405 and Allow: POST, as GraphQL over HTTP requires', async () => {
    const gateway = await start();
    const response = await raw(`${gateway.endpoint}?query=${encodeURIComponent('mutation { x }')}`, { headers: { ...bearer(DEMO_TOKENS.globex), 'x-graphql-csrf': '1' } });
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('POST');
    expect(response.json).not.toHaveProperty('data');
    expect(response.json.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('answers any method but GET and POST with 405 and Allow, before CSRF prevention looks at it', async () => {
    const gateway = await start();
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      for (const headers of [json, bearer(DEMO_TOKENS.globex)]) {
        const response = await raw(gateway.endpoint, { method, headers, ...(method === 'DELETE' ? {} : { body: '{"query": "{ zones { id } }"}' }) });
        expect(response.status, method).toBe(405);
        expect(response.headers.allow, method).toBe('GET, HEAD, POST, OPTIONS');
        expect(response.json.errors[0].extensions.code, method).toBe('BAD_REQUEST');
      }
    }
  });

  it('answers a media type it cannot read or write with 415 or 406 and a body that says which to use', async () => {
    const gateway = await start();
    const body = '{"query": "{ zones { id } }"}';
    const unsupported = await raw(gateway.endpoint, { method: 'POST', headers: { ...json, 'content-type': 'text/plain', 'x-graphql-csrf': '1' }, body });
    expect(unsupported.status).toBe(415);
    expect(unsupported.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(unsupported.json.errors[0].message).toMatch(/application\/json/);
    const unacceptable = await raw(gateway.endpoint, { method: 'POST', headers: { ...json, accept: 'text/html' }, body });
    expect(unacceptable.status).toBe(406);
    expect(unacceptable.json.errors[0].message).toMatch(/application\/graphql-response\+json/);
    // Every type it names is one the gateway answers in.
    for (const named of ['application/json', 'text/event-stream', 'multipart/mixed']) {
      expect(unacceptable.json.errors[0].message).toContain(named);
      const served = await raw(gateway.endpoint, { method: 'POST', headers: { ...json, accept: named }, body });
      expect(served.status, named).toBe(200);
      expect(served.headers['content-type'], named).toContain(named);
      expect(served.text, named).toContain('"zones"');
    }
    // Media types are case-insensitive: this one is JSON.
    const shouted = await raw(gateway.endpoint, { method: 'POST', headers: { ...json, 'content-type': 'APPLICATION/JSON; charset=UTF-8' }, body });
    expect(shouted.status).toBe(200);
    expect(shouted.json.data.zones.length).toBeGreaterThan(0);
  });

  it('refuses a multipart body with 415, malformed or not: the schema takes no uploads', async () => {
    const gateway = await start();
    const part = (name: string, value: string) => `--zz\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const bodies = [
      // What yoga's multipart reading failed on with internal errors (and a stack in the log).
      part('operations', 'null'),
      part('operations', '{"query": "{ zones { id } }"}') + part('map', '{"0": null}'),
      part('operations', '{"query": "{ zones { id } }"}') + part('map', '{"0": [5]}'),
      // And a well-formed one.
      part('operations', '{"query": "{ zones { id } }"}') + part('map', '{}'),
    ];
    for (const body of bodies) {
      for (const contentType of ['multipart/form-data; boundary=zz', 'Multipart/Form-Data ;boundary=zz']) {
        const refused = await raw(gateway.endpoint, { method: 'POST', headers: { ...bearer(DEMO_TOKENS.globex), 'content-type': contentType, 'x-graphql-csrf': '1' }, body: `${body}--zz--\r\n` });
        expect(refused.status, body).toBe(415);
        expect(refused.json.errors[0].extensions.code).toBe('BAD_REQUEST');
        expect(refused.json.errors[0].message).toMatch(/application\/json/);
      }
    }
  });

  it('reads quality values in Accept: a type refused with q=0 is never chosen, and the preferred one is', async () => {
    const gateway = await start();
    const body = '{"query": "{ zones { id } }"}';
    const send = (accept: string) => raw(gateway.endpoint, { method: 'POST', headers: { ...json, accept }, body });
    const refusedFirst = await send('application/graphql-response+json;q=0, application/json');
    expect(refusedFirst.status).toBe(200);
    expect(refusedFirst.headers['content-type']).toBe('application/json; charset=utf-8');
    const preferredSecond = await send('application/json;q=0.5, application/graphql-response+json');
    expect(preferredSecond.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
    const nothing = await send('application/json;q=0, application/graphql-response+json;Q=0.000');
    expect(nothing.status).toBe(406);
    expect(nothing.json.errors[0].extensions.code).toBe('BAD_REQUEST');
    // A charset yoga cannot write rules a range out, with or without weights, and the status
    // follows the media type actually sent: without a token, an answer with data is 200 under it.
    const latin1 = await raw(gateway.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json;charset=iso-8859-1, application/graphql-response+json' },
      body: '{"query": "{ __typename zones { id } }"}',
    });
    expect(latin1.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
    expect(latin1.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(latin1.status).toBe(200);
    // A type refused by name is not taken through a wildcard, which stands for the others.
    const wildcard = await send('application/json;q=0, */*');
    expect(wildcard.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
    // Equal preferences keep their order; a weight that is not a number counts as none given.
    expect((await send('application/graphql-response+json;q=0.8, application/json;q=0.8')).headers['content-type']).toMatch(/^application\/graphql-response\+json/);
    expect((await send('application/json;q=x, application/graphql-response+json;q=0.9')).headers['content-type']).toMatch(/^application\/json/);
  });

  it('serves the GraphiQL page only to a client that takes HTML', async () => {
    const gateway = await start();
    const page = await raw(gateway.endpoint, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const refused = await raw(gateway.endpoint, { headers: { accept: 'text/html;q=0, */*' } });
    expect(refused.headers['content-type']).not.toMatch(/text\/html/);
  });

  it('lets a browser revalidate the GraphiQL page by its ETag instead of downloading it again', async () => {
    const gateway = await start();
    for (const encoding of [undefined, 'gzip', 'br']) {
      const headers: Record<string, string> = { accept: 'text/html', ...(encoding ? { 'accept-encoding': encoding } : {}) };
      const page = await raw(gateway.endpoint, { headers });
      expect(page.status).toBe(200);
      expect(page.headers.etag).toMatch(/^(W\/)?"[^"]+"$/);
      expect(page.headers['content-encoding']).toBe(encoding);
      const again = await raw(gateway.endpoint, { headers: { ...headers, 'if-none-match': page.headers.etag! } });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      expect(again.headers.etag).toBe(page.headers.etag);
    }
    // Each encoding is a representation of its own, with its own tag.
    const tags = await Promise.all(['identity', 'gzip'].map(async (encoding) => (await raw(gateway.endpoint, { headers: { accept: 'text/html', 'accept-encoding': encoding } })).headers.etag));
    expect(tags[0]).not.toBe(tags[1]);
  });

  it('counts the GraphiQL page against the per-address request limit', async () => {
    const gateway = await start({ env: { INBOUND_RATE_LIMIT_PER_MINUTE: '2' } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await raw(gateway.endpoint, { headers: { accept: 'text/html' } })).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('names every method /graphql answers in Allow, on a 405 and on a preflight', async () => {
    const gateway = await start();
    const preflight = await raw(gateway.endpoint, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
  });

  it('answers a request it cannot read with 400 under either media type, and a readable one that fails under application/json with 200', async () => {
    // GraphQL over HTTP: a body that is not JSON, or parameters that are not a request, is not a
    // well-formed request (400); a document that does not parse, validate or take its variables
    // is one (200 under application/json, 4xx under application/graphql-response+json).
    const gateway = await start();
    const unreadable = ['{"query": "{ zones { id } }"', '', '"a string"', '{}', '{"query": 5}', '{"query": "{ zones { id } }", "variables": "x"}', '{"query": "{ zones { id } }", "operationName": 5}'];
    const readable = ['{"query": "{ zones { id }"}', '{"query": "{ zones { nope } }"}', '{"query": "query($n: Int!) { zones { id } }", "variables": {"n": "x"}}'];
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      for (const body of unreadable) {
        const response = await raw(gateway.endpoint, { method: 'POST', headers: { ...json, accept }, body });
        expect(response.status, `${accept}: ${body}`).toBe(400);
        expect((response.json as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]?.extensions?.code, `${accept}: ${body}`).toBe('BAD_REQUEST');
      }
      for (const name of ['variables', 'extensions']) {
        const search = `query=${encodeURIComponent('{ zones { id } }')}&${name}=${encodeURIComponent('{not json')}`;
        const response = await raw(`${gateway.endpoint}?${search}`, { headers: { ...bearer(DEMO_TOKENS.globex), accept, 'x-graphql-csrf': '1' } });
        expect(response.status, `${accept}: GET ${name}`).toBe(400);
        expect((response.json as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]?.extensions?.code, `GET ${name}`).toBe('BAD_REQUEST');
      }
      for (const body of readable) {
        const response = await raw(gateway.endpoint, { method: 'POST', headers: { ...json, accept }, body });
        expect(response.status, `${accept}: ${body}`).toBe(accept === 'application/json' ? 200 : 400);
      }
    }
  });

  it('ties the status to data as GraphQL over HTTP requires under application/graphql-response+json, and keeps the documented 401 under application/json', async () => {
    const gateway = await start();
    const strict = { accept: 'application/graphql-response+json' };
    const legacy = { accept: 'application/json' };
    // Data next to the failure (the organization is named by its sub-domain): a 2xx, with the error.
    const partial = '{ organization(subDomain: "globex") { subDomain virtualMachines(first: 1) { totalCount } } }';
    const partialStrict = await post(gateway.endpoint, { query: partial }, strict);
    expect(partialStrict.status).toBe(200);
    expect(partialStrict.json).toMatchObject({ data: { organization: { subDomain: 'globex', virtualMachines: null } }, errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    const partialLegacy = await post(gateway.endpoint, { query: partial }, legacy);
    expect(partialLegacy.status).toBe(401);
    expect(partialLegacy.headers['www-authenticate']).toMatch(/^Bearer\b/);
    // Nothing answered: a request error, without data, with its status and challenge.
    const nothing = await post(gateway.endpoint, { query: '{ zones { id } organizations { id } }' }, strict);
    expect(nothing.status).toBe(401);
    expect(nothing.headers['www-authenticate']).toMatch(/^Bearer\b/);
    expect(nothing.json).not.toHaveProperty('data');
    expect((nothing.json as { errors: unknown[] }).errors.length).toBeGreaterThan(0);
    // Operations the schema does not have: 400 without data; 200 under application/json, as for validation.
    for (const query of ['mutation { x }', 'subscription { x }']) {
      const refused = await post(gateway.endpoint, { query }, { ...strict, ...bearer(DEMO_TOKENS.globex) });
      expect(refused.status, query).toBe(400);
      expect(refused.json, query).not.toHaveProperty('data');
      expect((refused.json as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code, query).toBe('GRAPHQL_VALIDATION_FAILED');
      const legacyRefused = await post(gateway.endpoint, { query }, { ...legacy, ...bearer(DEMO_TOKENS.globex) });
      expect(legacyRefused.status, query).toBe(200);
      // A request error, not an execution result: no data entry (graphql 16 alone answers a mutation with `"data": null`).
      expect(legacyRefused.json, query).not.toHaveProperty('data');
      expect((legacyRefused.json as { errors: Array<{ message: string; extensions: { code: string } }> }).errors, query).toMatchObject([
        { message: expect.stringContaining(`The ${query.split(' ')[0]} operation is not supported by the schema`), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
      ]);
    }
    // The document is what is invalid (the spec's Operation Type Existence), whichever operation is chosen.
    const mixed = await post(gateway.endpoint, { query: 'query A { zones { id } } mutation B { x }', operationName: 'A' }, { ...legacy, ...bearer(DEMO_TOKENS.globex) });
    expect(mixed.json).not.toHaveProperty('data');
    expect((mixed.json as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('knows which media type yoga answers with from the Accept header', () => {
    expect(answersGraphQLResponseJson('application/graphql-response+json')).toBe(true);
    expect(answersGraphQLResponseJson('application/graphql-response+json, application/json')).toBe(true);
    expect(answersGraphQLResponseJson('application/json, application/graphql-response+json')).toBe(false);
    expect(answersGraphQLResponseJson('application/json;q=0.5, application/graphql-response+json')).toBe(false);
    expect(answersGraphQLResponseJson('*/*')).toBe(false);
    expect(answersGraphQLResponseJson(null)).toBe(false);
    expect(answersGraphQLResponseJson('text/html, application/graphql-response+json;charset=utf-8')).toBe(true);
  });
});

