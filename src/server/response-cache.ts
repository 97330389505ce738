import { hash } from 'node:crypto';
import { stripIgnoredCharacters } from 'graphql';
import { LRUCache } from 'lru-cache';
import { createTokenLedger } from '../cache/token-ledger.js';
import type { Clock } from '../clock.js';
import type { RequestScope } from '../data/request-scope.js';
import type { FastPath, GraphQLRequestInput, GraphQLResponseOutput, OnGraphQLEnd, OnGraphQLResult } from './graphql-route.js';
import { documentIdIn, DOCUMENT_ID_PARAMETERS } from './persisted-operations.js';

/**
 * The warm fast path: finished GraphQL response bytes, per token, for operations repeated
 * exactly (a dashboard polled by a mobile app, ten tabs of one user). A hit is answered
 * before yoga and graphql-js run at all.
 *
 * What makes it safe:
 * - The key starts with the token's HMAC, so isolation is exactly the REST cache's; and as
 *   there, a token has a share of the bytes, so one token cannot push out everyone's answers.
 * - An entry lives no longer than the earliest-expiring REST entry it was built from
 *   (`scope.stats.freshUntil`), and is dropped when that token is purged (revoked token) or
 *   when one of the token's REST entries goes while still fresh: replaced by a newer answer,
 *   or evicted (the answer would otherwise outlive it, and a later read of that URL, finding
 *   nothing to compare, could show newer data than the replay). An answer whose REST data was
 *   not kept at all (or was a failed read turned into a value) is not stored.
 * - Only clean answers are stored: HTTP 200, no `errors`, nothing served stale, a token present;
 *   and only an operation's second one (see `store`): one that never repeats is not kept.
 * - `Cache-Control: no-cache` requests skip it. Their fresh REST answers replace the token's
 *   entries, which drops its stored answers; the next request stores the fresh one.
 * - Everything that can change the bytes is in the key: the document (its tokens, see
 *   `operationKey`), persisted-query hash or persisted document id, operation name, canonical variables, extensions,
 *   and the response media type.
 * - Checks that do not depend on the answer (CORS, CSRF, the token's presence, inbound rate
 *   limits) run before the lookup in the HTTP edge. An allow-listed persisted operation was
 *   accepted by the full pipeline before it was ever stored, and the allow-list is static.
 * - An identical request of the same token that arrives while the first is still running waits
 *   for that answer (`join`) and gets it only when it passes the same checks as a stored one.
 */
export interface ResponseCacheOptions {
  clock: Clock;
  /** Total bytes of stored responses; 0 disables the fast path. @default 64 MiB */
  maxBytes?: number;
  /**
   * One token's share of `maxBytes`, as the REST cache has one: a client sending a stream of
   * distinct operations, each twice (stored, never replayed), would otherwise push every other
   * token's answers out. Past it, the token's own least recently used answers make room. @default maxBytes / 8
   */
  maxTokenBytes?: number;
  /** Most answers stored at once, whatever their size. @default 100,000 */
  maxEntries?: number;
  /**
   * Key documents by their tokens, so spacing, commas and comments do not split entries (see
   * `operationKey`). Off when only allow-listed documents may run: that list matches exact
   * text, so a variant of an allowed document must reach it. @default true
   */
  normaliseDocuments?: boolean;
  /**
   * Whether a request with only this persisted-query hash would find its document now. An
   * answer stored under a hash is replayed only while it would: once the document is forgotten
   * the pipeline answers PersistedQueryNotFound, and so must a replay. @default always
   */
  resolvesPersistedHash?: (hash: string) => boolean;
  /**
   * Whether the token's answers may be replayed now: not while the REST cache wants the token
   * checked with Katapult (see `tokenCheckDue`), since a replay would put that check off for as
   * long as the client keeps repeating itself. @default always
   */
  tokenReplayable?: (tokenKey: string) => boolean;
  /**
   * Room for the keys of clean answers seen once and not stored yet (see `store`), by the bytes
   * of the keys, at least 64 KiB; one token holds at most an eighth of it, its own oldest making
   * room for its new ones. An operation whose first sighting was pushed out is stored at its
   * next answer after that. @default 4 MiB
   */
  sightingBytes?: number;
}

export interface CachedResponse {
  /** Whose answer this is (the token's HMAC). */
  tokenKey: string;
  body: Buffer;
  operationName: string | null;
  contentType: string;
  etag: string;
  freshUntil: number;
}

export interface GraphQLRequestShape {
  method: string;
  /** The query string of a GET (without `?`). */
  search: string;
  body: Buffer | undefined;
  /** The request's Accept header (the response media type depends on it). */
  accept: string | null;
  /** The request's Content-Type: only JSON bodies are read for a key, as yoga reads other types differently. @default null */
  contentType?: string | null;
}

export interface ResponseCache {
  readonly enabled: boolean;
  /** The stored answer for this request, when there is a fresh one. */
  lookup(request: GraphQLRequestShape, scope: RequestScope): CachedResponse | undefined;
  /**
   * After a miss: the answer that a request for the same operation of the same token, begun
   * earlier and still running, is building. It settles with that answer when it is one that
   * could be replayed (as `store` judges it), else with null. Undefined when there is no such
   * request, or when this one may not wait on it: this request then builds the answer that
   * later identical ones join, until `release`.
   */
  join(request: GraphQLRequestShape, scope: RequestScope): Promise<CachedResponse | null> | undefined;
  /**
   * The operation the request asks for, as a short id that leaves the token out (the same for
   * every token, however the text was spaced): null when it is not a plain query this cache
   * could key, or carries a persisted-query hash that finds no document now.
   */
  operationOf(request: GraphQLRequestShape, scope: RequestScope): string | null;
  /** The request has ended: requests waiting on an answer it did not offer to `store` get null. */
  release(scope: RequestScope): void;
  /** Offers a finished answer; stored only when it is safe to replay (see above). */
  store(request: GraphQLRequestShape, scope: RequestScope, response: { status: number; contentType: string; body: Buffer; operationName?: string | null }): void;
  /** The token's REST entries were all dropped (a revoked token): its stored answers go, and answers being built now are not stored. */
  purgeToken(tokenKey: string): void;
  /** One of the token's fresh REST entries went early (replaced, or evicted): as `purgeToken`. */
  dropToken(tokenKey: string): void;
  /** `tokens`: tokens with at least one stored answer. */
  stats(): { entries: number; bytes: number; tokens: number };
}

const JSON_MEDIA_TYPE = /^application\/(?:graphql-response\+)?json\s*(?:;|$)/i;

/** A weak ETag over the exact bytes; the same function serves the fast path and the full pipeline. */
export function etagFor(body: Buffer | string): string {
  return `W/"${hash('sha1', body, 'base64url')}"`;
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` variables share an entry. */
function canonicalJson(value: unknown): string {
  // JSON.parse reads 1e400 as Infinity, which JSON.stringify writes as null: a different request.
  if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError('not a finite number');
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

const KNOWN_PARAMS = new Set(['query', 'operationName', 'variables', 'extensions', ...DOCUMENT_ID_PARAMETERS]);

interface Params {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: unknown;
  documentId?: unknown;
  doc_id?: unknown;
}

/**
 * Whether yoga reads this POST body as JSON: it takes the first type of a list and wants
 * `application/json`, with or without parameters. The edge hands yoga the type in lower case
 * and without spaces before its parameters.
 */
function isYogaJsonBody(contentType: string | null | undefined): boolean {
  const first = (contentType ?? '').split(',')[0]!;
  const semicolon = first.indexOf(';');
  return (semicolon === -1 ? first : first.slice(0, semicolon)).trim().toLowerCase() === 'application/json';
}

/** The edge hands yoga a HEAD as a GET (and sends the answer without its body): its parameters are a GET's. */
const isGetLike = (method: string) => method === 'GET' || method === 'HEAD';

function readParams(request: GraphQLRequestShape): Params | null {
  try {
    if (isGetLike(request.method)) {
      const search = new URLSearchParams(request.search);
      const parse = (name: string) => {
        const raw = search.get(name);
        return raw ? (JSON.parse(raw) as unknown) : undefined;
      };
      return {
        query: search.get('query') ?? undefined,
        operationName: search.get('operationName') ?? undefined,
        variables: parse('variables'),
        extensions: parse('extensions'),
        documentId: search.get('documentId') ?? undefined,
        doc_id: search.get('doc_id') ?? undefined,
      };
    }
    if (request.method === 'POST' && isYogaJsonBody(request.contentType) && request.body && request.body.length > 0) {
      const parsed = JSON.parse(request.body.toString('utf8')) as unknown;
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Params) : null;
    }
  } catch {
    // Unreadable parameters are yoga's to reject with a proper error.
  }
  return null;
}

/** URI-encoded; null for text that cannot be (a lone surrogate), which yoga then answers. */
function encodeKeyPart(text: string): string | null {
  try {
    return encodeURIComponent(text);
  } catch {
    return null;
  }
}

/** Documents up to this size are normalised for a key (once per text); a longer one (rare) is keyed as sent, so a huge document is not lexed whole on every request. */
const MAX_NORMALISED_DOCUMENT = 16 * 1024;

/**
 * The document as a key: its tokens without what GraphQL ignores (spacing, commas, comments),
 * so two texts that parse to the same document share an answer. Only clean answers are stored,
 * and those do not depend on where a token stood. Unlexable text is kept as sent: yoga refuses it.
 */
export function normaliseDocument(document: string): string {
  if (document.length > MAX_NORMALISED_DOCUMENT) return document;
  try {
    return stripIgnoredCharacters(document);
  } catch {
    return document;
  }
}

/** SHA-256, one shot (no Hash object per call): ids only ever meet within one token's keys, and no two operations share one. */
const digest = (text: string) => hash('sha256', text, 'base64url');

/**
 * A document's part of a key: the digest of its normalised text. Only the digest goes into the
 * key, so a long document is not copied, stringified and hashed again with every request's
 * variables (on a stream of distinct requests that was most of the cost of a miss).
 */
export const documentDigest = (document: string) => digest(normaliseDocument(document));

/**
 * The part of the key after the token: null when the request is not a plain, replayable query.
 * The document goes through `documentKey` (by default `documentDigest`), unless the request
 * carries extensions: a persisted-query hash is checked against the exact text it came with.
 */
export function operationKey(request: GraphQLRequestShape, documentKey: (document: string) => string = documentDigest): string | null {
  return operationKeyAndHash(request, documentKey)?.key ?? null;
}

/** `operationKey`, with the persisted-query hash the request carries (with or without its document), if any. */
function operationKeyAndHash(request: GraphQLRequestShape, documentKey: (document: string) => string): { key: string; hash: string | null } | null {
  const params = readParams(request);
  if (!params) return null;
  // yoga refuses a POST body with any other member ("Unexpected parameter"), so must the fast path.
  for (const name in params) if (!KNOWN_PARAMS.has(name)) return null;
  // Parameters yoga refuses (an operation name that is not a string, variables or extensions
  // that are not objects) must not be answered from a document's stored answer.
  const absent = (value: unknown) => value === undefined || value === null;
  const absentOr = (value: unknown, kind: 'string' | 'object') => absent(value) || (typeof value === kind && !Array.isArray(value));
  if (!absentOr(params.operationName, 'string') || !absentOr(params.query, 'string')) return null;
  if (!absentOr(params.variables, 'object') || !absentOr(params.extensions, 'object')) return null;
  // In a POST body an empty operation name names no operation, and yoga refuses it; a GET's
  // empty `operationName=` is read as absent, so it shares the key of none.
  if (params.operationName === '' && !isGetLike(request.method)) return null;
  const hash = (params.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery?.sha256Hash;
  const document = typeof params.query === 'string' && params.query.length > 0 ? params.query : null;
  // A hash is URI-encoded, so it holds none of the key's separators and can be read back out of it.
  const encodedHash = typeof hash === 'string' ? encodeKeyPart(hash) : null;
  // A persisted document named by id alone: the allow-list is fixed for the process, so the id
  // finds the same document on every replay. Sent with anything else naming a document, the
  // plugin checks or refuses the pair, and the pipeline answers it.
  const named = documentIdIn(params as Record<string, unknown>);
  let encodedId: string | null = null;
  if (named !== null) {
    if (named === 'several' || typeof named.id !== 'string' || document !== null || hash !== undefined) return null;
    encodedId = encodeKeyPart(named.id);
  }
  const identity =
    document !== null ? `d:${absent(params.extensions) ? documentKey(document) : digest(document)}` : encodedId !== null ? `i:${encodedId}` : encodedHash !== null ? `h:${encodedHash}` : null;
  if (identity === null) return null;
  const operationName = typeof params.operationName === 'string' ? params.operationName : '';
  let variables: string;
  let extensions: string;
  try {
    variables = params.variables === undefined || params.variables === null ? '' : canonicalJson(params.variables);
    // Extensions can change the answer: a persisted-query hash sent with a document that does not
    // match it is refused, so that request must not share the document's stored answer.
    extensions = params.extensions === undefined || params.extensions === null ? '' : canonicalJson(params.extensions);
  } catch {
    // A value JSON cannot say again (Infinity), or nesting too deep to walk: yoga answers it.
    return null;
  }
  // As JSON, so no part can end early: a document or operation name may hold any character,
  // NUL included (in a string literal), and a key joined with separators could be two requests'.
  return { key: JSON.stringify([identity, operationName, variables, extensions, request.accept ?? '']), hash: encodedHash };
}

/**
 * An entry as kept: its ETag is computed when it is first replayed. An answer to a request
 * that carried a persisted-query hash (alone, or with its document) keeps that hash, to check
 * on each replay that it still finds its document.
 */
type StoredResponse = Omit<CachedResponse, 'etag'> & { etag: string | undefined; persistedHash: string | undefined };

/** Bodies up to this size have their key derivation remembered (larger ones are rare and derived each time). */
const MAX_REMEMBERED_BODY = 16 * 1024;
const KEY = Symbol('response-cache key');
const DROPS = Symbol('drops when the request began');
const LEADS = Symbol('the answer this request builds for identical ones');
/** An answer being built by one request that identical requests of the same token wait on. */
interface Flight {
  key: string;
  /** The building request's deadline: a request that wants its answer sooner does not wait on it. */
  deadline: number;
  /** Made when a first request waits: most answers being built have no one waiting for them. */
  answer?: Promise<StoredResponse | null>;
  settle?(answer: StoredResponse | null): void;
}
type ScopeNotes = RequestScope & { [KEY]?: string | null; [DROPS]?: number; [LEADS]?: Flight };

/** How long a token's last drop is remembered: longer than any request runs (REQUEST_DEADLINE_MS is at most 5 minutes). */
const DROP_MEMORY_MS = 10 * 60 * 1000;

export function createResponseCache(options: ResponseCacheOptions): ResponseCache {
  const { clock } = options;
  // Clients vary variables far more often than documents: a document is normalised and digested once.
  const documentKeyOf = (options.normaliseDocuments ?? true) ? documentDigest : digest;
  const documentKeys = new LRUCache<string, string>({ maxSize: 2 * 1024 * 1024, sizeCalculation: (digested, document) => document.length + digested.length + 64 });
  const documentKey = (document: string) => {
    let key = documentKeys.get(document);
    if (key === undefined) documentKeys.set(document, (key = documentKeyOf(document)));
    return key;
  };
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const enabled = maxBytes > 0;
  const maxTokenBytes = Math.max(1, options.maxTokenBytes ?? Math.floor(maxBytes / 8));
  const maxEntries = Math.max(1, options.maxEntries ?? 100_000);
  // Each answer is charged at least its share of the entry count, so that the count bound is
  // reached no sooner than the byte bound: tokens storing tiny answers would otherwise fill it
  // at a few tokens' shares and push everyone else's answers out, the shares notwithstanding.
  const leastCharge = Math.ceil(maxBytes / maxEntries);
  const sizeOf = (entry: StoredResponse, key: string) => Math.max(leastCharge, entry.body.length + key.length + 128);
  const entries = new LRUCache<string, StoredResponse>({
    max: maxEntries,
    maxSize: Math.max(1, maxBytes),
    sizeCalculation: sizeOf,
    perf: clock,
    ttlResolution: 0,
    ttl: 1, // replaced per entry below
    allowStale: false,
    updateAgeOnGet: false,
    // The per-token ledger follows the store exactly, so it holds nothing for tokens long gone.
    dispose(entry, key) {
      ledger.remove(entry.tokenKey, key);
    },
  });
  // Each token's answers, least recently stored or replayed first, and their bytes: its share
  // is enforced by dropping the answers it has used least recently, as the REST cache does.
  const ledger = createTokenLedger();
  // Keys of clean answers seen (an answer is stored when its key was seen before), each with its
  // token, and per token as the answers are: a token sending a stream of one-off operations
  // pushes out its own sightings, not those of everyone's repeated ones.
  const sightingBytes = Math.max(64 * 1024, options.sightingBytes ?? 4 * 1024 * 1024);
  const maxTokenSightingBytes = Math.floor(sightingBytes / 8);
  const sightingSize = (key: string) => key.length + 64;
  const sightingLedger = createTokenLedger();
  const sightings = new LRUCache<string, string>({
    maxSize: sightingBytes,
    sizeCalculation: (_tokenKey, key) => sightingSize(key),
    dispose(tokenKey, key) {
      sightingLedger.remove(tokenKey, key);
    },
  });
  /** Whether the key was seen before; marks it seen (most recently) either way. */
  const seenBefore = (tokenKey: string, key: string): boolean => {
    if (sightings.get(key) !== undefined) {
      sightingLedger.touch(tokenKey, key);
      return true;
    }
    sightingLedger.admit(tokenKey, key, sightingSize(key), maxTokenSightingBytes, (oldest) => sightings.delete(oldest), () => sightings.set(key, tokenKey).peek(key) === tokenKey);
    return false;
  };
  // An answer being built may have read a REST entry of its token's that has gone since (replaced
  // by a newer answer, evicted while fresh, or purged with a revoked token): the answer of a
  // request that began before its token's last drop is not stored. Marked per token: any client
  // can have a made-up token refused and purged, and that must not stop everyone's answers.
  let drops = 0;
  // A mark pushed out by newer ones (only a flood of drops does that) may be one a request in
  // flight needs: every request begun before the newest mark pushed out is then treated as dropped.
  let forgottenUpTo = 0;
  const droppedAt = new LRUCache<string, number>({
    max: 200_000,
    ttl: DROP_MEMORY_MS,
    perf: clock,
    ttlResolution: 0,
    dispose(mark, _tokenKey, reason) {
      if (reason === 'evict') forgottenUpTo = Math.max(forgottenUpTo, mark);
    },
  });
  const dropAnswersOf = (tokenKey: string) => {
    if (!enabled) return;
    droppedAt.set(tokenKey, ++drops);
    forgetAnswersOf(tokenKey);
  };

  // Deriving the operation part of a key parses the body and sorts the variables; clients send
  // the same few bodies over and over, so the derivation is remembered per exact request text,
  // as a short id: a digest of the operation's key. One operation has one id whatever text it
  // came as and however long ago, so its sighting and its stored answer are found again after
  // the text's mapping was pushed out (the map is bounded by the text it holds).
  const idsByRequest = new LRUCache<string, string>({ maxSize: 4 * 1024 * 1024, sizeCalculation: (id, text) => text.length + id.length + 64 });
  const NOT_REPLAYABLE = '';
  const operationIdOf = (request: GraphQLRequestShape): string | null => {
    const bodyText = request.body && request.body.length <= MAX_REMEMBERED_BODY ? request.body.toString('latin1') : request.body ? null : '';
    const text = bodyText === null ? null : `${request.method}\u0000${request.contentType ?? ''}\u0000${request.accept ?? ''}\u0000${request.search}\u0000${bodyText}`;
    const known = text === null ? undefined : idsByRequest.get(text);
    if (known !== undefined) return known === NOT_REPLAYABLE ? null : known;
    const operation = operationKeyAndHash(request, documentKey);
    let id: string | undefined = NOT_REPLAYABLE;
    if (operation !== null) {
      // An operation that carries a persisted-query hash (alone, or with its document) carries
      // the (encoded) hash in its id, `#hash#digest`, so that its stored answer can keep the hash
      // without the body being read again.
      const byHash = operation.hash !== null ? `#${operation.hash}#` : '';
      id = byHash + digest(operation.key);
    }
    if (text !== null) idsByRequest.set(text, id);
    return id === NOT_REPLAYABLE ? null : id;
  };

  /** The operation id of a key (`tokenKey`, NUL, operation id): the part every token shares. */
  const operationIdIn = (key: string): string => key.slice(key.indexOf('\u0000') + 1);

  // A request reaches lookup and then (on a miss) store: its key and the drop count it began
  // with ride on its scope rather than in a WeakMap, which costs more per request.
  const keyOf = (request: GraphQLRequestShape, scope: RequestScope): string | null => {
    const memo = scope as ScopeNotes;
    if (memo[KEY] !== undefined) return memo[KEY];
    const id = scope.tokenKey ? operationIdOf(request) : null;
    const key = id === null ? null : `${scope.tokenKey}\u0000${id}`;
    memo[KEY] = key;
    return key;
  };

  const forget = (tokenKey: string, key: string) => {
    entries.delete(key);
    // Already gone with the entry, unless lru-cache dropped a stale one without telling.
    ledger.remove(tokenKey, key);
  };
  const forgetAnswersOf = (tokenKey: string) => {
    for (const key of ledger.keysOf(tokenKey)) forget(tokenKey, key);
  };

  /** Whether a request carried a persisted-query hash that finds no document now. */
  const lostDocument = (persistedHash: string | undefined): boolean =>
    persistedHash !== undefined && options.resolvesPersistedHash !== undefined && !options.resolvesPersistedHash(persistedHash);

  // Identical requests of one token arriving together (a burst of tabs, a client retrying, the
  // widgets of one page) wait on the first one's answer instead of each running the pipeline:
  // REST reads are shared anyway, and this shares the execution too. Bounded by the requests in flight.
  const flights = new Map<string, Flight>();
  const settle = (scope: RequestScope, answer: StoredResponse | null) => {
    const memo = scope as ScopeNotes;
    const flight = memo[LEADS];
    if (!flight) return;
    memo[LEADS] = undefined;
    if (flights.get(flight.key) === flight) flights.delete(flight.key);
    flight.settle?.(answer);
  };

  return {
    enabled,
    lookup(request, scope) {
      if (!enabled || !scope.token) return undefined;
      (scope as ScopeNotes)[DROPS] = drops;
      if (scope.noCache) return undefined;
      const key = keyOf(request, scope);
      if (key === null) return undefined;
      const entry = entries.get(key);
      if (!entry || entry.freshUntil <= clock.now()) return undefined;
      if (lostDocument(entry.persistedHash)) return undefined;
      if (options.tokenReplayable && !options.tokenReplayable(scope.tokenKey)) return undefined;
      // Hashed on the first replay: most stored answers (every varied query) are never replayed.
      entry.etag ??= etagFor(entry.body);
      // Most recently used last in its token's order, so the token's share drops what it replays least.
      ledger.touch(scope.tokenKey, key);
      return entry as CachedResponse;
    },
    join(request, scope) {
      // A request for a refresh wants an answer built after it arrived. (A token due a check with
      // Katapult may wait: the answer is built now, by a request that starts that check, as this
      // one's own run would be.)
      if (!enabled || !scope.token || scope.noCache) return undefined;
      const key = keyOf(request, scope);
      if (key === null) return undefined;
      const memo = scope as ScopeNotes;
      const flight = flights.get(key);
      if (!flight) {
        const lead: Flight = { key, deadline: scope.deadline };
        flights.set(key, lead);
        memo[LEADS] = lead;
        return undefined;
      }
      // A request that waits gives up the time between the two deadlines (with the same timeout,
      // the moments between their arrivals): when the first one's calls are refused at its
      // deadline, this one gets null and starts again, where its own run would have kept those
      // calls alive until its own deadline.
      if (flight.deadline > scope.deadline) return undefined;
      flight.answer ??= new Promise((resolve) => (flight.settle = resolve));
      return flight.answer.then((answer) => {
        // The answer was judged against drops since the building request began, before this one.
        if (!answer || answer.freshUntil <= clock.now()) return null;
        answer.etag ??= etagFor(answer.body);
        return answer as CachedResponse;
      });
    },
    operationOf(request, scope) {
      const key = keyOf(request, scope);
      if (key === null) return null;
      const id = operationIdIn(key);
      return lostDocument(persistedHashIn(id)) ? null : id;
    },
    release: (scope) => settle(scope, null),
    store(request, scope, response) {
      // Requests waiting on this one get its answer when `replayable` passes it, stored or not.
      let shared: StoredResponse | null = null;
      try {
        shared = replayable(request, scope, response);
      } finally {
        settle(scope, shared);
      }
      if (shared === null) return;
      const key = keyOf(request, scope)!;
      const size = sizeOf(shared, key);
      if (size > maxTokenBytes) return;
      // Stored at its second clean answer, not its first. Most operations that come once never
      // come again (a list paged through, a search, a selection built by a form), and storing
      // each kept its bytes alive until newer ones pushed them out of the token's share: under a
      // stream of them that cost 5 to 8 % of the gateway's throughput (mostly GC), and pushed out
      // answers that do repeat. An operation that repeats is stored one request later.
      if (!seenBefore(scope.tokenKey, key)) return;
      // The answer it replaces (if any) goes first, then the token's least recently used until this one fits.
      forget(scope.tokenKey, key);
      const answer = shared;
      ledger.admit(scope.tokenKey, key, size, maxTokenBytes, (oldest) => forget(scope.tokenKey, oldest), () => entries.set(key, answer, { ttl: answer.freshUntil - clock.now() }).peek(key) === answer);
    },
    purgeToken: dropAnswersOf,
    dropToken: dropAnswersOf,
    stats: () => ({ entries: entries.size, bytes: entries.calculatedSize, tokens: ledger.tokens }),
  };

  /** The answer as it would be replayed, or null when it must not be (see the contract above). */
  function replayable(request: GraphQLRequestShape, scope: RequestScope, response: { status: number; contentType: string; body: Buffer; operationName?: string | null }): StoredResponse | null {
    if (!enabled || !scope.token || response.status !== 200) return null;
    const stats = scope.stats;
    if (stats.uncacheable || !Number.isFinite(stats.freshUntil) || stats.freshUntil <= clock.now()) return null;
    const began = (scope as ScopeNotes)[DROPS] ?? drops;
    if (forgottenUpTo > began || (droppedAt.get(scope.tokenKey) ?? 0) > began) return null;
    const key = keyOf(request, scope);
    if (key === null) return null;
    // A response with errors is never replayed; the check is on the bytes we would replay.
    if (response.body.includes('"errors"')) return null;
    // Only single JSON answers: an event stream or multipart answer is framed for its request.
    if (!JSON_MEDIA_TYPE.test(response.contentType)) return null;
    const persistedHash = persistedHashIn(operationIdIn(key));
    // Replayed only while the hash finds its document (see lookup): one that does not now (no
    // APQ, or a document allowed by its text only) would hold the token's share for nothing.
    if (lostDocument(persistedHash)) return null;
    return { tokenKey: scope.tokenKey, body: response.body, operationName: response.operationName ?? null, contentType: response.contentType, etag: undefined, freshUntil: stats.freshUntil, persistedHash };
  }
}

/** The persisted-query hash an operation id carries (`#hash#digest`), if any. */
function persistedHashIn(id: string): string | undefined {
  return id.startsWith('#') ? decodeURIComponent(id.slice(1, id.indexOf('#', 1))) : undefined;
}

export function shapeOf(input: GraphQLRequestInput): GraphQLRequestShape {
  const accept = input.headers.accept;
  return {
    method: input.method,
    search: input.search,
    body: input.body,
    accept: Array.isArray(accept) ? accept.join(',') : (accept ?? null),
    contentType: input.headers['content-type'] ?? null,
  };
}

/** Connects a response cache to the HTTP edge: answer hits (and identical requests in flight) before yoga, offer yoga's answers for storing. */
export function createFastPathHooks(cache: ResponseCache): { fastPath?: FastPath; onGraphQLResult?: OnGraphQLResult; onGraphQLEnd?: OnGraphQLEnd } {
  if (!cache.enabled) return {};
  const answer = (input: GraphQLRequestInput, hit: CachedResponse): GraphQLResponseOutput => {
    input.scope.stats.hits++;
    // ETags are for GET (HTTP caches revalidate GETs); a POST answer carries none, stored or not.
    const headers: Record<string, string> = { 'content-type': hit.contentType };
    if (input.method === 'GET' || input.method === 'HEAD') headers.etag = hit.etag;
    return {
      status: 200,
      headers,
      body: hit.body,
      operationName: hit.operationName,
      freshUntil: hit.freshUntil,
    };
  };
  return {
    fastPath(input) {
      const shape = shapeOf(input);
      const hit = cache.lookup(shape, input.scope);
      if (hit) return answer(input, hit);
      const joined = cache.join(shape, input.scope);
      return joined ? joined.then((shared) => (shared ? answer(input, shared) : null)) : null;
    },
    onGraphQLResult({ request, status, headers, body, operationName }) {
      cache.store(shapeOf(request), request.scope, { status, contentType: headers['content-type'] ?? '', body, operationName });
    },
    onGraphQLEnd(request) {
      cache.release(request.scope);
    },
  };
}
