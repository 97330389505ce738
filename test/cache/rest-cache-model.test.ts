import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRestCache, DEFAULT_TTL_MS, type CacheRead, type CacheStatus, type LoadContext, type ResourceKind } from '../../src/cache/index.js';
import { ENTRY_OVERHEAD_BYTES, KEY_BYTES_IN_OVERHEAD } from '../../src/cache/rest-cache.js';
import { keptCopy, keptCopyBytes, RateLimitedError, UpstreamApiError, UpstreamCancelledError, UpstreamNetworkError } from '../../src/upstream/errors.js';
import type { UpstreamResult } from '../../src/upstream/http.js';
import { createFakeClock, FAKE_EPOCH, type FakeClock } from '../helpers/fake-clock.js';
import { keyOf, replayOf, resultOf, strictOptions } from './fixtures.js';

/**
 * Random interleavings of reads, answers, failures, cancellations, purges and the passing of
 * time, run against the REST cache and against a small model of what the cache promises (the
 * README's cache policy and the cache's own doc comments): which read is served from which
 * answer, which read reaches Katapult, and which entries are held and what they are charged.
 * The one-case tests beside this file pin each rule down; this one looks for orders of events
 * none of them thought of. A few rules are checked without the model as well, so that they
 * also hold where the model does not follow the cache (token re-checks): no token is served
 * another's answer, nothing is served as fresh past its freshness, and nothing a token held
 * before a purge or a refusal of the token is served to it from the cache afterwards.
 */

const SEED = 20_261_208;

// Short TTLs of three different lengths, so that advances in steps of whole seconds land on
// every edge: fresh, stale-while-revalidate, stale-if-error and the store's own expiry.
const TTL_MS: Record<ResourceKind, number> = { ...DEFAULT_TTL_MS, vm: 2_000, vmList: 2_000, organizations: 6_000, zones: 60_000 };

// As long as HMACs, so the key-length charge (past KEY_BYTES_IN_OVERHEAD) comes into play.
const TOKENS = ['a', 'b', 'c'].map((letter) => letter.repeat(64));
const TARGETS: { url: string; kind: ResourceKind }[] = [
  { url: '/virtual_machines/vm_1', kind: 'vm' },
  { url: '/virtual_machines?page=1&per_page=200', kind: 'vmList' },
  { url: '/organizations', kind: 'organizations' },
  { url: '/zones', kind: 'zones' },
  { url: `/virtual_machines?annotations%5B%5D%5Bkey%5D=${'k'.repeat(90)}&page=1`, kind: 'vmList' },
];

interface Failure {
  make(): unknown;
  /** Says nothing about the data: a kept entry may stand in for it (stale-if-error). */
  staleable: boolean;
  /** A refusal of the token itself: the token is purged and the refusal remembered. */
  refusesToken: boolean;
  /** A lookup that found nothing: remembered briefly for that URL. */
  notFound: boolean;
  /** Katapult's answer about the resource: the copy kept from before is dropped. */
  refusesResource: boolean;
}

const FAILURES: Failure[] = [
  { make: () => new UpstreamApiError(503, 'service_unavailable', 'down', {}), staleable: true, refusesToken: false, notFound: false, refusesResource: false },
  { make: () => new UpstreamApiError(500, 'internal_server_error', 'oops', {}), staleable: true, refusesToken: false, notFound: false, refusesResource: false },
  { make: () => new UpstreamNetworkError('ECONNRESET'), staleable: true, refusesToken: false, notFound: false, refusesResource: false },
  { make: () => new UpstreamApiError(429, 'rate_limit_reached', 'slow down', {}), staleable: true, refusesToken: false, notFound: false, refusesResource: false },
  { make: () => new RateLimitedError(3, 'budget spent'), staleable: true, refusesToken: false, notFound: false, refusesResource: false },
  { make: () => new UpstreamApiError(403, 'invalid_api_token', 'not valid', {}), staleable: false, refusesToken: true, notFound: false, refusesResource: false },
  { make: () => new UpstreamApiError(401, 'unauthorized_network_for_api_token', 'not from here', {}), staleable: false, refusesToken: true, notFound: false, refusesResource: false },
  { make: () => new UpstreamApiError(403, 'permission_denied', 'no', {}), staleable: false, refusesToken: false, notFound: false, refusesResource: true },
  { make: () => new UpstreamApiError(404, 'virtual_machine_not_found', 'gone', {}), staleable: false, refusesToken: false, notFound: true, refusesResource: true },
  { make: () => new UpstreamApiError(404, 'route_not_found', 'no route', {}), staleable: false, refusesToken: false, notFound: false, refusesResource: true },
];

/** `fill`: a body whose charge is that share of the token's bound exactly (the edges of making room); 0 for `size` as given. */
type Outcome = { ok: true; size: number; fill: number } | { ok: false; failure: number };

type Op =
  | { type: 'fetch'; token: number; target: number; noCache: boolean; abortable: boolean; copies: number }
  | { type: 'peek'; token: number; target: number }
  | { type: 'staleIfError'; token: number; target: number }
  | { type: 'answer'; pick: number; outcome: Outcome }
  | { type: 'abort'; pick: number }
  | { type: 'advance'; ms: number }
  /** Moves time to an edge (give or take 1 ms): where the newest answer for a key stops being fresh, or a stale window ends, or the token's re-check period. */
  | { type: 'edge'; token: number; target: number; window: 'fresh' | 'revalidate' | 'error' | 'notFound' | 'recheck'; offset: number; then: 'nothing' | 'fetch' | 'fetch and bypass' | 'peek' | 'staleIfError' }
  | { type: 'purge'; token: number };

const tokenArb = fc.integer({ min: 0, max: TOKENS.length - 1 });
const targetArb = fc.integer({ min: 0, max: TARGETS.length - 1 });
const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ ok: fc.constant(true as const), size: fc.integer({ min: 0, max: 2_400 }), fill: fc.constantFrom(0, 0, 0, 0.25, 0.5, 1) }),
  },
  { weight: 2, arbitrary: fc.record({ ok: fc.constant(false as const), failure: fc.integer({ min: 0, max: FAILURES.length - 1 }) }) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      type: fc.constant('fetch' as const),
      token: tokenArb,
      target: targetArb,
      noCache: fc.integer({ min: 0, max: 5 }).map((roll) => roll === 0),
      abortable: fc.boolean(),
      copies: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 4 }) }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('peek' as const), token: tokenArb, target: targetArb }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('staleIfError' as const), token: tokenArb, target: targetArb }) },
  { weight: 12, arbitrary: fc.record({ type: fc.constant('answer' as const), pick: fc.nat(), outcome: outcomeArb }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('abort' as const), pick: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('advance' as const),
      ms: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(1, 500, 1_000, 1_500, 2_000, 3_000, 4_000, 6_000, 10_000, 12_000, 60_000) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 5_000 }) },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('edge' as const),
      token: tokenArb,
      target: targetArb,
      window: fc.constantFrom('fresh' as const, 'revalidate' as const, 'error' as const, 'notFound' as const, 'recheck' as const),
      offset: fc.constantFrom(-1, 0, 0, 1),
      then: fc.constantFrom('nothing' as const, 'fetch' as const, 'fetch and bypass' as const, 'peek' as const, 'staleIfError' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('purge' as const), token: tokenArb }) },
);

interface Settings {
  maxBytes: number;
  perTokenMaxBytes: number;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  notFoundTtlMs: number;
  invalidTokenTtlMs: number;
  tokenRecheckMs: number;
}

const settingsArb = (tokenRecheckMs: number): fc.Arbitrary<Settings> =>
  fc
    .record({
      maxBytes: fc.constantFrom(5_000, 9_000, 20_000),
      share: fc.constantFrom(0.3, 0.5, 1),
      staleWhileRevalidateMs: fc.constantFrom(0, 3_000, 8_000),
      staleIfErrorMs: fc.constantFrom(0, 10_000),
      notFoundTtlMs: fc.constantFrom(0, 1_500),
      invalidTokenTtlMs: fc.constantFrom(0, 4_000),
    })
    .map(({ share, ...rest }) => ({ ...rest, perTokenMaxBytes: Math.floor(rest.maxBytes * share), tokenRecheckMs }));

interface Body {
  owner: string;
  url: string;
  version: number;
  pad: string;
}

interface Call {
  id: number;
  /** When the call was made: the answer says Katapult accepted the token then (the cache counts its re-check period from here). */
  sentAt: number;
  token: string;
  url: string;
  context: LoadContext;
  open: boolean;
  resolve(result: UpstreamResult<Body>): void;
  reject(error: unknown): void;
}

type Expectation = { ok: true; status: CacheStatus; version: number; freshUntil: number } | { ok: false; matches(error: unknown): boolean; what: string };

interface Read {
  token: string;
  url: string;
  startedAt: number;
  /** The newest call of the token's that a purge (or a refusal of the token) came after, when this read began. */
  floor: number;
  controller?: AbortController;
  outcome?: { ok: true; read: CacheRead<Body> } | { ok: false; error: unknown };
  expected?: Expectation;
  checked: boolean;
}

// ---- The model -------------------------------------------------------------------------------

interface ModelEntry {
  token: string;
  storeKey: string;
  type: 'value' | 'not-found';
  version: number;
  error?: UpstreamApiError;
  charge: number;
  /** When it was stored, and for how long the store keeps it (it drops it once strictly older). */
  storedAt: number;
  keepMs: number;
  freshUntil: number;
}

interface ModelFlight {
  id: number;
  token: string;
  url: string;
  kind: ResourceKind;
  storeKey: string;
  storable: boolean;
  keepAlive: boolean;
  /** Waiters not yet gone (abortable or not); the load is given up when the last one leaves. */
  waiting: number;
  abandoned: boolean;
  waiters: { read: Read; status: CacheStatus }[];
}

const storeKeyOf = (token: string, url: string) => `${token}\n${url}`;
const keyExcess = (storeKey: string) => Math.max(0, storeKey.length - KEY_BYTES_IN_OVERHEAD);

function createModel(settings: Settings, now: () => number) {
  /** Every held entry, least recently used first (the store's own order). */
  const store = new Map<string, ModelEntry>();
  /** Each token's held entries, least recently used first (the order its share is made room in). */
  const byToken = new Map<string, Map<string, number>>();
  const flights = new Map<string, ModelFlight>();
  const flightsById = new Map<number, ModelFlight>();
  const refusals = new Map<string, { until: number; error: UpstreamApiError }>();
  const staleWindowMs = Math.max(settings.staleWhileRevalidateMs, settings.staleIfErrorMs);

  const removeKey = (storeKey: string) => {
    const entry = store.get(storeKey);
    if (!entry) return;
    store.delete(storeKey);
    const mine = byToken.get(entry.token)!;
    mine.delete(storeKey);
    if (mine.size === 0) byToken.delete(entry.token);
  };
  const totalBytes = () => [...store.values()].reduce((sum, entry) => sum + entry.charge, 0);
  const bytesOf = (token: string) => [...(byToken.get(token)?.values() ?? [])].reduce((sum, charge) => sum + charge, 0);

  const lookup = (storeKey: string): ModelEntry | undefined => {
    const entry = store.get(storeKey);
    if (!entry) return undefined;
    if (now() - entry.storedAt > entry.keepMs) {
      removeKey(storeKey);
      return undefined;
    }
    store.delete(storeKey);
    store.set(storeKey, entry);
    const mine = byToken.get(entry.token)!;
    mine.delete(storeKey);
    mine.set(storeKey, entry.charge);
    return entry;
  };
  /** What the store still holds under the key (without touching it), as long as it has not expired there. */
  const held = (storeKey: string) => {
    const entry = store.get(storeKey);
    return entry && now() - entry.storedAt <= entry.keepMs ? entry : undefined;
  };

  const put = (entry: ModelEntry) => {
    const { token, storeKey, charge } = entry;
    if (charge > settings.perTokenMaxBytes) {
      removeKey(storeKey);
      return;
    }
    // Room within the token's share, out of its own least recently used entries.
    const replaced = byToken.get(token)?.get(storeKey) ?? 0;
    for (const other of [...(byToken.get(token)?.keys() ?? [])]) {
      if (bytesOf(token) - replaced + charge <= settings.perTokenMaxBytes) break;
      if (other !== storeKey) removeKey(other);
    }
    // Then room within the whole store, out of everyone's least recently used entries.
    removeKey(storeKey);
    while (totalBytes() > settings.maxBytes - charge) removeKey(store.keys().next().value!);
    store.set(storeKey, entry);
    if (!byToken.has(token)) byToken.set(token, new Map());
    byToken.get(token)!.set(storeKey, charge);
  };

  const refusalOf = (token: string) => {
    const refusal = refusals.get(token);
    return refusal && now() < refusal.until ? refusal : undefined;
  };

  const purge = (token: string) => {
    for (const storeKey of [...(byToken.get(token)?.keys() ?? [])]) removeKey(storeKey);
    for (const [storeKey, flight] of flights) {
      if (flight.token !== token) continue;
      flight.storable = false;
      flights.delete(storeKey);
    }
  };

  const launch = (id: number, token: string, url: string, kind: ResourceKind, keepAlive: boolean): ModelFlight => {
    const flight: ModelFlight = { id, token, url, kind, storeKey: storeKeyOf(token, url), storable: true, keepAlive, waiting: 0, abandoned: false, waiters: [] };
    flights.set(flight.storeKey, flight);
    flightsById.set(id, flight);
    return flight;
  };

  const staleForError = (storeKey: string) => {
    if (settings.staleIfErrorMs <= 0) return undefined;
    const entry = lookup(storeKey);
    return entry?.type === 'value' && now() < entry.freshUntil + settings.staleIfErrorMs ? entry : undefined;
  };

  return {
    store,
    byToken,
    flights,
    totalBytes,
    bytesOf,
    refusalOf,
    purge,

    /** A `fetch`: what it is answered with now, or the flight it waits on; `nextCall` is the id an upstream call would get. */
    fetch(read: Read, kind: ResourceKind, noCache: boolean, nextCall: number): { calls: number } {
      const { token, url } = read;
      const refusal = refusalOf(token);
      if (refusal) {
        read.expected = { ok: false, matches: replayOf(refusal.error), what: `the remembered refusal of ${token.slice(0, 1)}` };
        return { calls: 0 };
      }
      const storeKey = storeKeyOf(token, url);
      const entry = noCache ? undefined : lookup(storeKey);
      const t = now();
      if (entry?.type === 'not-found' && t < entry.freshUntil) {
        read.expected = { ok: false, matches: replayOf(entry.error!), what: 'the remembered not-found' };
        return { calls: 0 };
      }
      if (entry?.type === 'value') {
        if (t < entry.freshUntil) {
          read.expected = { ok: true, status: 'hit', version: entry.version, freshUntil: entry.freshUntil };
          return { calls: 0 };
        }
        if (t < entry.freshUntil + settings.staleWhileRevalidateMs) {
          let calls = 0;
          if (!flights.has(storeKey)) {
            launch(nextCall, token, url, kind, true);
            calls = 1;
          }
          read.expected = { ok: true, status: 'stale', version: entry.version, freshUntil: entry.freshUntil };
          return { calls };
        }
      }
      const joined = flights.get(storeKey);
      const flight = joined ?? launch(nextCall, token, url, kind, false);
      flight.waiting++;
      flight.waiters.push({ read, status: joined ? 'coalesced' : 'miss' });
      return { calls: joined ? 0 : 1 };
    },

    peek(token: string, url: string): ModelEntry | undefined {
      if (refusalOf(token)) return undefined;
      const entry = lookup(storeKeyOf(token, url));
      return entry?.type === 'value' && now() < entry.freshUntil ? entry : undefined;
    },

    staleIfError(token: string, url: string): ModelEntry | undefined {
      if (refusalOf(token)) return undefined;
      return staleForError(storeKeyOf(token, url));
    },

    /** A waiter went away: rejected at once; the load is given up once nobody waits for it (unless it is a refresh). Returns the loads given up. */
    leave(read: Read): number[] {
      const abandoned: number[] = [];
      read.expected = { ok: false, matches: (error) => error instanceof UpstreamCancelledError, what: 'a cancellation' };
      for (const flight of flightsById.values()) {
        const index = flight.waiters.findIndex((waiter) => waiter.read === read);
        if (index < 0) continue;
        flight.waiters.splice(index, 1);
        flight.waiting--;
        if (flight.waiting === 0 && !flight.keepAlive && !flight.abandoned) {
          flight.abandoned = true;
          flight.storable = false;
          if (flights.get(flight.storeKey) === flight) flights.delete(flight.storeKey);
          abandoned.push(flight.id);
        }
      }
      return abandoned;
    },

    /** The load with this id settled (its call answered, or cancelled because abandoned). */
    settle(id: number, outcome: { ok: true; bytes: number } | { ok: false; error: unknown; failure?: Failure }) {
      const flight = flightsById.get(id);
      if (!flight) return;
      flightsById.delete(id);
      const { token, storeKey } = flight;
      const t = now();
      if (outcome.ok) {
        let kept = false;
        const ttlMs = TTL_MS[flight.kind];
        if (flight.storable && !refusalOf(token)) {
          const charge = outcome.bytes + ENTRY_OVERHEAD_BYTES + keyExcess(storeKey);
          put({ token, storeKey, type: 'value', version: id, charge, storedAt: t, keepMs: Math.ceil(ttlMs + staleWindowMs), freshUntil: t + ttlMs });
          kept = store.get(storeKey)?.version === id;
        }
        if (flights.get(storeKey) === flight) flights.delete(storeKey);
        for (const { read, status } of flight.waiters) read.expected = { ok: true, status, version: id, freshUntil: kept ? t + ttlMs : t };
        return;
      }
      const { error, failure } = outcome;
      if (failure?.refusesToken) {
        if (settings.invalidTokenTtlMs > 0) refusals.set(token, { until: t + settings.invalidTokenTtlMs, error: error as UpstreamApiError });
        purge(token);
      } else if (failure?.notFound && flight.storable && settings.notFoundTtlMs > 0) {
        const kept = keptCopy(error as UpstreamApiError);
        put({
          token,
          storeKey,
          type: 'not-found',
          version: id,
          error: kept,
          charge: ENTRY_OVERHEAD_BYTES + keptCopyBytes(kept) + keyExcess(storeKey),
          storedAt: t,
          keepMs: Math.ceil(settings.notFoundTtlMs),
          freshUntil: t + settings.notFoundTtlMs,
        });
      } else if (failure?.refusesResource && held(storeKey)) {
        removeKey(storeKey);
      }
      if (flights.get(storeKey) === flight) flights.delete(storeKey);
      for (const { read } of flight.waiters) {
        const stale = failure?.staleable ? staleForError(storeKey) : undefined;
        read.expected = stale
          ? { ok: true, status: 'stale-if-error', version: stale.version, freshUntil: stale.freshUntil }
          : { ok: false, matches: (thrown) => thrown === error, what: 'the load\'s own failure' };
      }
    },
  };
}

// ---- The run ---------------------------------------------------------------------------------

function bodyFor(call: Call, size: number): { body: Body; raw: Buffer } {
  const bare = { owner: call.token, url: call.url, version: call.id, pad: '' };
  const room = Math.max(0, size - Buffer.byteLength(JSON.stringify(bare)));
  const body = { ...bare, pad: 'x'.repeat(room) };
  return { body, raw: Buffer.from(JSON.stringify(body)) };
}

/**
 * Runs `ops` against a fresh cache. With `exact`, every read's answer, every upstream call and
 * the store's size are checked against the model; without, only the rules that need no model.
 */
async function run(settings: Settings, ops: Op[], exact: boolean): Promise<void> {
  const clock: FakeClock = createFakeClock();
  // What the metrics are told of the store's size, which must follow every change to it.
  let reported = { bytes: 0, entries: 0 };
  const hooks = { onSize: (bytes: number, entries: number) => void (reported = { bytes, entries }) };
  const cache = createRestCache(strictOptions(clock, { ...settings, ttlMs: TTL_MS, parsedMaxBytes: 8_000, hooks }));
  const model = createModel(settings, () => clock.now());
  const calls: Call[] = [];
  const reads: Read[] = [];
  /** Per token: the last call begun before its latest purge (or refusal); nothing from then may be served from the cache. */
  const purgedUpTo = new Map<string, number>();
  /** Per token: until when its refusal is remembered, known from the answers given, not from the model. */
  const refusedUntil = new Map<string, { until: number; error: UpstreamApiError }>();
  const log: string[] = [];
  const fail = (message: string): never => {
    throw new Error(`${message}\n  after: ${log.slice(-12).join('\n         ')}`);
  };
  // What a read's own continuation finds is thrown from the next check, not left unhandled.
  let violation: unknown;
  const noting = (check: () => void) => {
    try {
      check();
    } catch (error) {
      violation ??= error;
    }
  };

  const load = (token: string, url: string) => (context: LoadContext) =>
    new Promise<UpstreamResult<Body>>((resolve, reject) => {
      const call: Call = { id: calls.length, sentAt: clock.now(), token, url, context, open: true, resolve, reject };
      calls.push(call);
      // As the HTTP client does: a load given up is cancelled.
      context.signal.addEventListener('abort', () => {
        if (!call.open) return;
        call.open = false;
        reject(new UpstreamCancelledError());
      });
    });

  /** The rules any served read must keep, model or not. */
  const checkServed = (read: Read, served: CacheRead<Body>, at: number) => {
    const { value, status } = served;
    if (value.owner !== read.token || value.url !== read.url) fail(`${read.token.slice(0, 1)} ${read.url} was served ${value.owner.slice(0, 1)} ${value.url}`);
    if (status === 'hit' && !(served.freshUntil > at)) fail(`a hit past its freshness (${served.freshUntil} <= ${at})`);
    if (status === 'stale' && !(served.freshUntil <= at && at < served.freshUntil + settings.staleWhileRevalidateMs)) fail(`a stale read outside stale-while-revalidate`);
    // A no-cache read whose load failed may get the entry it skipped, still fresh.
    if (status === 'stale-if-error' && !(at < served.freshUntil + settings.staleIfErrorMs)) fail(`a stale-if-error read past stale-if-error`);
    // Past tokenRecheckMs since Katapult last accepted the token, nothing of its entries is served
    // until it does again, other than in place of a failure (stale-if-error).
    if (settings.tokenRecheckMs > 0 && (status === 'hit' || status === 'stale')) {
      const accepted = acceptedAt.get(read.token);
      if (accepted === undefined || at >= accepted + settings.tokenRecheckMs) fail(`${read.token.slice(0, 1)} was served ${status} at ${at - FAKE_EPOCH}, Katapult last accepting it at ${accepted === undefined ? 'no time since its purge' : accepted - FAKE_EPOCH}`);
    }
    const cutoff = status === 'miss' || status === 'coalesced' ? read.floor : (purgedUpTo.get(read.token) ?? -1);
    if (value.version <= cutoff) fail(`${read.token.slice(0, 1)} was served answer ${value.version} (${status}) from before its purge (after call ${cutoff})`);
  };

  const checkReads = () => {
    if (violation) throw violation;
    for (const read of reads) {
      if (read.checked) continue;
      if (!read.expected) {
        if (!exact) {
          read.checked = read.outcome !== undefined;
          continue;
        }
        if (read.outcome) fail(`${read.token.slice(0, 1)} ${read.url} settled (${JSON.stringify(read.outcome.ok ? read.outcome.read.status : String(read.outcome.error))}) while the model has it waiting`);
        continue;
      }
      const { expected, outcome } = read;
      if (!outcome) return fail(`${read.token.slice(0, 1)} ${read.url} has not settled; the model expected ${JSON.stringify(expected)}`);
      read.checked = true;
      if (expected.ok) {
        if (!outcome.ok) return fail(`${read.token.slice(0, 1)} ${read.url} failed with ${String(outcome.error)}; the model expected ${expected.status} of answer ${expected.version}`);
        const got = outcome.read;
        if (got.status !== expected.status || got.value.version !== expected.version || got.freshUntil !== expected.freshUntil) {
          fail(`${read.token.slice(0, 1)} ${read.url}: got ${got.status} of answer ${got.value.version} fresh until ${got.freshUntil}; the model expected ${expected.status} of answer ${expected.version} fresh until ${expected.freshUntil}`);
        }
      } else if (outcome.ok) {
        fail(`${read.token.slice(0, 1)} ${read.url} got ${outcome.read.status} of answer ${outcome.read.value.version}; the model expected ${expected.what}`);
      } else if (!expected.matches(outcome.error)) {
        fail(`${read.token.slice(0, 1)} ${read.url} failed with ${String(outcome.error)}; the model expected ${expected.what}`);
      }
    }
  };

  const checkStore = () => {
    const stats = cache.stats();
    if (stats.bytes > settings.maxBytes) fail(`holds ${stats.bytes} bytes, over maxBytes ${settings.maxBytes}`);
    if (stats.parsedBytes > 8_000) fail(`parsed copies hold ${stats.parsedBytes} bytes, over their bound`);
    if (reported.bytes !== stats.bytes || reported.entries !== stats.entries) fail(`holds ${stats.entries} entries of ${stats.bytes} bytes, last reported as ${reported.entries} of ${reported.bytes}`);
    if (!exact) return;
    const bytes = model.totalBytes();
    if (stats.bytes !== bytes || stats.entries !== model.store.size || stats.tokens !== model.byToken.size || stats.inFlight !== model.flights.size) {
      fail(`stats ${JSON.stringify(stats)}; the model holds ${model.store.size} entries of ${bytes} bytes for ${model.byToken.size} tokens, ${model.flights.size} loads`);
    }
    for (const token of model.byToken.keys()) {
      if (model.bytesOf(token) > settings.perTokenMaxBytes) fail(`the model lets ${token.slice(0, 1)} hold more than its share`);
    }
  };

  /** Per token: when the latest call Katapult answered with something but a refusal was sent (forgotten at a purge, when the cache forgets it too). */
  const acceptedAt = new Map<string, number>();
  const purged = (token: string) => {
    purgedUpTo.set(token, calls.length - 1);
    acceptedAt.delete(token);
  };
  /** When each key was last answered with something the cache may keep (a body, or a not-found). */
  const answeredAt = new Map<string, number>();

  const issueFetch = (tokenIndex: number, targetIndex: number, noCache: boolean, abortable: boolean): Read => {
    const token = TOKENS[tokenIndex]!;
    const { url, kind } = TARGETS[targetIndex]!;
    const read: Read = { token, url, startedAt: clock.now(), floor: purgedUpTo.get(token) ?? -1, controller: abortable ? new AbortController() : undefined, checked: false };
    reads.push(read);
    const before = calls.length;
    const expectedCalls = exact ? model.fetch(read, kind, noCache, before).calls : 0;
    const promise = cache.fetch<Body>(keyOf(token, url, kind), { load: load(token, url), noCache, signal: read.controller?.signal });
    const made = calls.length - before;
    if (exact && made !== expectedCalls) fail(`${token.slice(0, 1)} ${url} made ${made} upstream calls; the model expected ${expectedCalls}`);
    for (const call of calls.slice(before)) if (call.token !== token || call.url !== url) fail('a load was called for another key');
    const refusal = refusedUntil.get(token);
    if (refusal && clock.now() < refusal.until && made > 0) fail(`${token.slice(0, 1)} reached Katapult while its refusal is remembered`);
    void promise.then(
      (served) => {
        read.outcome = { ok: true, read: served };
        noting(() => checkServed(read, served, clock.now()));
      },
      (error: unknown) => {
        read.outcome = { ok: false, error };
      },
    );
    if (refusal && clock.now() < refusal.until) read.expected ??= { ok: false, matches: replayOf(refusal.error), what: 'the remembered refusal' };
    return read;
  };

  const probe = (type: 'peek' | 'staleIfError', tokenIndex: number, targetIndex: number) => {
    const token = TOKENS[tokenIndex]!;
    const { url, kind } = TARGETS[targetIndex]!;
    const expected = !exact ? undefined : type === 'peek' ? model.peek(token, url) : model.staleIfError(token, url);
    const got = type === 'peek' ? cache.peek<Body>(keyOf(token, url, kind)) : cache.staleIfError<Body>(keyOf(token, url, kind));
    const read: Read = { token, url, startedAt: clock.now(), floor: purgedUpTo.get(token) ?? -1, checked: true };
    if (got) checkServed(read, got, clock.now());
    if (exact && got?.value.version !== expected?.version) fail(`${type} of ${token.slice(0, 1)} ${url} gave answer ${got?.value.version}; the model expected ${expected?.version}`);
  };

  /** The read's caller goes away (a read already answered, or refused at once, is not waiting on anything). */
  const leave = (read: Read) => {
    const open = calls.filter((call) => call.open).map((call) => call.id);
    const abandoned = exact && !read.expected ? model.leave(read) : [];
    read.controller!.abort();
    const cancelled = open.filter((id) => !calls[id]!.open);
    if (exact && cancelled.join() !== abandoned.join()) fail(`loads ${cancelled.join() || 'none'} were given up; the model gave up ${abandoned.join() || 'none'}`);
    for (const id of cancelled) if (exact) model.settle(id, { ok: false, error: new UpstreamCancelledError() });
  };

  for (const op of ops) {
    log.push(`@${clock.now() - FAKE_EPOCH} ${JSON.stringify(op)}`);
    switch (op.type) {
      case 'fetch':
        for (let copy = 0; copy < op.copies; copy++) issueFetch(op.token, op.target, op.noCache, op.abortable);
        break;
      case 'peek':
      case 'staleIfError':
        probe(op.type, op.token, op.target);
        break;
      case 'answer': {
        const open = calls.filter((call) => call.open);
        const call = open[op.pick % Math.max(1, open.length)];
        if (!call) break;
        call.open = false;
        if (op.outcome.ok || FAILURES[op.outcome.failure]!.notFound) {
          answeredAt.set(storeKeyOf(call.token, call.url), clock.now());
          acceptedAt.set(call.token, Math.max(acceptedAt.get(call.token) ?? call.sentAt, call.sentAt));
        }
        if (op.outcome.ok) {
          const { fill } = op.outcome;
          const size = fill > 0 ? Math.floor(settings.perTokenMaxBytes * fill) - ENTRY_OVERHEAD_BYTES - keyExcess(storeKeyOf(call.token, call.url)) : op.outcome.size;
          const { body, raw } = bodyFor(call, size);
          if (exact) model.settle(call.id, { ok: true, bytes: raw.length });
          call.resolve({ ...resultOf(body, raw.length), raw, sentAt: call.sentAt });
        } else {
          const failure = FAILURES[op.outcome.failure]!;
          const error = failure.make();
          if (error instanceof UpstreamApiError) error.sentAt = call.sentAt;
          if (failure.refusesToken) {
            purged(call.token);
            if (settings.invalidTokenTtlMs > 0) refusedUntil.set(call.token, { until: clock.now() + settings.invalidTokenTtlMs, error: error as UpstreamApiError });
          }
          if (exact) model.settle(call.id, { ok: false, error, failure });
          call.reject(error);
        }
        break;
      }
      case 'abort': {
        const live = reads.filter((read) => read.controller && !read.outcome && !read.controller.signal.aborted);
        const read = live[op.pick % Math.max(1, live.length)];
        if (read) leave(read);
        break;
      }
      case 'advance':
        await clock.advance(op.ms);
        break;
      case 'edge': {
        const { url, kind } = TARGETS[op.target]!;
        const at = op.window === 'recheck' ? acceptedAt.get(TOKENS[op.token]!) : answeredAt.get(storeKeyOf(TOKENS[op.token]!, url));
        if (at === undefined) break;
        const after = {
          fresh: TTL_MS[kind],
          revalidate: TTL_MS[kind] + settings.staleWhileRevalidateMs,
          error: TTL_MS[kind] + settings.staleIfErrorMs,
          notFound: settings.notFoundTtlMs,
          recheck: settings.tokenRecheckMs,
        }[op.window];
        const to = at + after + op.offset;
        if (to > clock.now()) await clock.advanceTo(to);
        await clock.flush();
        if (op.then === 'fetch' || op.then === 'fetch and bypass') issueFetch(op.token, op.target, false, false);
        // A read that must reach Katapult joins the refresh just started, then goes away.
        if (op.then === 'fetch and bypass') leave(issueFetch(op.token, op.target, true, true));
        if (op.then === 'peek' || op.then === 'staleIfError') probe(op.then, op.token, op.target);
        break;
      }
      case 'purge': {
        const token = TOKENS[op.token]!;
        purged(token);
        if (exact) model.purge(token);
        cache.purgeToken(token);
        break;
      }
    }
    await clock.flush();
    checkReads();
    checkStore();
  }

  // Every load answered (a read that waited for its token's check may make its own call then),
  // then every token purged: nothing is left, bytes included.
  for (let round = 0; round < 5; round++) {
    for (const call of calls.filter((open) => open.open)) {
      call.open = false;
      acceptedAt.set(call.token, Math.max(acceptedAt.get(call.token) ?? call.sentAt, call.sentAt));
      const { body, raw } = bodyFor(call, 100);
      if (exact) model.settle(call.id, { ok: true, bytes: raw.length });
      call.resolve({ ...resultOf(body, raw.length), raw, sentAt: call.sentAt });
    }
    await clock.flush();
    checkReads();
    checkStore();
  }
  for (const token of TOKENS) {
    purged(token);
    if (exact) model.purge(token);
    cache.purgeToken(token);
  }
  checkStore();
  expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0, parsedBytes: 0, tokens: 0, inFlight: 0 });
  const waiting = reads.filter((read) => read.outcome === undefined);
  if (waiting.length > 0) fail(`${waiting.length} reads never settled, the first of ${waiting[0]!.token.slice(0, 1)} ${waiting[0]!.url} begun at ${waiting[0]!.startedAt - FAKE_EPOCH}`);
}

const opsArb = fc.array(opArb, { minLength: 40, maxLength: 160, size: 'max' });

describe('the REST cache under random interleavings', () => {
  it('answers every read, makes every upstream call and holds every byte as the model says', async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb(0), opsArb, (settings, ops) => run(settings, ops, true)),
      { numRuns: 200, seed: SEED },
    );
  });

  it('keeps tokens apart, serves nothing past its freshness and nothing from before a purge, with token re-checks on', async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb(5_000), opsArb, (settings, ops) => run(settings, ops, false)),
      { numRuns: 120, seed: SEED },
    );
  });
});
