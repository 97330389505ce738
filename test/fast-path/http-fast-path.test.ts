import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLeadFor } from '../../src/cache/rest-cache.js';
import { createSimulator, DEMO_TOKENS } from '../../src/simulator/index.js';
import { cannedError } from '../schema/error-contract.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { bearer, get, post, raw, requestSummaries, startGateway, type TestGateway } from '../production/gateway.js';

const DASHBOARD = `query Dashboard { organization(subDomain: "globex") { name virtualMachines(first: 5) { totalCount edges { node { id name zone { name dataCenter { name country { name } } } package { name cpuCores } ipAddresses { address } } } } } }`;

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});


describe('the warm fast path through the HTTP edge', () => {
  it('answers a repeated identical operation from stored bytes without running GraphQL or calling Katapult', async () => {
    gateway = await startGateway({ env: { LOG_LEVEL: 'info' } });
    const first = await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(first.status).toBe(200);
    // An operation is stored at its second clean answer.
    expect(gateway.app.responseCache.stats().entries).toBe(0);
    await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(gateway.app.responseCache.stats().entries).toBe(1);
    const calls = gateway.simulator.requests.length;
    const second = await post(gateway.endpoint, { query: DASHBOARD }, { ...bearer(DEMO_TOKENS.globex), 'x-request-id': 'repeat-1' });
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(second.headers['x-request-id']).toBe('repeat-1');
    expect(gateway.simulator.requests.length).toBe(calls);
    const [cold, storing, warm] = requestSummaries(gateway);
    expect(cold?.fastPath).toBe(false);
    expect(storing?.fastPath).toBe(false);
    expect(warm?.fastPath).toBe(true);
    expect(warm?.operationName).toBe('Dashboard');
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/response_cache_hits_total\S* 1/);
  });

  it('answers the same document written differently (spacing, commas, comments) from the stored answer', async () => {
    gateway = await startGateway({ env: { LOG_LEVEL: 'info' } });
    const first = await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    const reformatted = `# the dashboard\n${DASHBOARD.replaceAll(' { ', ' {\n  ').replaceAll('id name', 'id, name')}`;
    expect(reformatted).not.toBe(DASHBOARD);
    const second = await post(gateway.endpoint, { query: reformatted }, bearer(DEMO_TOKENS.globex));
    expect(second.text).toBe(first.text);
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, true]);
  });

  it('answers a variant of an allow-listed document through the allow-list, not from the stored answer, when only listed documents run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fast-path-allow-list-'));
    try {
      const file = join(dir, 'operations.json');
      await writeFile(file, JSON.stringify({ dashboard: DASHBOARD }));
      gateway = await startGateway({ env: { PERSISTED_OPERATIONS_FILE: file, PERSISTED_OPERATIONS_ONLY: 'true' } });
      const auth = bearer(DEMO_TOKENS.globex);
      expect((await post(gateway.endpoint, { query: DASHBOARD }, auth)).json.data.organization.name).toBeTruthy();
      expect((await post(gateway.endpoint, { query: DASHBOARD }, auth)).json.data.organization.name).toBeTruthy();
      const variant = await post(gateway.endpoint, { query: `${DASHBOARD}\n` }, auth);
      expect(variant.json.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_ALLOWED');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a persisted-query hash that does not match its document even when the document’s answer is stored', async () => {
    gateway = await startGateway();
    const auth = bearer(DEMO_TOKENS.globex);
    await post(gateway.endpoint, { query: DASHBOARD }, auth);
    const stored = await post(gateway.endpoint, { query: DASHBOARD }, auth);
    expect(stored.json.data.organization.name).toBeTruthy();
    const mismatched = await post(gateway.endpoint, { query: DASHBOARD, extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }, auth);
    expect(mismatched.json.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    expect(mismatched.json.errors?.[0]?.message).toContain('does not match');
  });

  it('answers a repeated request by persisted-query hash alone from the stored answer', async () => {
    gateway = await startGateway({ env: { LOG_LEVEL: 'info' } });
    const auth = bearer(DEMO_TOKENS.globex);
    const extensions = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(DASHBOARD).digest('hex') } };
    await post(gateway.endpoint, { query: DASHBOARD, extensions }, auth);
    const first = await post(gateway.endpoint, { extensions }, auth);
    await post(gateway.endpoint, { extensions }, auth);
    const third = await post(gateway.endpoint, { extensions }, auth);
    expect(third.text).toBe(first.text);
    expect(first.json.data.organization.name).toBeTruthy();
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, false, true]);
  });

  it('answers a hit with the CORS headers of its own request’s origin, not those of the one that stored it', async () => {
    const ALLOWED = 'https://dashboard.example';
    gateway = await startGateway({ env: { LOG_LEVEL: 'info', CORS_ORIGINS: ALLOWED } });
    const auth = bearer(DEMO_TOKENS.globex);
    for (let i = 0; i < 2; i++) await post(gateway.endpoint, { query: DASHBOARD }, { ...auth, origin: ALLOWED });
    const listed = await post(gateway.endpoint, { query: DASHBOARD }, { ...auth, origin: ALLOWED });
    const unlisted = await post(gateway.endpoint, { query: DASHBOARD }, { ...auth, origin: 'https://evil.example' });
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, true, true]);
    expect(listed.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(Object.keys(unlisted.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    for (const answer of [listed, unlisted]) expect(answer.headers.vary).toMatch(/Origin/);
  });

  it('keeps tokens apart: the same operation for another token goes to Katapult with that token', async () => {
    gateway = await startGateway();
    await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    const mine = await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(gateway.app.responseCache.stats().entries).toBe(1);
    const before = gateway.simulator.countRequests({ token: DEMO_TOKENS.user });
    const theirs = await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.user));
    expect(theirs.status).toBe(200);
    expect(gateway.simulator.countRequests({ token: DEMO_TOKENS.user })).toBeGreaterThan(before);
    const noToken = await post(gateway.endpoint, { query: DASHBOARD });
    expect(noToken.status).toBe(401);
    expect(mine.json.data.organization.name).toBe('Globex Corporation');
  });

  it('honours Cache-Control: no-cache by refreshing through the full pipeline', async () => {
    gateway = await startGateway();
    for (let i = 0; i < 2; i++) await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(gateway.app.responseCache.stats().entries).toBe(1);
    const calls = gateway.simulator.requests.length;
    const refreshed = await post(gateway.endpoint, { query: DASHBOARD }, { ...bearer(DEMO_TOKENS.globex), 'cache-control': 'no-cache' });
    expect(refreshed.status).toBe(200);
    expect(gateway.simulator.requests.length).toBeGreaterThan(calls);
  });

  it('refreshes for Cache-Control: max-age=0, as a browser reload sends it, and not for a positive max-age', async () => {
    gateway = await startGateway();
    for (let i = 0; i < 2; i++) await get(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(gateway.app.responseCache.stats().entries).toBe(1);
    for (const [cacheControl, refreshes] of [['max-age=60', false], ['max-age=0', true], ['private, Max-Age = "0"', true], ['max-age=00', true], ['max-age=10', false]] as const) {
      const calls = gateway.simulator.requests.length;
      const answer = await get(gateway.endpoint, { query: DASHBOARD }, { ...bearer(DEMO_TOKENS.globex), 'cache-control': cacheControl });
      expect(answer.status, cacheControl).toBe(200);
      expect(gateway.simulator.requests.length > calls, cacheControl).toBe(refreshes);
    }
  });

  it('expires a stored answer with the earliest REST entry it was built from', async () => {
    const clock = createFakeClock();
    gateway = await startGateway({ clock, env: { CACHE_TTL_VM_LIST_MS: '20000', CACHE_TTL_CATALOGUE_MS: '600000', CACHE_STALE_WHILE_REVALIDATE_MS: '0' } });
    await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    await clock.advance(19_000);
    const calls = gateway.simulator.requests.length;
    await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(gateway.simulator.requests.length).toBe(calls);
    await clock.advance(1_000);
    await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    // The VM list expired (20 s); the catalogue lists did not.
    expect(gateway.simulator.requests.length).toBe(calls + 1);
  });

  it('never stores an answer with errors', async () => {
    gateway = await startGateway();
    // The zones are read from Katapult and cached, so only the error keeps the answer from being stored.
    const query = '{ zones { id } organization(id: "org_x", subDomain: "y") { name } }';
    for (let i = 0; i < 3; i++) {
      const withError = await post(gateway.endpoint, { query }, bearer(DEMO_TOKENS.globex));
      expect(withError.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(withError.json.data.zones.length).toBeGreaterThan(0);
    }
    expect(gateway.app.responseCache.stats().entries).toBe(0);
  });

  it('does not store an answer holding a not-found null, which must not outlive the not-found TTL', async () => {
    gateway = await startGateway();
    for (let i = 0; i < 3; i++) {
      const response = await post(gateway.endpoint, { query: '{ virtualMachine(id: "vm_doesnotexist0000") { name } zones { id } }' }, bearer(DEMO_TOKENS.globex));
      expect(response.json.data.virtualMachine).toBeNull();
      expect(response.json.errors).toBeUndefined();
    }
    expect(gateway.app.responseCache.stats().entries).toBe(0);
  });

  it('does not store an answer holding a null for an object in the trash, which only a briefly remembered refusal backs', async () => {
    gateway = await startGateway();
    const trashed = gateway.simulator.dataset.virtualMachines.find((vm) => vm.trash && vm.virtualMachine.organization.sub_domain === 'globex')!;
    const query = `{ virtualMachine(id: "${trashed.virtualMachine.id}") { name } zones { id } }`;
    const first = await post(gateway.endpoint, { query }, bearer(DEMO_TOKENS.globex));
    expect(first.json.data.virtualMachine).toBeNull();
    expect(first.json.errors).toBeUndefined();
    expect(gateway.app.responseCache.stats().entries).toBe(0);
    // The next one runs the pipeline, whose REST cache remembers the refusal for the not-found
    // TTL, as it does a VM not found: a client polling a trashed VM does not spend its budget.
    const calls = gateway.simulator.requests.length;
    const again = await post(gateway.endpoint, { query }, bearer(DEMO_TOKENS.globex));
    expect(again.json.data.virtualMachine).toBeNull();
    expect(gateway.simulator.requests.length).toBe(calls);
    expect(gateway.app.responseCache.stats().entries).toBe(0);
    await post(gateway.endpoint, { query }, bearer(DEMO_TOKENS.globex));
    expect(gateway.app.responseCache.stats().entries).toBe(0);
  });

  it('does not store an answer built from REST answers too large for the token’s share of the cache', async () => {
    gateway = await startGateway({ env: { CACHE_TOKEN_MAX_BYTES: '2000' } });
    const first = await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(first.json.errors).toBeUndefined();
    expect(gateway.app.responseCache.stats().entries).toBe(0);
    const calls = gateway.simulator.requests.length;
    const second = await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(second.text).toBe(first.text);
    expect(gateway.simulator.requests.length).toBeGreaterThan(calls);
    expect(gateway.app.responseCache.stats().entries).toBe(0);
  });

  it('drops a token’s stored answers when a no-cache request replaces a REST entry they were built from with new data', async () => {
    gateway = await startGateway({ env: { LOG_LEVEL: 'info' } });
    const NAMES = '{ organization(subDomain: "globex") { virtualMachines(first: 5) { edges { node { name } } } } }';
    for (let i = 0; i < 3; i++) await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, true]);
    // Reads the same VM list again from Katapult, which has not changed: the stored answer still holds.
    await post(gateway.endpoint, { query: NAMES }, { ...bearer(DEMO_TOKENS.globex), 'cache-control': 'no-cache' });
    await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, true, false, true]);
    // A VM is renamed in Katapult; the next refresh replaces the entry the dashboard was built from.
    const first = gateway.simulator.visibleVirtualMachines(DEMO_TOKENS.globex, 'globex')[0]!;
    const renamed = gateway.simulator.dataset.virtualMachines.find((vm) => vm.virtualMachine.id === first.id)!.virtualMachine as { name: string };
    renamed.name = 'renamed-while-cached';
    await post(gateway.endpoint, { query: NAMES }, { ...bearer(DEMO_TOKENS.globex), 'cache-control': 'no-cache' });
    const calls = gateway.simulator.requests.length;
    const rebuilt = await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(rebuilt.text).toContain('renamed-while-cached');
    // Rebuilt from the REST entries (no Katapult call), stored again (it was seen before), then replayed.
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, true, false, true, false, false, true]);
    expect(gateway.simulator.requests.length).toBe(calls);
  });

  it('drops a token’s stored answers when a REST entry they were built from is evicted while fresh, so a later read of new data is not contradicted', async () => {
    // A share that holds the dashboard's REST entries, and not those and five VM records more.
    gateway = await startGateway({ env: { LOG_LEVEL: 'info', CACHE_TOKEN_MAX_BYTES: '20000' } });
    const auth = bearer(DEMO_TOKENS.globex);
    const NAMES = '{ organization(subDomain: "globex") { virtualMachines(first: 5) { edges { node { name } } } } }';
    const vms = gateway.simulator.visibleVirtualMachines(DEMO_TOKENS.globex, 'globex');
    await post(gateway.endpoint, { query: DASHBOARD }, auth);
    const stored = await post(gateway.endpoint, { query: DASHBOARD }, auth);
    expect(gateway.app.responseCache.stats().entries).toBe(1);
    for (const vm of vms.slice(6, 11)) await post(gateway.endpoint, { query: `{ virtualMachine(id: "${vm.id}") { name } }` }, auth);
    const first = vms[0]!;
    expect(stored.text).toContain(first.name);
    (gateway.simulator.dataset.virtualMachines.find((vm) => vm.virtualMachine.id === first.id)!.virtualMachine as { name: string }).name = 'renamed-after-eviction';
    // The VM list is read again from Katapult (it went for the token's share), with the new name ...
    const calls = gateway.simulator.requests.length;
    expect((await post(gateway.endpoint, { query: NAMES }, auth)).text).toContain('renamed-after-eviction');
    expect(gateway.simulator.requests.length).toBeGreaterThan(calls);
    // ... and the dashboard says the same, instead of replaying the name from before.
    const again = await post(gateway.endpoint, { query: DASHBOARD }, auth);
    expect(again.text).toContain('renamed-after-eviction');
    expect(requestSummaries(gateway).at(-1)?.fastPath).toBe(false);
  });

  it('goes on storing a token’s answers while a stranger’s made-up token is refused and purged', async () => {
    const simulator = createSimulator();
    // The globex token's Katapult calls take a while, so the stranger's refusal lands mid-request.
    const slow = new Proxy(simulator, {
      get: (target, name) =>
        name === 'fetch'
          ? async (input: RequestInfo | URL, init?: RequestInit) => {
              if ((new Headers(init?.headers).get('authorization') ?? '').includes(DEMO_TOKENS.globex)) await new Promise((resolve) => setTimeout(resolve, 100));
              return target.fetch(input, init);
            }
          : Reflect.get(target, name),
    });
    gateway = await startGateway({ simulator: slow });
    // Seen once (it is stored at its second answer), then read again from Katapult: its REST entries go with a purge.
    await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    gateway.app.cache.purgeToken(gateway.app.tokens.key(DEMO_TOKENS.globex));
    const pending = post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const stranger = await post(gateway.endpoint, { query: '{ zones { id } }' }, bearer('kp_made_up_token_1'));
    expect(stranger.status).toBe(401);
    expect((await pending).status).toBe(200);
    expect(gateway.app.responseCache.stats().entries).toBe(1);
  });

  it('refuses, as the full pipeline does, a JSON body whose Content-Type yoga does not read, even when its answer is stored', async () => {
    gateway = await startGateway();
    for (let i = 0; i < 2; i++) await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(gateway.app.responseCache.stats().entries).toBe(1);
    const odd = await post(gateway.endpoint, { query: DASHBOARD }, { ...bearer(DEMO_TOKENS.globex), 'content-type': 'text/plain, application/json', 'x-graphql-csrf': '1' });
    expect(odd.status).toBe(415);
    expect(odd.json.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it.each(['application/json ; charset=utf-8', 'application/json , text/plain', 'application/json ,x;charset=utf-8'])(
    'reads a JSON Content-Type with a space after its type (%s), from a stored answer and through yoga alike',
    async (contentType) => {
      gateway = await startGateway({ env: { LOG_LEVEL: 'info' } });
      const spaced = { ...bearer(DEMO_TOKENS.globex), 'content-type': contentType };
      const first = await post(gateway.endpoint, { query: DASHBOARD }, spaced);
      expect(first.status).toBe(200);
      expect(first.json.data.organization.virtualMachines.edges.length).toBeGreaterThan(0);
      await post(gateway.endpoint, { query: DASHBOARD }, spaced);
      const again = await post(gateway.endpoint, { query: DASHBOARD }, spaced);
      expect(again.text).toBe(first.text);
      expect(requestSummaries(gateway).map((line) => line?.fastPath)).toEqual([false, false, true]);
    },
  );

  it('sends Vary: Accept on GET answers, whose media type follows the Accept header', async () => {
    gateway = await startGateway();
    const response = await get(gateway.endpoint, { query: '{ zones { id } }' }, bearer(DEMO_TOKENS.globex));
    expect(String(response.headers.vary)).toMatch(/\bAccept\b/);
  });

  it('answers unparseable GET variables as the client’s error, not the server’s', async () => {
    gateway = await startGateway();
    const response = await raw(`${gateway.endpoint}?query=${encodeURIComponent('{ __typename }')}&variables=%7B`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(response.status).toBe(400);
    // The same code as a POST body that is not JSON: a request that cannot be read.
    expect(response.json.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('drops a token’s stored answers when Katapult says the token is no longer valid', async () => {
    gateway = await startGateway();
    for (let i = 0; i < 2; i++) await post(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(gateway.app.responseCache.stats().entries).toBe(1);
    gateway.app.onTokenPurged(() => undefined);
    gateway.app.cache.purgeToken(gateway.app.tokens.key(DEMO_TOKENS.globex));
    expect(gateway.app.responseCache.stats().entries).toBe(0);
  });

  it('drops a token’s stored answers when Katapult answers invalid_api_token, so a revoked token gets no replay', async () => {
    const simulator = createSimulator();
    let revoked = false;
    const revoking = new Proxy(simulator, {
      get: (target, name) =>
        name === 'fetch' ? (input: RequestInfo | URL, init?: RequestInit) => (revoked ? Promise.resolve(cannedError(403, 'invalid_api_token')) : target.fetch(input, init)) : Reflect.get(target, name),
    });
    gateway = await startGateway({ simulator: revoking });
    const auth = bearer(DEMO_TOKENS.globex);
    await post(gateway.endpoint, { query: DASHBOARD }, auth);
    const stored = await post(gateway.endpoint, { query: DASHBOARD }, auth);
    expect(stored.status).toBe(200);
    expect(gateway.app.responseCache.stats().entries).toBe(1);
    revoked = true;
    // Any call Katapult refuses for the token purges it: here a refresh the client asked for.
    const refused = await post(gateway.endpoint, { query: '{ zones { id } }' }, { ...auth, 'cache-control': 'no-cache' });
    expect(refused.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(gateway.app.responseCache.stats().entries).toBe(0);
    const again = await post(gateway.endpoint, { query: DASHBOARD }, auth);
    expect(again.status).toBe(401);
    expect(again.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('stops replaying a token’s answers once it is due a check with Katapult, so a revoked token is found out', async () => {
    const clock = createFakeClock();
    const simulator = createSimulator();
    let revoked = false;
    const revoking = new Proxy(simulator, {
      get: (target, name) =>
        name === 'fetch' ? (input: RequestInfo | URL, init?: RequestInit) => (revoked ? Promise.resolve(cannedError(403, 'invalid_api_token')) : target.fetch(input, init)) : Reflect.get(target, name),
    });
    // Entries fresh for ten minutes, a check every minute.
    gateway = await startGateway({ simulator: revoking, clock, env: { LOG_LEVEL: 'info', CACHE_TTL_VM_LIST_MS: '600000', CACHE_TTL_ORGANIZATION_MS: '600000', CACHE_TOKEN_RECHECK_MS: '60000' } });
    const auth = bearer(DEMO_TOKENS.globex);
    for (let i = 0; i < 2; i++) await post(gateway.endpoint, { query: DASHBOARD }, auth);
    revoked = true;
    await clock.advance(60_000 - checkLeadFor(60_000) - 1_000);
    expect((await post(gateway.endpoint, { query: DASHBOARD }, auth)).status).toBe(200);
    await clock.advance(1_000);
    // Due its check: not replayed; the pipeline answers from the REST entries and starts the check.
    expect((await post(gateway.endpoint, { query: DASHBOARD }, auth)).status).toBe(200);
    await clock.flush();
    const refused = await post(gateway.endpoint, { query: DASHBOARD }, auth);
    expect(refused.status).toBe(401);
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, true, false, false]);
  });

  it('does not store an answer served stale while its REST entry is refreshed', async () => {
    const clock = createFakeClock();
    gateway = await startGateway({ clock, env: { LOG_LEVEL: 'info', CACHE_TTL_VM_LIST_MS: '20000', CACHE_STALE_WHILE_REVALIDATE_MS: '30000' } });
    const auth = bearer(DEMO_TOKENS.globex);
    await post(gateway.endpoint, { query: DASHBOARD }, auth);
    await clock.advance(25_000);
    // Past the VM list's TTL, inside its stale window: answered stale, refreshed in the background.
    const stale = await post(gateway.endpoint, { query: DASHBOARD }, auth);
    expect(stale.status).toBe(200);
    expect(gateway.app.responseCache.stats().entries).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await post(gateway.endpoint, { query: DASHBOARD }, auth);
    await post(gateway.endpoint, { query: DASHBOARD }, auth);
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, false, true]);
  });

  it('serves GET hits with an ETag, a bounded max-age and 304 for an unchanged result', async () => {
    gateway = await startGateway();
    const first = await get(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    await get(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(gateway.app.responseCache.stats().entries).toBe(1);
    const second = await get(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(second.headers['cache-control']).toMatch(/^private, max-age=(\d+)$/);
    expect(Number(/max-age=(\d+)/.exec(String(second.headers['cache-control']))![1])).toBeLessThanOrEqual(20);
    const notModified = await get(gateway.endpoint, { query: DASHBOARD }, { ...bearer(DEMO_TOKENS.globex), 'if-none-match': String(first.headers.etag) });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
  });

  it('answers a HEAD from the stored answer as the GET would be answered, without the body', async () => {
    gateway = await startGateway({ env: { LOG_LEVEL: 'info' } });
    const first = await get(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    await get(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    const url = `${gateway.endpoint}?${new URLSearchParams({ query: DASHBOARD })}`;
    const head = await raw(url, { method: 'HEAD', headers: { 'apollo-require-preflight': 'true', ...bearer(DEMO_TOKENS.globex) } });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(String(first.body.length));
    expect(head.headers.etag).toBe(first.headers.etag);
    expect(head.headers['content-type']).toBe(first.headers['content-type']);
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, true]);
  });

  it('replays an answer with the media type it was first sent with, and gives a POST no ETag either time', async () => {
    gateway = await startGateway({ env: { LOG_LEVEL: 'info' } });
    for (const accept of ['application/graphql-response+json', 'application/json']) {
      const headers = { ...bearer(DEMO_TOKENS.globex), accept };
      const first = await post(gateway.endpoint, { query: DASHBOARD }, headers);
      await post(gateway.endpoint, { query: DASHBOARD }, headers);
      const second = await post(gateway.endpoint, { query: DASHBOARD }, headers);
      expect(first.headers['content-type'], accept).toBe(`${accept}; charset=utf-8`);
      expect(second.headers['content-type'], accept).toBe(first.headers['content-type']);
      expect(second.text).toBe(first.text);
      expect([first.headers.etag, second.headers.etag], accept).toEqual([undefined, undefined]);
    }
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, true, false, false, true]);
  });

  it('answers event-stream and multipart requests whole, correctly framed, and never from a stored answer', async () => {
    gateway = await startGateway({ env: { LOG_LEVEL: 'info' } });
    for (const accept of ['text/event-stream', 'multipart/mixed']) {
      for (let i = 0; i < 3; i++) {
        // node:http refuses a message with both Transfer-Encoding and Content-Length.
        const answer = await post(gateway.endpoint, { query: DASHBOARD }, { ...bearer(DEMO_TOKENS.globex), accept, 'accept-encoding': 'gzip' });
        expect(answer.status, accept).toBe(200);
        expect(answer.headers['content-type'], accept).toMatch(new RegExp(`^${accept}`));
        expect(answer.headers['content-encoding'], accept).toBe('gzip');
        expect(answer.headers['transfer-encoding'] === undefined || answer.headers['content-length'] === undefined, accept).toBe(true);
        expect(gunzipSync(answer.body).toString('utf8'), accept).toContain('"name":"Globex Corporation"');
      }
    }
    expect(requestSummaries(gateway).map((s) => s.fastPath)).toEqual([false, false, false, false, false, false]);
  });

  it('sends a 304 from the full pipeline without the body’s Content-Type', async () => {
    gateway = await startGateway();
    const first = await get(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    const revalidated = await get(gateway.endpoint, { query: DASHBOARD }, { ...bearer(DEMO_TOKENS.globex), 'cache-control': 'no-cache', 'if-none-match': String(first.headers.etag) });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers['content-type']).toBeUndefined();
  });

  it('still applies the edge checks before a hit: CSRF refuses a GET without a preflight header', async () => {
    gateway = await startGateway();
    for (let i = 0; i < 2; i++) await get(gateway.endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.globex));
    expect(gateway.app.responseCache.stats().entries).toBe(1);
    const forged = await get(gateway.endpoint, { query: DASHBOARD }, { ...bearer(DEMO_TOKENS.globex), 'apollo-require-preflight': '' });
    expect(forged.status).toBe(403);
  });

  /** The simulator, answering every Katapult call `ms` later than it would. */
  const slowSimulator = (ms: number) => {
    const simulator = createSimulator();
    return new Proxy(simulator, {
      get: (target, name) =>
        name === 'fetch'
          ? async (input: RequestInfo | URL, init?: RequestInit) => {
              await new Promise((resolve) => setTimeout(resolve, ms));
              return target.fetch(input, init);
            }
          : Reflect.get(target, name),
    });
  };

  it('answers identical requests of one token that arrive together from the first one’s answer: one execution for all', async () => {
    gateway = await startGateway({ simulator: slowSimulator(50), env: { LOG_LEVEL: 'info' } });
    const endpoint = gateway.endpoint;
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => post(endpoint, { query: DASHBOARD }, { ...bearer(DEMO_TOKENS.globex), 'x-request-id': `burst-${i}` })));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((answer) => answer.text)).size).toBe(1);
    expect(answers[0]!.json.data.organization.name).toBe('Globex Corporation');
    answers.forEach((answer, i) => expect(answer.headers['x-request-id']).toBe(`burst-${i}`));
    expect(requestSummaries(gateway).filter((line) => line.fastPath === false)).toHaveLength(1);
    // Shared while it was built, not stored: it was the operation's first clean answer.
    expect(gateway.app.responseCache.stats().entries).toBe(0);
    // Another token's identical request is its own.
    const theirs = await post(endpoint, { query: DASHBOARD }, bearer(DEMO_TOKENS.acme));
    expect(theirs.text).not.toBe(answers[0]!.text);
  });

  it('lets requests waiting on one whose client went away build their own answers', async () => {
    gateway = await startGateway({ simulator: slowSimulator(100), env: { LOG_LEVEL: 'info' } });
    // The same headers for both (Accept is part of what makes two requests identical).
    const headers = { ...bearer(DEMO_TOKENS.globex), 'content-type': 'application/json', accept: 'application/json' };
    const leaving = new AbortController();
    const first = fetch(gateway.endpoint, { method: 'POST', headers, body: JSON.stringify({ query: DASHBOARD }), signal: leaving.signal }).then(
      () => 'answered',
      () => 'gone',
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    const second = post(gateway.endpoint, { query: DASHBOARD }, headers);
    await new Promise((resolve) => setTimeout(resolve, 30));
    leaving.abort();
    expect(await first).toBe('gone');
    const answer = await second;
    expect(answer.status).toBe(200);
    expect(answer.json.data.organization.name).toBe('Globex Corporation');
    expect(answer.json.errors).toBeUndefined();
    expect(requestSummaries(gateway).map((line) => [line.status, line.fastPath])).toEqual([
      [499, false],
      [200, false],
    ]);
  });

  it('does not run the pipeline, nor count an answer, for a request whose client left while it waited on an identical one', async () => {
    gateway = await startGateway({ simulator: slowSimulator(100), env: { LOG_LEVEL: 'info' } });
    const headers = { ...bearer(DEMO_TOKENS.globex), 'content-type': 'application/json', accept: 'application/json' };
    const first = post(gateway.endpoint, { query: DASHBOARD }, headers);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const leaving = new AbortController();
    const second = fetch(gateway.endpoint, { method: 'POST', headers, body: JSON.stringify({ query: DASHBOARD }), signal: leaving.signal }).then(
      () => 'answered',
      () => 'gone',
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    leaving.abort();
    expect(await second).toBe('gone');
    expect((await first).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(requestSummaries(gateway).map((line) => line.status).sort()).toEqual([200, 499]);
    expect((await (await fetch(`${gateway.url}/metrics`)).text())).toMatch(/response_cache_hits_total\S* 0/);
  });

  it('lets no later request wait on one that was refused before it ran', async () => {
    gateway = await startGateway();
    // No media type the client accepts can be written: refused with 406 after the fast path missed.
    for (let i = 0; i < 2; i++) {
      const refused = await post(gateway.endpoint, { query: DASHBOARD }, { ...bearer(DEMO_TOKENS.globex), accept: 'application/json;q=0, application/graphql-response+json;q=0' });
      expect(refused.status).toBe(406);
    }
  });

  it('stores answers in memory of their own, never a slice of a shared buffer that a stored answer would keep alive', async () => {
    const bodies: Buffer[] = [];
    gateway = await startGateway({ onGraphQLResult: ({ body }) => void bodies.push(body) });
    // A small answer (yoga encodes it into Node's shared buffer pool) and a large one.
    await post(gateway.endpoint, { query: '{ organization(subDomain: "globex") { name } }' }, bearer(DEMO_TOKENS.globex));
    await post(gateway.endpoint, { query: DASHBOARD.replace('"globex"', '"acme"').replace('first: 5', 'first: 40') }, bearer(DEMO_TOKENS.acme));
    expect(bodies.map((body) => body.length < 4096)).toEqual([true, false]);
    for (const body of bodies) expect(body.byteLength).toBe(body.buffer.byteLength);
    expect(JSON.parse(bodies[0]!.toString('utf8'))).toEqual({ data: { organization: { name: expect.any(String) } } });
  });
});
