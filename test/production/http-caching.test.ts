import { describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import type { GraphQLResponseOutput } from '../../src/server/http-server.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { asksForRefresh } from '../../src/server/http-caching.js';
import { bearer, gatewaysPerTest, get, ORG_NAME_QUERY, post, raw } from './gateway.js';

const gatewayWith = gatewaysPerTest();

const auth = bearer(DEMO_TOKENS.globex);

describe('HTTP caching of GET queries', () => {
  it('lets the client keep an answer privately for as long as its REST entries stay fresh', async () => {
    const clock = createFakeClock();
    const gateway = await gatewayWith({ clock, env: { CACHE_TTL_ORGANIZATION_MS: '60000', CACHE_TTL_CATALOGUE_MS: '600000' } });
    const first = await get(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    expect(first.headers['cache-control']).toBe('private, max-age=60');
    expect(first.headers.vary).toMatch(/Authorization/);

    await clock.advance(25_000);
    const later = await get(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    expect(later.headers['cache-control']).toBe('private, max-age=35');

    // The shortest-lived entry decides: zones are fresh for 10 minutes, the organization for 35 s more.
    const mixed = await get(gateway.endpoint, { query: '{ zones { name } organization(subDomain: "globex") { name } }' }, auth);
    expect(mixed.headers['cache-control']).toBe('private, max-age=35');
  });

  it('lets the client keep an answer no longer than until its token is next checked with Katapult', async () => {
    const clock = createFakeClock();
    const gateway = await gatewayWith({ clock, env: { CACHE_TTL_CATALOGUE_MS: '600000', CACHE_TOKEN_RECHECK_MS: '60000' } });
    const zones = '{ zones { name } }';
    // The zones are fresh for ten minutes, but a token revoked meanwhile is refused within a minute.
    expect((await get(gateway.endpoint, { query: zones }, auth)).headers['cache-control']).toBe('private, max-age=60');
    await clock.advance(20_000);
    expect((await get(gateway.endpoint, { query: zones }, auth)).headers['cache-control']).toBe('private, max-age=40');
    // Due its background check: this request starts it, and what it reads is vouched for by nothing newer than 50 s ago.
    await clock.advance(30_000);
    expect((await get(gateway.endpoint, { query: zones }, auth)).headers['cache-control']).toBe('private, max-age=10');
    // Katapult accepted the token again: a minute from now.
    const checkedUntil = () => gateway.app.cache.tokenCheckAt(gateway.app.tokens.key(DEMO_TOKENS.globex));
    for (let i = 0; i < 50 && checkedUntil() <= clock.now() + 10_000; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(checkedUntil()).toBe(clock.now() + 60_000);
    // (Another document: the one above is replayed from its stored answer, which still says what it was built from.)
    expect((await get(gateway.endpoint, { query: '{ zones { id name } }' }, auth)).headers['cache-control']).toBe('private, max-age=60');
    // Idle past the minute: the next request is answered by Katapult itself, so it may be kept a minute again.
    await clock.advance(120_000);
    expect((await get(gateway.endpoint, { query: zones }, auth)).headers['cache-control']).toBe('private, max-age=60');
    const unchecked = await gatewayWith({ clock, env: { CACHE_TTL_CATALOGUE_MS: '600000', CACHE_TOKEN_RECHECK_MS: '0' } });
    expect((await get(unchecked.endpoint, { query: zones }, auth)).headers['cache-control']).toBe('private, max-age=600');
  });

  it('forbids keeping answers with errors or built from stale entries', async () => {
    const clock = createFakeClock();
    // Stale within the token's check period: a token unchecked for that long is not answered from its entries at all.
    const gateway = await gatewayWith({ clock, env: { CACHE_TTL_ORGANIZATION_MS: '20000' } });
    const failed = await get(gateway.endpoint, { query: '{ organization(id: "org_x", subDomain: "y") { name } }' }, auth);
    expect(failed.json.errors).toBeDefined();
    expect(failed.headers['cache-control']).toBe('no-store');
    expect(failed.headers.etag).toBeUndefined();

    await get(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    await clock.advance(20_001);
    const stale = await get(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    expect(stale.json.data.organization.name).toBe('Globex Corporation');
    expect(stale.headers['cache-control']).toBe('no-store');
  });

  it('forbids keeping any GET answer with an error status: no token, a bad document, a refused request', async () => {
    const gateway = await gatewayWith({ env: { INBOUND_RATE_LIMIT_PER_MINUTE: '3' } });
    const answers = [
      await get(gateway.endpoint, { query: ORG_NAME_QUERY }),
      await get(gateway.endpoint, { query: '{' }, auth),
      await get(gateway.endpoint, { query: ORG_NAME_QUERY, variables: '{not json' }, auth),
      await get(gateway.endpoint, { query: ORG_NAME_QUERY }, auth),
    ];
    // An unparseable document is 200 under application/json (GraphQL over HTTP), with errors.
    expect(answers.map((a) => a.status)).toEqual([401, 200, 400, 429]);
    for (const answer of answers) {
      expect(answer.headers['cache-control'], String(answer.status)).toBe('no-store');
      expect(answer.headers.etag, String(answer.status)).toBeUndefined();
    }
  });

  it('asks the client to revalidate an answer that read nothing from Katapult', async () => {
    const gateway = await gatewayWith();
    const answer = await get(gateway.endpoint, { query: '{ __typename }' }, auth);
    expect(answer.headers['cache-control']).toBe('private, no-cache');
    expect(answer.headers.etag).toMatch(/^W\/".+"$/);
  });

  it('answers 304 Not Modified, without a body, when If-None-Match names the current ETag', async () => {
    const gateway = await gatewayWith();
    const first = await get(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    const etag = first.headers.etag!;
    expect(etag).toMatch(/^W\/".+"$/);

    const revalidated = await get(gateway.endpoint, { query: ORG_NAME_QUERY }, { ...auth, 'if-none-match': `W/"other", ${etag}` });
    expect(revalidated.status).toBe(304);
    expect(revalidated.body.length).toBe(0);
    expect(revalidated.headers['content-length']).toBeUndefined();
    expect(revalidated.headers.etag).toBe(etag);
    expect(revalidated.headers['cache-control']).toMatch(/^private, max-age=\d+$/);
    expect(revalidated.headers['x-request-id']).toBeDefined();

    const changed = await get(gateway.endpoint, { query: ORG_NAME_QUERY }, { ...auth, 'if-none-match': 'W/"other"' });
    expect(changed.status).toBe(200);
    expect(changed.text).toBe(first.text);
  });

  it('adds no caching headers to POST answers', async () => {
    const gateway = await gatewayWith();
    const answer = await post(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    expect(answer.headers.etag).toBeUndefined();
    expect(answer.headers['cache-control']).toBeUndefined();
  });
});

describe('the fast-path integration points', () => {
  it('offers every yoga answer to onGraphQLResult and sends what fastPath returns without running yoga', async () => {
    const stored = new Map<string, GraphQLResponseOutput>();
    const keyOf = (input: { method: string; url: URL; body: Buffer | undefined; scope: { tokenKey: string } }) =>
      `${input.scope.tokenKey} ${input.method} ${input.url.search} ${input.body?.toString() ?? ''}`;
    const gateway = await gatewayWith({
      env: { LOG_LEVEL: 'info' },
      fastPath: (input) => stored.get(keyOf(input)) ?? null,
      onGraphQLResult: ({ request, status, headers, body, operationName }) => {
        if (status === 200 && request.scope.stats.upstreamCalls > 0) stored.set(keyOf(request), { status, headers, body, operationName });
      },
    });
    const first = await post(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    const callsAfterFirst = gateway.simulator.requests.length;
    const second = await post(gateway.endpoint, { query: ORG_NAME_QUERY }, { ...auth, 'x-request-id': 'from-fast-path' });

    expect(second.text).toBe(first.text);
    expect(second.headers['x-request-id']).toBe('from-fast-path');
    expect(gateway.simulator.requests.length).toBe(callsAfterFirst);
    const summary = gateway.logs.map((line) => JSON.parse(line)).find((r) => r.requestId === 'from-fast-path');
    expect(summary).toMatchObject({ msg: 'graphql request', fastPath: true, operationName: 'OrgName', status: 200 });
    expect((await raw(`${gateway.url}/metrics`)).text).toContain('response_cache_hits_total 1');
  });

  it('bounds a fast-path GET answer\'s max-age by the freshness it reports, and adds an ETag', async () => {
    const clock = createFakeClock();
    const body = Buffer.from('{"data":{"organization":{"name":"Stored"}}}');
    const gateway = await gatewayWith({
      clock,
      fastPath: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body, freshUntil: clock.now() + 42_500 }),
    });
    const answer = await get(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    expect(answer.text).toBe(body.toString());
    expect(answer.headers['cache-control']).toBe('private, max-age=42');
    expect(answer.headers.etag).toMatch(/^W\/".+"$/);
    const revalidated = await get(gateway.endpoint, { query: ORG_NAME_QUERY }, { ...auth, 'if-none-match': answer.headers.etag! });
    expect(revalidated.status).toBe(304);
  });

  it('tells listeners when the REST cache drops a token, so stored answers can go too', async () => {
    const gateway = await gatewayWith();
    const purged: string[] = [];
    gateway.app.onTokenPurged((tokenKey) => purged.push(tokenKey));
    await post(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    const tokenKey = gateway.app.tokens.key(DEMO_TOKENS.globex);
    gateway.app.cache.purgeToken(tokenKey);
    expect(purged).toEqual([tokenKey]);
  });

  it('runs the edge checks before the fast path', async () => {
    let consulted = 0;
    const gateway = await gatewayWith({
      fastPath: () => {
        consulted++;
        return null;
      },
    });
    await raw(`${gateway.endpoint}?query=${encodeURIComponent(ORG_NAME_QUERY)}`, { headers: auth });
    expect(consulted).toBe(0);
    await get(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    expect(consulted).toBe(1);
  });
});

describe('a request asking for a refresh', () => {
  it('is one whose Cache-Control holds no-cache or max-age=0, in any case and spacing', () => {
    for (const header of ['no-cache', 'No-Cache', 'max-age=0', 'max-age=0, no-transform', 'no-transform,  max-age = 0', 'max-age="0"', 'private, no-cache'])
      expect(asksForRefresh(header), header).toBe(true);
    for (const header of [null, undefined, '', 'max-age=10', 'max-age=01', 'no-store', 'no-cache-x', 'x-no-cache', 'max-stale=0', 'min-fresh=0', 's-maxage=0'])
      expect(asksForRefresh(header), String(header)).toBe(false);
  });

  it('is not one that sends only Pragma: no-cache, which some libraries send with every request', async () => {
    const gateway = await gatewayWith();
    const calls = () => gateway.simulator.countRequests({ token: DEMO_TOKENS.globex });
    expect((await post(gateway.endpoint, { query: ORG_NAME_QUERY }, auth)).status).toBe(200);
    const before = calls();
    expect(before).toBeGreaterThan(0);
    expect((await post(gateway.endpoint, { query: ORG_NAME_QUERY }, { ...auth, pragma: 'no-cache' })).status).toBe(200);
    expect(calls()).toBe(before);
    // Beside it, the Cache-Control a browser sends is read.
    expect((await post(gateway.endpoint, { query: ORG_NAME_QUERY }, { ...auth, pragma: 'no-cache', 'cache-control': 'no-cache' })).status).toBe(200);
    expect(calls()).toBeGreaterThan(before);
  });
});
