import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plugin } from 'graphql-yoga';
import { createPersistedOperations } from '../../src/server/persisted-operations.js';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { bearer, gatewaysPerTest, get, ORG_NAME_QUERY, post, raw, requestSummaries, type RawResponse } from './gateway.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const persisted = (document: string) => ({ persistedQuery: { version: 1, sha256Hash: sha256(document) } });
const auth = bearer(DEMO_TOKENS.globex);
const code = (response: RawResponse) => response.json?.errors?.[0]?.extensions?.code;

const start = gatewaysPerTest();
const gatewayWith = (env: Record<string, string> = {}) => start({ env });

describe('automatic persisted queries', () => {
  it('asks for the document on an unknown hash, stores it when sent, then runs it by hash', async () => {
    const gateway = await gatewayWith();
    const missing = await post(gateway.endpoint, { extensions: persisted(ORG_NAME_QUERY) }, auth);
    expect(missing.status).toBe(200);
    expect(missing.json.errors[0]).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });

    const registered = await post(gateway.endpoint, { query: ORG_NAME_QUERY, extensions: persisted(ORG_NAME_QUERY) }, auth);
    expect(registered.json.data.organization.name).toBe('Globex Corporation');

    const byHash = await post(gateway.endpoint, { extensions: persisted(ORG_NAME_QUERY) }, auth);
    expect(byHash.json).toEqual(registered.json);
  });

  it('asks for the document with a 200 to a client that also takes application/json, as mobile clients do', async () => {
    const gateway = await gatewayWith();
    // Apollo iOS's Accept. Its response-code check runs before its APQ retry and fails on any
    // non-2xx, so a 400 (what application/graphql-response+json gives an answer without data)
    // would end its request instead of making it send the document.
    const mobile = { ...auth, accept: 'multipart/mixed;deferSpec=20220824,application/graphql-response+json,application/json' };
    for (const accept of [mobile.accept, 'application/graphql-response+json, application/json;q=0.9', '*/*']) {
      const missing = await post(gateway.endpoint, { extensions: persisted(ORG_NAME_QUERY) }, { ...auth, accept });
      expect(missing.status, accept).toBe(200);
      expect(missing.headers['content-type'], accept).toBe('application/json; charset=utf-8');
      expect(code(missing), accept).toBe('PERSISTED_QUERY_NOT_FOUND');
      expect(code(await get(gateway.endpoint, { extensions: persisted(ORG_NAME_QUERY) }, { ...auth, accept })), accept).toBe('PERSISTED_QUERY_NOT_FOUND');
      expect((await get(gateway.endpoint, { extensions: persisted(ORG_NAME_QUERY) }, { ...auth, accept })).status, accept).toBe(200);
    }
    // A client that takes only the GraphQL response type gets what that type requires of an answer without data.
    const strict = await post(gateway.endpoint, { extensions: persisted(ORG_NAME_QUERY) }, { ...auth, accept: 'application/graphql-response+json' });
    expect(strict.status).toBe(400);
    expect(strict.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
    expect(code(strict)).toBe('PERSISTED_QUERY_NOT_FOUND');
    // Everything else keeps the type the client prefers.
    const registered = await post(gateway.endpoint, { query: ORG_NAME_QUERY, extensions: persisted(ORG_NAME_QUERY) }, mobile);
    expect(registered.status).toBe(200);
    expect(registered.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
    expect(registered.json.data.organization.name).toBe('Globex Corporation');
    const invalid = await post(gateway.endpoint, { query: '{ nope }' }, mobile);
    expect(invalid.status).toBe(400);
    expect(invalid.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
  });

  it('registers a document only from a request whose token Katapult accepted, so anyone cannot fill the store', async () => {
    const gateway = await gatewayWith();
    const document = 'query Zones { zones { name } }';
    // Without a token: refused (401), and nothing remembered for the next client.
    const anonymous = await post(gateway.endpoint, { query: document, extensions: persisted(document) });
    expect(anonymous.status).toBe(401);
    expect(code(await post(gateway.endpoint, { extensions: persisted(document) }, auth))).toBe('PERSISTED_QUERY_NOT_FOUND');
    // A made-up token: Katapult refuses it, so the document is not remembered either.
    const madeUp = await post(gateway.endpoint, { query: document, extensions: persisted(document) }, bearer('made-up-token-0123456789'));
    expect(code(madeUp)).toBe('UNAUTHENTICATED');
    expect(code(await post(gateway.endpoint, { extensions: persisted(document) }, auth))).toBe('PERSISTED_QUERY_NOT_FOUND');
    // A token Katapult accepts registers it for everyone.
    const registered = await post(gateway.endpoint, { query: document, extensions: persisted(document) }, auth);
    expect(registered.json.data.zones.length).toBeGreaterThan(0);
    const other = bearer(DEMO_TOKENS.acme);
    expect((await post(gateway.endpoint, { extensions: persisted(document) }, other)).json).toEqual(registered.json);
  });

  it('works over GET, with variables', async () => {
    const gateway = await gatewayWith();
    const document = 'query Org($sub: String!) { organization(subDomain: $sub) { name } }';
    const variables = { sub: 'globex' };
    expect(code(await get(gateway.endpoint, { extensions: persisted(document), variables }, auth))).toBe('PERSISTED_QUERY_NOT_FOUND');
    await get(gateway.endpoint, { query: document, extensions: persisted(document), variables }, auth);
    const byHash = await get(gateway.endpoint, { extensions: persisted(document), variables }, auth);
    expect(byHash.status).toBe(200);
    expect(byHash.json.data.organization.name).toBe('Globex Corporation');
  });

  it('refuses a hash that does not match the document with BAD_REQUEST and stores nothing', async () => {
    const gateway = await gatewayWith();
    const lie = { persistedQuery: { version: 1, sha256Hash: sha256('{ zones { name } }') } };
    const refused = await post(gateway.endpoint, { query: ORG_NAME_QUERY, extensions: lie }, auth);
    expect(refused.status).toBe(400);
    expect(code(refused)).toBe('BAD_REQUEST');
    expect(code(await post(gateway.endpoint, { extensions: lie }, auth))).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('refuses an unsupported protocol version', async () => {
    const gateway = await gatewayWith();
    for (const persistedQuery of [{ version: 2, sha256Hash: sha256(ORG_NAME_QUERY) }, { version: 1, sha256Hash: 5 }, 'x']) {
      const refused = await post(gateway.endpoint, { extensions: { persistedQuery } }, auth);
      expect(refused.status, JSON.stringify(persistedQuery)).toBe(400);
      expect(code(refused), JSON.stringify(persistedQuery)).toBe('BAD_REQUEST');
    }
  });

  it('tells clients persisted queries are not supported when APQ_ENABLED=false, and still runs full documents', async () => {
    const gateway = await gatewayWith({ APQ_ENABLED: 'false' });
    const refused = await post(gateway.endpoint, { extensions: persisted(ORG_NAME_QUERY) }, auth);
    expect(refused.json.errors[0].message).toBe('PersistedQueryNotSupported');
    expect(code(refused)).toBe('BAD_REQUEST');
    await post(gateway.endpoint, { query: ORG_NAME_QUERY, extensions: persisted(ORG_NAME_QUERY) }, auth);
    expect((await post(gateway.endpoint, { extensions: persisted(ORG_NAME_QUERY) }, auth)).json.errors[0].message).toBe('PersistedQueryNotSupported');
    expect((await post(gateway.endpoint, { query: ORG_NAME_QUERY }, auth)).json.data.organization.name).toBe('Globex Corporation');
  });
});

describe('the persisted-operation allow-list', () => {
  const LISTED = 'query Listed { organization(subDomain: "globex") { id name } }';
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'persisted-'));
    file = join(dir, 'operations.json');
    await writeFile(file, JSON.stringify({ [sha256(LISTED)]: LISTED }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('runs listed operations by hash without registration', async () => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file });
    const byHash = await get(gateway.endpoint, { extensions: persisted(LISTED) }, auth);
    expect(byHash.json.data.organization.name).toBe('Globex Corporation');
  });

  it('with PERSISTED_OPERATIONS_ONLY=true, refuses any other document, sent in full or registered', async () => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file, PERSISTED_OPERATIONS_ONLY: 'true' });
    const full = await post(gateway.endpoint, { query: ORG_NAME_QUERY }, auth);
    expect(code(full)).toBe('PERSISTED_QUERY_NOT_ALLOWED');
    expect(full.status).toBe(400);
    expect(code(await post(gateway.endpoint, { query: ORG_NAME_QUERY, extensions: persisted(ORG_NAME_QUERY) }, auth))).toBe('PERSISTED_QUERY_NOT_ALLOWED');
    expect(code(await post(gateway.endpoint, { extensions: persisted(ORG_NAME_QUERY) }, auth))).toBe('PERSISTED_QUERY_NOT_ALLOWED');
    expect(gateway.simulator.requests).toHaveLength(0);

    expect((await post(gateway.endpoint, { query: LISTED }, auth)).json.data.organization.name).toBe('Globex Corporation');
    expect((await post(gateway.endpoint, { extensions: persisted(LISTED) }, auth)).json.data.organization.name).toBe('Globex Corporation');
  });

  it('runs a listed hash written in upper case, alone or with its document, as the same operation', async () => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file, PERSISTED_OPERATIONS_ONLY: 'true' });
    const upper = { persistedQuery: { version: 1, sha256Hash: sha256(LISTED).toUpperCase() } };
    expect((await post(gateway.endpoint, { extensions: upper }, auth)).json.data.organization.name).toBe('Globex Corporation');
    expect((await post(gateway.endpoint, { query: LISTED, extensions: upper }, auth)).json.data.organization.name).toBe('Globex Corporation');
  });

  it('with APQ off, tells a client that an unlisted hash is not supported, so it stops sending hashes alone', async () => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file, APQ_ENABLED: 'false' });
    expect((await post(gateway.endpoint, { extensions: persisted(ORG_NAME_QUERY) }, auth)).json.errors[0].message).toBe('PersistedQueryNotSupported');
    expect((await post(gateway.endpoint, { extensions: persisted(LISTED) }, auth)).json.data.organization.name).toBe('Globex Corporation');
  });

  it('reads Apollo\'s persisted query manifest too, and refuses one it cannot use', async () => {
    const manifest = join(dir, 'persisted-query-manifest.json');
    await writeFile(manifest, JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: sha256(LISTED), name: 'Listed', type: 'query', body: LISTED }] }));
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: manifest, PERSISTED_OPERATIONS_ONLY: 'true' });
    expect((await post(gateway.endpoint, { extensions: persisted(LISTED) }, auth)).json.data.organization.name).toBe('Globex Corporation');
    expect(code(await post(gateway.endpoint, { query: ORG_NAME_QUERY }, auth))).toBe('PERSISTED_QUERY_NOT_ALLOWED');

    const later = join(dir, 'manifest-v2.json');
    await writeFile(later, JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 2, operations: [] }));
    await expect(gatewayWith({ PERSISTED_OPERATIONS_FILE: later })).rejects.toThrow(/PERSISTED_OPERATIONS_FILE .*expected version 1/);
    const bodiless = join(dir, 'manifest-bodiless.json');
    await writeFile(bodiless, JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: 'abc', name: 'X', type: 'query' }] }));
    await expect(gatewayWith({ PERSISTED_OPERATIONS_FILE: bodiless })).rejects.toThrow(/not for abc/);
  });

  it('refuses to start on an unreadable list, naming the variable', async () => {
    await expect(gatewayWith({ PERSISTED_OPERATIONS_FILE: join(dir, 'missing.json') })).rejects.toThrow(/PERSISTED_OPERATIONS_FILE/);
  });
});

describe('persisted documents named by id (documentId, and doc_id as Relay sends it)', () => {
  const LISTED = 'query Listed($sub: String!) { organization(subDomain: $sub) { id name } }';
  // Relay's compiler names a document by the MD5 of its text unless told otherwise.
  const RELAY_ID = createHash('md5').update(LISTED).digest('hex');
  const variables = { sub: 'globex' };
  // Another listed document taking the same variables.
  const OTHER = 'query Other($sub: String!) { organization(subDomain: $sub) { name subDomain } }';
  const OTHER_ID = createHash('md5').update(OTHER).digest('hex');
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'persisted-ids-'));
    file = join(dir, 'operations.json');
    await writeFile(file, JSON.stringify({ [RELAY_ID]: LISTED, [sha256(LISTED)]: LISTED, [OTHER_ID]: OTHER }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const name = (response: RawResponse) => response.json?.data?.organization?.name;

  it('runs the listed document by doc_id in the shape Relay sends, by documentId, and by a sha256: documentId', async () => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file });
    expect(name(await post(gateway.endpoint, { doc_id: RELAY_ID, query: null, variables }, auth))).toBe('Globex Corporation');
    expect(name(await post(gateway.endpoint, { documentId: RELAY_ID, variables }, auth))).toBe('Globex Corporation');
    expect(name(await post(gateway.endpoint, { documentId: `sha256:${sha256(LISTED)}`, variables }, auth))).toBe('Globex Corporation');
    expect(name(await get(gateway.endpoint, { documentId: RELAY_ID, variables }, auth))).toBe('Globex Corporation');
    // With its own text too, which must then be the listed one.
    expect(name(await post(gateway.endpoint, { doc_id: RELAY_ID, query: LISTED, variables }, auth))).toBe('Globex Corporation');
    const other = await post(gateway.endpoint, { doc_id: RELAY_ID, query: ORG_NAME_QUERY, variables }, auth);
    expect([other.status, code(other)]).toEqual([400, 'BAD_REQUEST']);
  });

  it('runs them when only listed documents may run', async () => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file, PERSISTED_OPERATIONS_ONLY: 'true' });
    expect(name(await post(gateway.endpoint, { doc_id: RELAY_ID, variables }, auth))).toBe('Globex Corporation');
    expect(code(await post(gateway.endpoint, { query: ORG_NAME_QUERY }, auth))).toBe('PERSISTED_QUERY_NOT_ALLOWED');
  });

  it('refuses an unknown id, and any id without a list, with PERSISTED_QUERY_NOT_FOUND and a 400, calling Katapult for neither', async () => {
    const listed = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file });
    const unknown = await post(listed.endpoint, { doc_id: 'no-such-id', variables }, { ...auth, accept: 'application/graphql-response+json' });
    expect([unknown.status, code(unknown)]).toEqual([400, 'PERSISTED_QUERY_NOT_FOUND']);
    expect(unknown.json.errors[0].message).toBe('No persisted document has the doc_id "no-such-id"');
    // Not Apollo's NotFound (a 200 that asks for the document): no document is asked for here.
    expect(unknown.headers['content-type']).toMatch(/^application\/graphql-response\+json/);
    expect(listed.simulator.requests).toHaveLength(0);

    const unlisted = await gatewayWith();
    const none = await post(unlisted.endpoint, { documentId: RELAY_ID, variables }, auth);
    expect([none.status, code(none)]).toEqual([400, 'PERSISTED_QUERY_NOT_FOUND']);
    expect(none.json.errors[0].message).toMatch(/PERSISTED_OPERATIONS_FILE is not set/);
    expect(unlisted.simulator.requests).toHaveLength(0);
  });

  it.each([
    ['both documentId and doc_id', { documentId: RELAY_ID, doc_id: RELAY_ID }, /not several/],
    ['an id and Apollo\'s extension', { doc_id: RELAY_ID, extensions: persisted(LISTED) }, /not several/],
    ['an id that is not a string', { doc_id: 42 }, /doc_id must be the id of a persisted document/],
    ['an empty id', { documentId: '' }, /documentId must be the id of a persisted document/],
  ])('refuses %s with BAD_REQUEST', async (_case, body, message) => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file });
    const refused = await post(gateway.endpoint, { ...body, variables }, auth);
    expect([refused.status, code(refused)]).toEqual([400, 'BAD_REQUEST']);
    expect(refused.json.errors[0].message).toMatch(message);
    expect('data' in refused.json).toBe(false);
  });

  it('runs a GET by id through the whole pipeline, and holds it to CSRF prevention as any GET operation', async () => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file });
    // acme's variables: no answer of the tests above can stand in for this one.
    const acme = bearer(DEMO_TOKENS.acme);
    expect(name(await get(gateway.endpoint, { doc_id: RELAY_ID, variables: { sub: 'acme' } }, acme))).toMatch(/^Acme/);
    const search = new URLSearchParams({ documentId: RELAY_ID, variables: JSON.stringify(variables) });
    const forged = await raw(`${gateway.endpoint}?${search}`, { headers: { ...auth, accept: 'text/html' } });
    expect([forged.status, code(forged)]).toEqual([403, 'FORBIDDEN']);
    expect(gateway.simulator.requests.filter((r) => r.tokenFingerprint !== null && r.path.includes('globex'))).toHaveLength(0);
  });

  it('keeps two ids apart in the finished-response cache, and a document sent with an id apart from the same document alone', async () => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file, LOG_LEVEL: 'info' });
    for (let i = 0; i < 3; i++) {
      expect((await post(gateway.endpoint, { doc_id: RELAY_ID, variables }, auth)).json.data.organization).toEqual({ id: expect.any(String), name: 'Globex Corporation' });
      expect((await post(gateway.endpoint, { doc_id: OTHER_ID, variables }, auth)).json.data.organization).toEqual({ name: 'Globex Corporation', subDomain: 'globex' });
    }
    expect(requestSummaries(gateway).map((summary) => summary.fastPath)).toEqual([false, false, false, false, true, true]);
    // The document alone, stored; then with an id that names nothing: refused, not replayed.
    for (let i = 0; i < 3; i++) expect(name(await post(gateway.endpoint, { query: LISTED, variables }, auth))).toBe('Globex Corporation');
    const unknown = await post(gateway.endpoint, { doc_id: 'no-such-id', query: LISTED, variables }, auth);
    expect([unknown.status, code(unknown)]).toEqual([400, 'PERSISTED_QUERY_NOT_FOUND']);
  });

  it('counts a probe for an unknown id as a refusal when only listed documents run', async () => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file, PERSISTED_OPERATIONS_ONLY: 'true' });
    expect(code(await post(gateway.endpoint, { doc_id: 'no-such-id', variables }, auth))).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect((await raw(`${gateway.url}/metrics`)).text).toContain('inbound_rejections_total{reason="not_allowed"} 1');
  });

  it('answers a repeated doc_id request from the finished-response cache, and keeps variables apart', async () => {
    const gateway = await gatewayWith({ PERSISTED_OPERATIONS_FILE: file, LOG_LEVEL: 'info' });
    for (let i = 0; i < 3; i++) expect(name(await post(gateway.endpoint, { doc_id: RELAY_ID, query: null, variables }, auth))).toBe('Globex Corporation');
    expect(name(await post(gateway.endpoint, { doc_id: RELAY_ID, variables: { sub: 'acme' } }, bearer(DEMO_TOKENS.acme)))).toMatch(/^Acme/);
    expect(requestSummaries(gateway).map((summary) => summary.fastPath)).toEqual([false, false, true, false]);
  });
});

describe('what the fast path learns of persisted documents', () => {
  /** Sends a document with its hash through the plugin, and runs it, as a request would (APQ registration). */
  const register = (plugin: Plugin, document: string) => {
    const request = new Request('http://gateway/graphql', { method: 'POST' });
    (plugin.onParams as (payload: unknown) => void)({ params: { query: document, extensions: persisted(document) }, request, setParams: () => undefined });
    (plugin.onExecutionResult as (payload: unknown) => void)({ request, context: {}, result: { data: {} } });
  };

  it('resolves a registered hash until the document is forgotten, and a listed one always', () => {
    const documents = ['{ a }', '{ b }', '{ c }'].map((d) => `${d} # ${'x'.repeat(100)}`);
    const listed = new Map([['op-1', '{ listed }']]);
    const operations = createPersistedOperations({ allowList: listed, maxStoreBytes: 2 * (documents[0]!.length + 64) });
    expect(operations.resolves(sha256(documents[0]!))).toBe(false);
    register(operations.plugin, documents[0]!);
    register(operations.plugin, documents[1]!);
    expect(operations.resolves(sha256(documents[0]!))).toBe(true);
    expect(operations.resolves(sha256(documents[0]!).toUpperCase())).toBe(true);
    // Room for two: the least recently used (the second, since the first was just asked for) goes.
    register(operations.plugin, documents[2]!);
    expect(operations.resolves(sha256(documents[1]!))).toBe(false);
    expect(operations.resolves(sha256(documents[0]!))).toBe(true);
    expect(operations.resolves('op-1')).toBe(true);
  });

  it('resolves only listed hashes when only listed documents run, and none without APQ or a list', () => {
    const only = createPersistedOperations({ allowList: new Map([['op-1', '{ listed }']]), allowListOnly: true });
    register(only.plugin, '{ listed }');
    expect(only.resolves('op-1')).toBe(true);
    expect(only.resolves(sha256('{ listed }'))).toBe(false);
    const off = createPersistedOperations({ apq: false });
    expect(off.resolves(sha256('{ a }'))).toBe(false);
  });
});
