import { hash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRequestStats, type RequestScope } from '../../src/data/request-scope.js';
import { createResponseCache, etagFor, operationKey, type GraphQLRequestShape, type ResponseCache } from '../../src/server/response-cache.js';
import { createFakeClock } from '../helpers/fake-clock.js';

function scopeFor(token: string | null, freshFor: number, now: number, overrides: Partial<RequestScope> = {}): RequestScope {
  const stats = createRequestStats();
  stats.freshUntil = now + freshFor;
  return { token, tokenKey: token ? `key-${token}` : '', requestId: 'r', deadline: now + 10_000, noCache: false, stats, ...overrides };
}

const post = (body: unknown, accept = 'application/json'): GraphQLRequestShape => ({
  contentType: 'application/json',
  method: 'POST',
  search: '',
  body: Buffer.from(JSON.stringify(body)),
  accept,
});

const ok = (text: string) => ({ status: 200, contentType: 'application/json', body: Buffer.from(text) });

/** An operation's answer is stored at its second clean answer: offered twice, as by a client repeating itself. */
const offerRepeated = (cache: ResponseCache, ...args: Parameters<ResponseCache['store']>) => {
  cache.store(...args);
  cache.store(...args);
};

describe('the finished-response cache', () => {
  it('replays a stored answer for the same token and operation until the earliest REST entry expires', async () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const request = post({ query: '{ a }' });
    offerRepeated(cache, request, scopeFor('t1', 5000, clock.now()), ok('{"data":{"a":1}}'));
    expect(cache.lookup(request, scopeFor('t1', 0, clock.now()))?.body.toString()).toBe('{"data":{"a":1}}');
    await clock.advance(4999);
    expect(cache.lookup(request, scopeFor('t1', 0, clock.now()))).toBeDefined();
    await clock.advance(1);
    expect(cache.lookup(request, scopeFor('t1', 0, clock.now()))).toBeUndefined();
  });

  it('forgets a token once none of its answers is left, so many short-lived tokens leave nothing behind', () => {
    const clock = createFakeClock();
    const body = '{"data":{"a":1}}';
    // Room for a dozen answers or so: each new token pushes an older one out.
    const cache = createResponseCache({ clock, maxBytes: 5 * 400 });
    const request = post({ query: '{ a }' });
    for (let i = 0; i < 200; i++) offerRepeated(cache, request, scopeFor(`t${i}`, 5000, clock.now()), ok(body));
    const { entries, tokens } = cache.stats();
    expect(entries).toBeGreaterThan(0);
    expect(entries).toBeLessThan(20);
    expect(tokens).toBe(entries);
    // A purge still reaches what is left, and a replaced answer is not counted twice.
    offerRepeated(cache, request, scopeFor('t199', 5000, clock.now()), ok(body));
    expect(cache.stats().tokens).toBe(entries);
    cache.purgeToken('key-t199');
    expect(cache.lookup(request, scopeFor('t199', 0, clock.now()))).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: entries - 1, tokens: entries - 1 });
  });

  it('keeps each token within its share, so one token sending distinct operations cannot push out the others\' answers', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock, maxBytes: 64 * 1024 });
    const answer = ok(`{"data":{"a":"${'x'.repeat(900)}"}}`);
    const theirs = post({ query: '{ a }' });
    offerRepeated(cache, theirs, scopeFor('quiet', 5000, clock.now()), answer);
    // 200 distinct operations of about 1 KB each: three times the whole cache.
    const mine = Array.from({ length: 200 }, (_, i) => post({ query: `{ a(n: ${i}) }` }));
    for (const request of mine) offerRepeated(cache, request, scopeFor('busy', 5000, clock.now()), answer);
    expect(cache.lookup(theirs, scopeFor('quiet', 0, clock.now()))).toBeDefined();
    // The busy token keeps its newest answers, within an eighth of the cache.
    const kept = mine.filter((request) => cache.lookup(request, scopeFor('busy', 0, clock.now())));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length * 1000).toBeLessThanOrEqual(8 * 1024);
    expect(kept).toEqual(mine.slice(-kept.length));
    // Replacing and purging keep the count right: the token can fill its share again, and no more.
    offerRepeated(cache, mine.at(-1)!, scopeFor('busy', 5000, clock.now()), answer);
    cache.purgeToken('key-busy');
    for (const request of mine) offerRepeated(cache, request, scopeFor('busy', 5000, clock.now()), answer);
    expect(mine.filter((request) => cache.lookup(request, scopeFor('busy', 0, clock.now()))).length).toBe(kept.length);
    expect(cache.stats()).toMatchObject({ entries: kept.length + 1, tokens: 2 });
  });

  it('charges a tiny answer its share of the entry count, so that tokens storing many cannot push out the others\' answers by count', () => {
    const clock = createFakeClock();
    // 100 answers at most; a token's share of the bytes (8 KiB) would hold about 40 tiny ones.
    const cache = createResponseCache({ clock, maxBytes: 64 * 1024, maxEntries: 100 });
    const theirs = post({ query: '{ a }' });
    offerRepeated(cache, theirs, scopeFor('quiet', 5000, clock.now()), ok('{"data":{"a":1}}'));
    for (let t = 0; t < 7; t++) {
      for (let i = 0; i < 60; i++) offerRepeated(cache, post({ query: `{ a(n: ${i}) }` }), scopeFor(`busy${t}`, 5000, clock.now()), ok('{"data":{"a":2}}'));
    }
    expect(cache.lookup(theirs, scopeFor('quiet', 0, clock.now()))).toBeDefined();
    expect(cache.stats().entries).toBeLessThanOrEqual(100);
  });

  it('keeps, within a token\'s share, the answer it replays over the ones it stored later and never used', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock, maxBytes: 64 * 1024, maxTokenBytes: 8 * 1024 });
    const answer = ok(`{"data":{"a":"${'x'.repeat(900)}"}}`);
    const dashboard = post({ query: '{ dashboard }' });
    offerRepeated(cache, dashboard, scopeFor('busy', 5000, clock.now()), answer);
    for (let i = 0; i < 50; i++) {
      offerRepeated(cache, post({ query: `{ a(n: ${i}) }` }), scopeFor('busy', 5000, clock.now()), answer);
      expect(cache.lookup(dashboard, scopeFor('busy', 0, clock.now())), `after ${i + 1} others`).toBeDefined();
    }
  });

  it('does not store an answer larger than a token\'s share', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock, maxBytes: 64 * 1024, maxTokenBytes: 4 * 1024 });
    const request = post({ query: '{ a }' });
    offerRepeated(cache, request, scopeFor('t1', 5000, clock.now()), ok(`{"data":{"a":"${'x'.repeat(5000)}"}}`));
    expect(cache.stats().entries).toBe(0);
    offerRepeated(cache, request, scopeFor('t1', 5000, clock.now()), ok(`{"data":{"a":"${'x'.repeat(3000)}"}}`));
    expect(cache.stats().entries).toBe(1);
  });

  it('never serves one token an answer stored for another', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const request = post({ query: '{ a }' });
    offerRepeated(cache, request, scopeFor('t1', 5000, clock.now()), ok('{"data":{"a":1}}'));
    expect(cache.lookup(request, scopeFor('t2', 0, clock.now()))).toBeUndefined();
    expect(cache.lookup(request, scopeFor(null, 0, clock.now()))).toBeUndefined();
  });

  it('stores nothing with errors, served stale, without freshness, or with a non-200 status', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const request = post({ query: '{ a }' });
    offerRepeated(cache, request, scopeFor('t1', 5000, clock.now()), ok('{"errors":[{"message":"x"}],"data":null}'));
    const stale = scopeFor('t1', 5000, clock.now());
    stale.stats.uncacheable = true;
    offerRepeated(cache, request, stale, ok('{"data":{"a":1}}'));
    offerRepeated(cache, request, scopeFor('t1', Number.POSITIVE_INFINITY, clock.now()), ok('{"data":{"a":1}}'));
    offerRepeated(cache, request, scopeFor('t1', 5000, clock.now()), { ...ok('{"data":{"a":1}}'), status: 429 });
    // Event streams and multipart answers are framed for the request that got them.
    offerRepeated(cache, request, scopeFor('t1', 5000, clock.now()), { ...ok('event: next\ndata: {"data":{"a":1}}\n\n'), contentType: 'text/event-stream' });
    offerRepeated(cache, request, scopeFor('t1', 5000, clock.now()), { ...ok('{"data":{"a":1}}'), contentType: '' });
    expect(cache.stats().entries).toBe(0);
    offerRepeated(cache, request, scopeFor('t1', 5000, clock.now()), { ...ok('{"data":{"a":1}}'), contentType: 'application/graphql-response+json; charset=utf-8' });
    expect(cache.stats().entries).toBe(1);
  });

  it('skips lookups for no-cache requests and drops a purged token', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const request = post({ query: '{ a }' });
    offerRepeated(cache, request, scopeFor('t1', 5000, clock.now()), ok('{"data":{"a":1}}'));
    expect(cache.lookup(request, scopeFor('t1', 0, clock.now(), { noCache: true }))).toBeUndefined();
    cache.purgeToken('key-t1');
    expect(cache.lookup(request, scopeFor('t1', 0, clock.now()))).toBeUndefined();
  });

  it('keys on document, operation name, canonical variables, extensions and media type', () => {
    // A NUL is legal in a string literal: where one part of a key ends must not be for the request to say.
    // (Written as normalised, so the head that does not lex, and is kept as sent, matches the whole's normal form.)
    const head = '{zones{id}organization(subDomain:"a';
    const tail = 'b")@include(if:false){name}}';
    expect(operationKey(post({ query: `${head}\u0000${tail}` }))).not.toBe(operationKey(post({ query: head, operationName: `${tail}\u0000` })));
    const base = operationKey(post({ query: 'query Q($a: Int, $b: Int) { x }', variables: { a: 1, b: 2 } }));
    expect(operationKey(post({ query: 'query Q($a: Int, $b: Int) { x }', variables: { b: 2, a: 1 } }))).toBe(base);
    expect(operationKey(post({ query: 'query Q($a: Int, $b: Int) { x }', variables: { a: 1, b: 3 } }))).not.toBe(base);
    expect(operationKey(post({ query: 'query Q($a: Int, $b: Int) { x }', variables: { a: 1, b: 2 }, operationName: 'Q' }))).not.toBe(base);
    expect(operationKey(post({ query: 'query Q($a: Int, $b: Int) { x }', variables: { a: 1, b: 2 } }, 'application/graphql-response+json'))).not.toBe(base);
    expect(operationKey(post({ query: 'query Q($a: Int, $b: Int) { y }', variables: { a: 1, b: 2 } }))).not.toBe(base);
    const get = operationKey({ method: 'GET', search: `query=${encodeURIComponent('{ x }')}&variables=${encodeURIComponent('{"b":2,"a":1}')}`, body: undefined, accept: null });
    expect(get).toBe(operationKey({ method: 'GET', search: `query=${encodeURIComponent('{ x }')}&variables=${encodeURIComponent('{"a":1,"b":2}')}`, body: undefined, accept: null }));
    const apq = operationKey(post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }));
    expect(apq).toContain('h:abc');
    // A document sent with a persisted-query hash (which the pipeline checks) is not the document alone.
    const withHash = operationKey(post({ query: 'query Q($a: Int, $b: Int) { x }', variables: { a: 1, b: 2 }, extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }));
    expect(withHash).not.toBe(base);
    expect(withHash).not.toBe(operationKey(post({ query: 'query Q($a: Int, $b: Int) { x }', variables: { a: 1, b: 2 }, extensions: { persistedQuery: { version: 1, sha256Hash: 'abd' } } })));
    expect(operationKey(post('not an object'))).toBeNull();
    // What yoga refuses is never keyed like what it accepts.
    expect(operationKey(post({ query: '{ x }', operationName: 1 }))).toBeNull();
    expect(operationKey(post({ query: '{ x }', operationName: ['Q'] }))).toBeNull();
    expect(operationKey(post({ query: '{ x }', variables: [1] }))).toBeNull();
    expect(operationKey(post({ query: '{ x }', variables: 'x' }))).toBeNull();
    expect(operationKey(post({ query: '{ x }', extensions: 5 }))).toBeNull();
    expect(operationKey(post({ query: 5 }))).toBeNull();
    expect(operationKey(post({ query: '{ x }', operationName: null, variables: null }))).toBe(operationKey(post({ query: '{ x }' })));
    // yoga refuses an empty operation name in a POST body, so it never shares the document's answer.
    expect(operationKey(post({ query: '{ x }', operationName: '' }))).toBeNull();
    expect(operationKey({ method: 'POST', search: '', body: Buffer.from('{broken'), accept: null, contentType: 'application/json' })).toBeNull();
  });

  it('keys a document by its tokens: spacing, commas and comments do not split an entry', () => {
    const base = operationKey(post({ query: 'query Q($a: Int) { x(a: $a) { y z } }', variables: { a: 1 } }));
    const variants = ['query Q($a: Int) {  x(a: $a) { y, z } }', '# the list\nquery Q(\n  $a: Int\n) {\n  x(a: $a) {\n    y\n    z\n  }\n}\n'];
    for (const query of variants) expect(operationKey(post({ query, variables: { a: 1 } }))).toBe(base);
    // Tokens that differ are different documents, strings included.
    expect(operationKey(post({ query: 'query Q($a: Int) { x(a: $a) { z y } }', variables: { a: 1 } }))).not.toBe(base);
    expect(operationKey(post({ query: '{ x(s: "a  b") }' }))).not.toBe(operationKey(post({ query: '{ x(s: "a b") }' })));
    // Text that does not lex is keyed as sent (yoga refuses it; nothing is stored); a key holds a document's digest.
    const unlexable = '{ x(s: "unterminated }';
    expect(operationKey(post({ query: unlexable }))).toContain(JSON.stringify(`d:${hash('sha256', unlexable, 'base64url')}`));
    expect(operationKey(post({ query: `${unlexable} ` }))).not.toBe(operationKey(post({ query: unlexable })));
  });

  it('keys the exact text where the text itself is checked: with extensions, or when only allow-listed documents run', () => {
    const hash = { persistedQuery: { version: 1, sha256Hash: 'abc' } };
    expect(operationKey(post({ query: '{  x }', extensions: hash }))).not.toBe(operationKey(post({ query: '{ x }', extensions: hash })));
    const exact = (document: string) => document;
    expect(operationKey(post({ query: '{  x }' }), exact)).not.toBe(operationKey(post({ query: '{ x }' }), exact));
    // And through the cache itself: an allow-list-only gateway does not answer a variant from a stored answer.
    const clock = createFakeClock();
    for (const [normaliseDocuments, replayed] of [[true, true], [false, false]] as const) {
      const cache = createResponseCache({ clock, normaliseDocuments });
      offerRepeated(cache, post({ query: '{ x }' }), scopeFor('t', 5_000, clock.now()), ok('{"data":{"x":1}}'));
      expect(cache.lookup(post({ query: '{  x }' }), scopeFor('t', 5_000, clock.now())) !== undefined).toBe(replayed);
    }
  });

  it('stores an operation at its second clean answer for the same token, so answers that never repeat are not kept', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const request = post({ query: '{ a }' });
    const answer = ok('{"data":{"a":1}}');
    const hit = (token: string) => cache.lookup(request, scopeFor(token, 0, clock.now()));
    cache.store(request, scopeFor('t1', 5000, clock.now()), answer);
    expect(hit('t1')).toBeUndefined();
    expect(cache.stats().entries).toBe(0);
    // Another token's first answer is its own first sighting.
    cache.store(request, scopeFor('t2', 5000, clock.now()), answer);
    expect(hit('t2')).toBeUndefined();
    cache.store(request, scopeFor('t1', 5000, clock.now()), answer);
    expect(hit('t1')?.body.toString()).toBe('{"data":{"a":1}}');
    expect(hit('t2')).toBeUndefined();
    // An answer that is not stored for what it holds is not a sighting either.
    const other = post({ query: '{ b }' });
    cache.store(other, scopeFor('t1', 5000, clock.now()), ok('{"errors":[{"message":"no"}],"data":null}'));
    cache.store(other, scopeFor('t1', 5000, clock.now()), ok('{"data":{"b":1}}'));
    expect(cache.lookup(other, scopeFor('t1', 0, clock.now()))).toBeUndefined();
    cache.store(other, scopeFor('t1', 5000, clock.now()), ok('{"data":{"b":1}}'));
    expect(cache.lookup(other, scopeFor('t1', 0, clock.now()))).toBeDefined();
  });

  it('forgets the oldest sightings past their room: such an operation is stored one answer later', () => {
    const clock = createFakeClock();
    // Room for a few dozen keys.
    const cache = createResponseCache({ clock, sightingBytes: 4096 });
    const first = post({ query: '{ first }' });
    const answer = ok('{"data":{"a":1}}');
    cache.store(first, scopeFor('t1', 5000, clock.now()), answer);
    for (let i = 0; i < 500; i++) cache.store(post({ query: `{ once${i} }` }), scopeFor('t1', 5000, clock.now()), answer);
    expect(cache.stats().entries).toBe(0);
    cache.store(first, scopeFor('t1', 5000, clock.now()), answer);
    expect(cache.lookup(first, scopeFor('t1', 0, clock.now()))).toBeUndefined();
    cache.store(first, scopeFor('t1', 5000, clock.now()), answer);
    expect(cache.lookup(first, scopeFor('t1', 0, clock.now()))).toBeDefined();
  });

  it('keeps sightings per token: one token sending a stream of one-off operations does not delay another token\'s repeated one', () => {
    const clock = createFakeClock();
    // Room for about 570 sightings in all, an eighth of that per token.
    const cache = createResponseCache({ clock, sightingBytes: 64 * 1024 });
    const dashboard = post({ query: '{ dashboard }' });
    const answer = ok('{"data":{"a":1}}');
    cache.store(dashboard, scopeFor('quiet', 5000, clock.now()), answer);
    for (let i = 0; i < 2000; i++) cache.store(post({ query: `{ once${i} }` }), scopeFor('busy', 5000, clock.now()), answer);
    cache.store(dashboard, scopeFor('quiet', 5000, clock.now()), answer);
    expect(cache.lookup(dashboard, scopeFor('quiet', 0, clock.now()))).toBeDefined();
  });

  it('keeps a repeated operation\'s sighting fresh, so it is stored again at once when its stored answer expires', async () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock, sightingBytes: 64 * 1024 });
    const dashboard = post({ query: '{ dashboard }' });
    const answer = ok('{"data":{"a":1}}');
    // The dashboard comes back every 20 one-off operations of the same token, whose share holds about 70 sightings.
    for (let i = 0; i < 2000; i++) {
      if (i % 20 === 0) cache.store(dashboard, scopeFor('t1', 5000, clock.now()), answer);
      cache.store(post({ query: `{ once${i} }` }), scopeFor('t1', 5000, clock.now()), answer);
    }
    await clock.advance(5000);
    expect(cache.lookup(dashboard, scopeFor('t1', 0, clock.now()))).toBeUndefined();
    cache.store(dashboard, scopeFor('t1', 5000, clock.now()), answer);
    expect(cache.lookup(dashboard, scopeFor('t1', 0, clock.now()))).toBeDefined();
  });

  it('finds an operation\'s sighting and stored answer again after the mapping of its request text was pushed out', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const dashboard = post({ query: '{ dashboard }' });
    const answer = ok('{"data":{"a":1}}');
    cache.store(dashboard, scopeFor('t1', 5000, clock.now()), answer);
    // Request texts of about 8 KB from many tokens: the 4 MiB of remembered texts turn over twice.
    const filler = 'x'.repeat(8000);
    for (let i = 0; i < 1100; i++) cache.lookup(post({ query: `{ a(s: "${filler}${i}") }` }), scopeFor(`t${i + 2}`, 5000, clock.now()));
    cache.store(dashboard, scopeFor('t1', 5000, clock.now()), answer);
    expect(cache.lookup(dashboard, scopeFor('t1', 0, clock.now()))).toBeDefined();
  });

  it('evicts by bytes and can be disabled', () => {
    const clock = createFakeClock();
    const small = createResponseCache({ clock, maxBytes: 2000, maxTokenBytes: 2000 });
    for (let i = 0; i < 20; i++) offerRepeated(small, post({ query: `{ a${i} }` }), scopeFor('t1', 5000, clock.now()), ok(`{"data":{"a":"${'x'.repeat(200)}"}}`));
    expect(small.stats().bytes).toBeLessThanOrEqual(2000);
    expect(small.stats().entries).toBeGreaterThan(0);
    expect(small.stats().entries).toBeLessThan(20);
    const off = createResponseCache({ clock, maxBytes: 0 });
    offerRepeated(off, post({ query: '{ a }' }), scopeFor('t1', 5000, clock.now()), ok('{"data":{"a":1}}'));
    expect(off.enabled).toBe(false);
    expect(off.lookup(post({ query: '{ a }' }), scopeFor('t1', 0, clock.now()))).toBeUndefined();
  });

  it('gives equal bodies equal ETags and different bodies different ones', () => {
    expect(etagFor('{"a":1}')).toBe(etagFor(Buffer.from('{"a":1}')));
    expect(etagFor('{"a":1}')).not.toBe(etagFor('{"a":2}'));
  });
});

describe('the finished-response cache and its edge cases', () => {
  /** Answers stored of one t1 answer computed while `purged` was purged. */
  function storedAcrossAPurgeOf(purged: string): number {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const request = post({ query: '{ a }' });
    const scope = scopeFor('t1', 5000, clock.now());
    expect(cache.lookup(request, scope)).toBeUndefined();
    cache.purgeToken(purged);
    offerRepeated(cache, request, scope, ok('{"data":{"a":1}}'));
    return cache.stats().entries;
  }

  it('does not store an answer computed while its token was being purged', () => {
    expect(storedAcrossAPurgeOf('key-t1')).toBe(0);
  });

  it('stores an answer computed while another token was purged: any client can have a made-up token purged', () => {
    expect(storedAcrossAPurgeOf('key-stranger')).toBe(1);
  });

  it('stores nothing begun before a flood of drops pushed out the marks it may need, and goes on storing after', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const request = post({ query: '{ a }' });
    const during = scopeFor('t1', 5000, clock.now());
    expect(cache.lookup(request, during)).toBeUndefined();
    // More tokens dropped than marks are kept: t1's own might have been among those forgotten.
    for (let i = 0; i <= 200_000; i++) cache.dropToken(`key-flood-${i}`);
    offerRepeated(cache, request, during, ok('{"data":{"a":1}}'));
    expect(cache.stats().entries).toBe(0);
    const after = scopeFor('t1', 5000, clock.now());
    expect(cache.lookup(request, after)).toBeUndefined();
    offerRepeated(cache, request, after, ok('{"data":{"a":1}}'));
    expect(cache.stats().entries).toBe(1);
  });

  it('drops a token’s answers when one of its REST entries goes early, and stores none begun before that', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const a = post({ query: '{ a }' });
    const b = post({ query: '{ b }' });
    offerRepeated(cache, a, scopeFor('t1', 5000, clock.now()), ok('{"data":{"a":1}}'));
    offerRepeated(cache, a, scopeFor('t2', 5000, clock.now()), ok('{"data":{"a":2}}'));
    const during = scopeFor('t1', 5000, clock.now());
    expect(cache.lookup(b, during)).toBeUndefined();
    const other = scopeFor('t2', 5000, clock.now());
    expect(cache.lookup(b, other)).toBeUndefined();

    cache.dropToken('key-t1');
    expect(cache.lookup(a, scopeFor('t1', 0, clock.now()))).toBeUndefined();
    // Begun before the drop: it may have read the entry that went.
    offerRepeated(cache, b, during, ok('{"data":{"b":1}}'));
    expect(cache.lookup(b, scopeFor('t1', 0, clock.now()))).toBeUndefined();
    // Another token's answers, stored or being built, are not touched.
    expect(cache.lookup(a, scopeFor('t2', 0, clock.now()))?.body.toString()).toBe('{"data":{"a":2}}');
    offerRepeated(cache, b, other, ok('{"data":{"b":2}}'));
    expect(cache.lookup(b, scopeFor('t2', 0, clock.now()))).toBeDefined();
    // Begun after it: stored as usual.
    const after = scopeFor('t1', 5000, clock.now());
    expect(cache.lookup(b, after)).toBeUndefined();
    offerRepeated(cache, b, after, ok('{"data":{"b":1}}'));
    expect(cache.lookup(b, scopeFor('t1', 0, clock.now()))?.body.toString()).toBe('{"data":{"b":1}}');
  });

  it('replays an answer stored under a persisted-query hash only while that hash still finds its document', () => {
    const clock = createFakeClock();
    // Separators of the key in the hash: it must still be read back whole.
    const hash = 'ab#c%\u0000d';
    const known = new Set([hash]);
    const cache = createResponseCache({ clock, resolvesPersistedHash: (h) => known.has(h) });
    const byHash = post({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    offerRepeated(cache, byHash, scopeFor('t1', 5000, clock.now()), ok('{"data":{"a":1}}'));
    expect(cache.lookup(byHash, scopeFor('t1', 0, clock.now()))?.body.toString()).toBe('{"data":{"a":1}}');
    known.delete(hash);
    expect(cache.lookup(byHash, scopeFor('t1', 0, clock.now()))).toBeUndefined();
    // Sent with its document (a client registering the hash again), it must reach the pipeline,
    // which registers it: a replay would leave the hash forgotten, and the client in a loop of
    // PersistedQueryNotFound and re-registering.
    const withDocument = post({ query: '{ a }', extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    known.add(hash);
    offerRepeated(cache, withDocument, scopeFor('t1', 5000, clock.now()), ok('{"data":{"a":1}}'));
    expect(cache.lookup(withDocument, scopeFor('t1', 0, clock.now()))).toBeDefined();
    known.delete(hash);
    expect(cache.lookup(withDocument, scopeFor('t1', 0, clock.now()))).toBeUndefined();
    // Nor is one stored while its hash finds nothing: it could never be replayed.
    const entries = cache.stats().entries;
    offerRepeated(cache, post({ query: '{ b }', extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }), scopeFor('t1', 5000, clock.now()), ok('{"data":{"b":1}}'));
    expect(cache.stats().entries).toBe(entries);
  });

  it('keys only a body yoga reads as JSON: `application/json`, alone or with parameters', () => {
    const body = Buffer.from(JSON.stringify({ query: '{ a }' }));
    const shape = (contentType: string): GraphQLRequestShape => ({ method: 'POST', search: '', body, accept: null, contentType });
    expect(operationKey(shape('application/json'))).not.toBeNull();
    expect(operationKey(shape('Application/JSON;charset=utf-8'))).not.toBeNull();
    expect(operationKey(shape('application/json, text/plain'))).not.toBeNull();
    // The edge takes out the space before the parameters before yoga reads the type.
    expect(operationKey(shape('application/json ;charset=utf-8'))).not.toBeNull();
    // yoga answers these 415: no stored answer may stand in for that.
    expect(operationKey(shape('text/plain, application/json'))).toBeNull();
    expect(operationKey(shape('application/jsonx'))).toBeNull();
  });

  it('gives no key to a body yoga would refuse or read differently: unknown members, numbers JSON cannot write back', () => {
    const raw = (text: string): GraphQLRequestShape => ({ method: 'POST', search: '', body: Buffer.from(text), accept: null, contentType: 'application/json' });
    expect(operationKey(raw('{"query":"{ a }","variables":{"f":null}}'))).not.toBeNull();
    expect(operationKey(raw('{"query":"{ a }","foo":1}'))).toBeNull();
    expect(operationKey(raw('{"query":"{ a }","variables":{"f":1e400}}'))).toBeNull();
    expect(operationKey(raw('{"query":"{ a }","variables":{"f":[-1e400]}}'))).toBeNull();
    // Nesting deeper than the key's walk can go is answered by yoga, not keyed.
    const deep = `${'{"a":'.repeat(20000)}1${'}'.repeat(20000)}`;
    expect(operationKey(raw(`{"query":"{ a }","variables":{"f":${deep}}}`))).toBeNull();
  });

  it('reads only JSON bodies for a key, since yoga reads other content types differently', () => {
    const body = Buffer.from(JSON.stringify({ query: '{ a }' }));
    expect(operationKey({ method: 'POST', search: '', body, accept: null, contentType: 'application/json; charset=utf-8' })).not.toBeNull();
    expect(operationKey({ method: 'POST', search: '', body, accept: null, contentType: 'application/x-www-form-urlencoded' })).toBeNull();
    expect(operationKey({ method: 'POST', search: '', body, accept: null, contentType: 'text/plain' })).toBeNull();
  });
});

describe('identical requests in flight', () => {
  /** A request as the edge runs it: lookup, then join; undefined when it leads. */
  const arrive = (cache: ResponseCache, request: GraphQLRequestShape, scope: RequestScope) => {
    expect(cache.lookup(request, scope)).toBeUndefined();
    return cache.join(request, scope);
  };

  it('gives an identical request of the same token the answer the first one builds, stored or not', async () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const request = post({ query: '{ a }' });
    const leader = scopeFor('t1', 5000, clock.now());
    expect(arrive(cache, request, leader)).toBeUndefined();
    const waiting = arrive(cache, request, scopeFor('t1', 5000, clock.now()));
    expect(waiting).toBeInstanceOf(Promise);
    // Another token's identical request waits on no one: it builds its own answer.
    expect(arrive(cache, request, scopeFor('t2', 5000, clock.now()))).toBeUndefined();
    cache.store(request, leader, ok('{"data":{"a":1}}'));
    expect((await waiting)?.body.toString()).toBe('{"data":{"a":1}}');
    // Its first clean answer: shared, not stored.
    expect(cache.stats().entries).toBe(0);
    // The flight is over: the next identical request builds its own answer.
    expect(arrive(cache, request, scopeFor('t1', 5000, clock.now()))).toBeUndefined();
  });

  it('gives waiting requests nothing when the first one ends without an answer that could be replayed', async () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const request = post({ query: '{ a }' });
    const cases: Array<[string, (scope: RequestScope) => void]> = [
      ['an answer with errors', (scope) => cache.store(request, scope, ok('{"errors":[{"message":"no"}],"data":null}'))],
      ['an answer served stale', (scope) => {
        scope.stats.uncacheable = true;
        cache.store(request, scope, ok('{"data":{"a":1}}'));
      }],
      ['no answer (its client went away, or it failed)', (scope) => cache.release(scope)],
      ['an answer built across a purge of its token', (scope) => {
        cache.purgeToken(scope.tokenKey);
        cache.store(request, scope, ok('{"data":{"a":1}}'));
      }],
    ];
    for (const [label, end] of cases) {
      const leader = scopeFor('t1', 5000, clock.now());
      expect(arrive(cache, request, leader), label).toBeUndefined();
      const waiting = arrive(cache, request, scopeFor('t1', 5000, clock.now()));
      end(leader);
      expect(await waiting, label).toBeNull();
    }
  });

  it('does not make a request wait past its own deadline, nor one that asked for a refresh', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const request = post({ query: '{ a }' });
    expect(arrive(cache, request, scopeFor('t1', 5000, clock.now(), { deadline: clock.now() + 10_000 }))).toBeUndefined();
    expect(arrive(cache, request, scopeFor('t1', 5000, clock.now(), { deadline: clock.now() + 1_000 }))).toBeUndefined();
    expect(cache.join(request, scopeFor('t1', 5000, clock.now(), { noCache: true }))).toBeUndefined();
    expect(arrive(cache, request, scopeFor('t1', 5000, clock.now(), { deadline: clock.now() + 10_000 }))).toBeInstanceOf(Promise);
  });
});

describe('operationOf: the operation, without the token', () => {
  it('is the same for every token and every spacing of the text, and differs with the variables', () => {
    const clock = createFakeClock();
    const cache = createResponseCache({ clock });
    const a = cache.operationOf(post({ query: '{ a }', variables: { n: 1 } }), scopeFor('t1', 0, clock.now()));
    expect(a).toEqual(expect.any(String));
    expect(a).not.toContain('t1');
    expect(cache.operationOf(post({ query: '{a}', variables: { n: 1 } }), scopeFor('t2', 0, clock.now()))).toBe(a);
    expect(cache.operationOf(post({ query: '{ a }', variables: { n: 2 } }), scopeFor('t1', 0, clock.now()))).not.toBe(a);
    expect(cache.operationOf(post({ query: '{ a }' }), scopeFor(null, 0, clock.now()))).toBeNull();
  });

  it('is null for a persisted-query hash that finds no document now', () => {
    const clock = createFakeClock();
    let resolves = true;
    const cache = createResponseCache({ clock, resolvesPersistedHash: () => resolves });
    const byHash = post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } });
    expect(cache.operationOf(byHash, scopeFor('t1', 0, clock.now()))).toEqual(expect.any(String));
    resolves = false;
    expect(cache.operationOf(byHash, scopeFor('t1', 0, clock.now()))).toBeNull();
  });
});
