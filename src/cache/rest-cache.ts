import { LRUCache } from 'lru-cache';
import { keptCopy, keptCopyBytes, UpstreamApiError, UpstreamCancelledError } from '../upstream/errors.js';
import { parseJson, type UpstreamResult } from '../upstream/http.js';
import { canServeStaleOnError, isGatewayRefusal, isInvalidTokenError, isRememberedNotFound } from './failure-policy.js';
import { createSharedDeadline, startFlight, type Flight } from './flight.js';
import { resolveRestCacheOptions, type RestCacheOptions } from './rest-cache-options.js';
import { createTokenLedger } from './token-ledger.js';
import type { CacheFetchOptions, CacheKey, CacheRead, CacheStatus, RestCache } from './types.js';

export { DEFAULT_TTL_MS, type ResourceKind } from './ttl-policy.js';
export type { RestCacheOptions } from './rest-cache-options.js';
export type * from './types.js';

/** Charged on top of every body, and all a remembered not-found costs: record, LRU slots and a key of up to KEY_BYTES_IN_OVERHEAD. */
export const ENTRY_OVERHEAD_BYTES = 256;

/**
 * Key characters ENTRY_OVERHEAD_BYTES already pays for (the token's 64-character HMAC and a
 * short URL). A key is as long as its URL, which the client's arguments (annotation filters)
 * make up to 4 KB: what is longer is charged on top, or such keys could hold many times the
 * memory they are charged for.
 */
export const KEY_BYTES_IN_OVERHEAD = 128;
const keyExcess = (storeKey: string) => Math.max(0, storeKey.length - KEY_BYTES_IN_OVERHEAD);

/**
 * Heap bytes a parsed JSON body takes per byte of its text (heap snapshots of VM pages: about
 * 2.1; strings, objects and arrays are not shared between copies). Parsed copies are charged
 * this, so the parsed tier's bound is a bound on memory rather than on text.
 */
export const PARSED_BODY_HEAP_FACTOR = 2;

/** Tokens remembered as invalid at once; a flood of bogus tokens only pushes out older marks. */
const INVALID_TOKENS_MAX = 10_000;

/**
 * How long before a token falls due its check (`tokenRecheckMs`) a read of it starts that check
 * in the background: half the period. A token asking at least once a period then never waits
 * for its check (a read at an age under half the period is followed by one at an age under the
 * period), at the cost of up to two checks a period instead of one.
 */
export const checkLeadFor = (tokenRecheckMs: number): number => tokenRecheckMs / 2;

type EvictReason = 'size' | 'token-share' | 'purge' | 'expired';

/**
 * A kept answer. With `raw` (what Katapult sent), `value` is unused: the parsed copy lives in
 * the parsed tier and is rebuilt from `raw` when it has gone. Without it (a loader that had no
 * bytes to give), `value` is the answer itself and `charge` is what the loader said it weighs.
 */
type Entry =
  | { type: 'value'; tokenKey: string; raw: Buffer | null; value: unknown; bytes: number; freshUntil: number; charge: number }
  | { type: 'not-found'; tokenKey: string; error: UpstreamApiError; freshUntil: number; charge: number };

type Loaded = Omit<CacheRead<unknown>, 'status'>;

interface InFlight {
  tokenKey: string;
  url: string;
  flight: Flight<Loaded>;
  /** Cleared when the token is purged (or the cache cleared) mid-load, so old data is not put back. */
  storable: boolean;
  deadline: ReturnType<typeof createSharedDeadline>;
  /** Started as a background refresh, and no caller waiting for it has joined yet. */
  background: boolean;
  /** Told when a waiting caller joins a background load. */
  onForeground: Set<() => void>;
}

/** The token's HMAC and the URL, never the raw token; a newline cannot occur in either. */
const storeKeyOf = (key: CacheKey): string => `${key.tokenKey}\n${key.url}`;

/** Observers run inside lru-cache's own bookkeeping: one that throws must not leave the store half-updated. */
function safely(notify: () => void): void {
  try {
    notify();
  } catch {
    // An observer's failure is the observer's problem; the cache stays consistent.
  }
}


/**
 * A per-token store of Katapult REST responses (list pages and single lookups), shared by
 * every GraphQL selection that needs the same page.
 *
 * Keys are the token's HMAC plus the canonical URL: two tokens never share an entry, even for
 * the same URL, because what Katapult returns depends on who asks. An entry is fresh for its
 * kind's TTL; after that it is still kept for the longer of the two stale windows, during which
 * it may be served while a background refresh runs (stale-while-revalidate) or in place of a
 * failure that says nothing about the data (stale-if-error). Errors are not kept, except two
 * answers worth not repeating: a `*_not_found` lookup (briefly, per URL) and an invalid token
 * (per token, after dropping everything the token had).
 *
 * Space is bounded twice: by total bytes (plain LRU across tokens) and by a per-token share,
 * filled out of the token's own least recently used entries, so one busy dashboard cannot push
 * every other user's entries out.
 *
 * Bodies are kept as the bytes Katapult sent, outside the JS heap: exact to account for,
 * nothing for the garbage collector to trace, and about half the memory of the parsed objects.
 * Reads want objects, so a second, smaller LRU (`parsedMaxBytes`) keeps parsed copies of what
 * was read recently; a read it misses parses the bytes once and puts the copy back. A parsed
 * copy never outlives its entry: dropping an entry, for any reason, drops its copy.
 */
export function createRestCache(options: RestCacheOptions): RestCache {
  const settings = resolveRestCacheOptions(options);
  const { clock } = options;
  const hooks = options.hooks ?? {};
  const ledger = createTokenLedger();
  const flights = new Map<string, InFlight>();
  // lru-cache reports explicit deletes only as 'delete'; this says which of ours it was.
  let deleteReason: EvictReason | undefined;
  let sizeChanged = false;

  // A copy names the bytes it was parsed from, so it can only ever be served for that entry
  // (even if it was put back after its entry had gone, and a newer entry took the key).
  const parsed = new LRUCache<string, { raw: Buffer; value: unknown }>({ maxSize: settings.parsedMaxBytes, sizeCalculation: () => 1 });
  const keepParsed = (storeKey: string, raw: Buffer, value: unknown) => {
    const size = Math.max(1, raw.length * PARSED_BODY_HEAP_FACTOR + keyExcess(storeKey));
    if (size <= settings.parsedMaxBytes) parsed.set(storeKey, { raw, value }, { size });
  };
  const readOf = <T>(storeKey: string, entry: Extract<Entry, { type: 'value' }>, status: CacheStatus): CacheRead<T> => {
    let value = entry.value;
    if (entry.raw) {
      const copy = parsed.get(storeKey);
      if (copy?.raw === entry.raw) value = copy.value;
      else {
        value = parseJson(entry.raw);
        if (store.peek(storeKey) === entry) keepParsed(storeKey, entry.raw, value);
      }
    }
    return { value: value as T, status, freshUntil: entry.freshUntil, bytes: entry.bytes };
  };

  const store = new LRUCache<string, Entry>({
    maxSize: settings.maxBytes,
    sizeCalculation: (entry) => entry.charge,
    perf: clock,
    ttlResolution: 0,
    dispose(entry, storeKey, reason) {
      parsed.delete(storeKey);
      ledger.remove(entry.tokenKey, storeKey);
      sizeChanged = true;
      const why = reason === 'evict' ? 'size' : reason === 'expire' ? 'expired' : reason === 'delete' ? deleteReason : undefined;
      if (why) safely(() => hooks.onEvict?.(entry.charge, why));
      // Replacements tell this in `supersede`, and a purge has its own hook.
      if ((why === 'size' || why === 'token-share') && entry.freshUntil > clock.now()) safely(() => hooks.onFreshEntryGone?.(entry.tokenKey));
    },
  });

  const invalidTokens =
    settings.invalidTokenTtlMs > 0
      ? new LRUCache<string, { error: UpstreamApiError; until: number }>({
          max: INVALID_TOKENS_MAX,
          ttl: Math.ceil(settings.invalidTokenTtlMs),
          perf: clock,
          ttlResolution: 0,
        })
      : undefined;
  // Checked against `until` (like every other expiry here) rather than lru-cache's inclusive edge.
  const invalidTokenError = (tokenKey: string): UpstreamApiError | undefined => {
    const mark = invalidTokens?.get(tokenKey);
    return mark && clock.now() < mark.until ? mark.error : undefined;
  };

  const reportSize = () => {
    if (!sizeChanged) return;
    sizeChanged = false;
    safely(() => hooks.onSize?.(store.calculatedSize, store.size));
  };

  const remove = (tokenKey: string, storeKey: string, reason: EvictReason | undefined) => {
    deleteReason = reason;
    try {
      store.delete(storeKey);
    } finally {
      deleteReason = undefined;
    }
    ledger.remove(tokenKey, storeKey);
  };

  const lookup = (tokenKey: string, storeKey: string): Entry | undefined => {
    const entry = store.get(storeKey);
    if (entry) ledger.touch(tokenKey, storeKey);
    reportSize();
    return entry;
  };

  /**
   * The entry at `storeKey` is about to be superseded: when it is still fresh, what was built
   * from it is out of date. A refresh of an entry past its freshness changes nothing built from
   * it: that has expired already.
   */
  const supersede = (tokenKey: string, storeKey: string, by?: Entry): Entry | undefined => {
    const replaced = store.peek(storeKey);
    // The same bytes again (a refresh that found nothing changed) leave what was built from them as it was.
    const same = replaced?.type === 'value' && by?.type === 'value' && replaced.raw !== null && by.raw !== null && replaced.raw.equals(by.raw);
    if (replaced && !same && replaced.freshUntil > clock.now()) safely(() => hooks.onFreshEntryGone?.(tokenKey));
    return replaced;
  };

  /**
   * When Katapult accepted the token for an answer (a value or a not-found): no later than when
   * its call was sent (see `UpstreamResult.sentAt`), and no later than now for a load that does
   * not say when it sent its call.
   */
  const acceptedAtOf = (sentAt: number | undefined): number => Math.min(sentAt ?? Number.POSITIVE_INFINITY, clock.now());

  /**
   * Stores an entry, first making room out of the same token's least recently used entries.
   * `acceptedAt`: when Katapult accepted the token for this answer (see `acceptedAtOf`).
   */
  const put = (tokenKey: string, storeKey: string, entry: Entry, ttlMs: number, acceptedAt: number) => {
    supersede(tokenKey, storeKey, entry);
    if (ttlMs <= 0 || entry.charge > settings.perTokenMaxBytes) {
      // The new answer supersedes the kept one even when it cannot be kept itself.
      remove(tokenKey, storeKey, undefined);
    } else {
      const drop = (oldest: string) => remove(tokenKey, oldest, 'token-share');
      const kept = ledger.admit(tokenKey, storeKey, entry.charge, settings.perTokenMaxBytes, drop, () => store.set(storeKey, entry, { ttl: Math.ceil(ttlMs) }).peek(storeKey) === entry);
      // Every entry is an answer of Katapult's to this token (a value, or a not-found): it accepted the token.
      if (kept) ledger.markChecked(tokenKey, acceptedAt);
      sizeChanged = true;
    }
    reportSize();
  };

  const purgeToken = (tokenKey: string) => {
    for (const storeKey of ledger.keysOf(tokenKey)) remove(tokenKey, storeKey, 'purge');
    // Loads begun before the purge are not kept, and no read after it joins them: they may carry
    // what the purge is about (the data of a token found revoked).
    for (const [storeKey, inFlight] of flights) {
      if (inFlight.tokenKey !== tokenKey) continue;
      inFlight.storable = false;
      flights.delete(storeKey);
    }
    // Nor can such a load vouch for the token any more: later reads do not wait on it.
    vouching.delete(tokenKey);
    reportSize();
    safely(() => hooks.onPurgeToken?.(tokenKey));
  };

  const keep = (key: CacheKey, storeKey: string, inFlight: InFlight, result: UpstreamResult<unknown>): Loaded => {
    const bytes = Number.isFinite(result.bytes) && result.bytes > 0 ? Math.ceil(result.bytes) : 0;
    const ttlMs = settings.ttlMs[key.kind];
    const freshUntil = clock.now() + ttlMs;
    let kept = false;
    if (inFlight.storable && !invalidTokenError(key.tokenKey)) {
      const raw = result.raw ?? null;
      const entry: Entry = raw
        ? { type: 'value', tokenKey: key.tokenKey, raw, value: undefined, bytes: raw.length, freshUntil, charge: raw.length + ENTRY_OVERHEAD_BYTES + keyExcess(storeKey) }
        : { type: 'value', tokenKey: key.tokenKey, raw: null, value: result.body, bytes, freshUntil, charge: bytes + ENTRY_OVERHEAD_BYTES + keyExcess(storeKey) };
      // Counted from when the call was sent: Katapult may have accepted the token a whole call's
      // time before its answer came, and the bound is on the time since it last did.
      put(key.tokenKey, storeKey, entry, ttlMs + settings.staleWindowMs, acceptedAtOf(result.sentAt));
      kept = store.peek(storeKey) === entry;
      // The caller has the parsed body in hand: keep it as the parsed copy, if the entry was kept.
      if (raw && kept) keepParsed(storeKey, raw, result.body);
    }
    // An answer nothing keeps (larger than the token's share, or loaded for a token purged
    // meanwhile) is fresh for this request only: what is built from it must not be kept longer.
    return { value: result.body, freshUntil: kept ? freshUntil : clock.now(), bytes };
  };

  const remember = (key: CacheKey, storeKey: string, inFlight: InFlight, error: unknown) => {
    if (isInvalidTokenError(error)) {
      invalidTokens?.set(key.tokenKey, { error: keptCopy(error), until: clock.now() + settings.invalidTokenTtlMs });
      purgeToken(key.tokenKey);
    } else if (isRememberedNotFound(error) && inFlight.storable && settings.notFoundTtlMs > 0) {
      const freshUntil = clock.now() + settings.notFoundTtlMs;
      const kept = keptCopy(error);
      // Katapult accepted the token when it found nothing, as for a value: counted from when the call was sent.
      put(key.tokenKey, storeKey, { type: 'not-found', tokenKey: key.tokenKey, error: kept, freshUntil, charge: ENTRY_OVERHEAD_BYTES + keptCopyBytes(kept) + keyExcess(storeKey) }, settings.notFoundTtlMs, acceptedAtOf(error.sentAt));
    } else if (error instanceof UpstreamApiError && !canServeStaleOnError(error)) {
      // Katapult refused the resource itself (a scope, a suspension, the trash): that answer is
      // about the data, so the copy kept from before must not be served again, fresh or stale,
      // nor anything built from it (a refresh the client asked for would otherwise show the
      // refusal once and the old data on the next request).
      if (supersede(key.tokenKey, storeKey)) {
        remove(key.tokenKey, storeKey, undefined);
        reportSize();
      }
    }
  };

  /**
   * Per token, the load on its way to Katapult whose answer will say whether Katapult still
   * accepts the token: its background check, or the first read made once it was overdue. Its
   * other reads that have entries wait for that one answer instead of each going to Katapult.
   */
  const vouching = new Map<string, InFlight>();

  /** A caller now waits on a background load: it must not wait behind every other token's refreshes. */
  const bringForward = (inFlight: InFlight) => {
    if (!inFlight.background) return;
    inFlight.background = false;
    for (const listener of inFlight.onForeground) safely(listener);
  };

  const launch = (key: CacheKey, storeKey: string, load: CacheFetchOptions<unknown>['load'], background: boolean, deadline?: number, tokenCheck = false, vouches = tokenCheck): InFlight => {
    const inFlight = { tokenKey: key.tokenKey, url: key.url, storable: true, deadline: createSharedDeadline(deadline), background, onForeground: new Set() } as InFlight;
    const onForeground = (listener: () => void) => {
      inFlight.onForeground.add(listener);
      return () => void inFlight.onForeground.delete(listener);
    };
    // Registered before the load starts: a load that throws synchronously unregisters at once.
    flights.set(storeKey, inFlight);
    const unregister = () => {
      if (flights.get(storeKey) === inFlight) flights.delete(storeKey);
    };
    inFlight.flight = startFlight(
      async (signal) => {
        try {
          let result: UpstreamResult<unknown>;
          try {
            result = await load({ signal, background, tokenCheck, deadline: inFlight.deadline, onForeground });
          } catch (error) {
            remember(key, storeKey, inFlight, error);
            throw error;
          }
          return keep(key, storeKey, inFlight, result);
        } finally {
          unregister();
        }
      },
      {
        keepAlive: background,
        onAbandon() {
          // Nobody is left to want this answer, and a new caller must not join an aborted load.
          inFlight.storable = false;
          unregister();
        },
      },
    );
    if (vouches && !vouching.has(key.tokenKey)) {
      vouching.set(key.tokenKey, inFlight);
      void inFlight.flight.outcome.then(() => {
        if (vouching.get(key.tokenKey) === inFlight) vouching.delete(key.tokenKey);
      });
    }
    return inFlight;
  };

  const revalidate = (key: CacheKey, storeKey: string, load: CacheFetchOptions<unknown>['load'], onSettled?: () => void, tokenCheck = false) => {
    if (flights.has(storeKey)) return;
    const { flight } = launch(key, storeKey, load, true, undefined, tokenCheck);
    void flight.outcome.then((outcome) => {
      onSettled?.();
      if (!outcome.ok) safely(() => hooks.onRefreshError?.(outcome.error, key.kind));
    });
  };

  const staleForError = (tokenKey: string, storeKey: string) => {
    if (settings.staleIfErrorMs <= 0) return undefined;
    const entry = lookup(tokenKey, storeKey);
    return entry?.type === 'value' && clock.now() < entry.freshUntil + settings.staleIfErrorMs ? entry : undefined;
  };

  // Counted from when Katapult last accepted the token, not from when a check started: what a
  // request reads while its token's check is on its way is vouched for by nothing newer. A token
  // holding no entry is due too: what was built from its entries (finished responses) may
  // outlive them (evicted), and only a read that reaches Katapult can vouch for it again.
  const tokenCheckAt = (tokenKey: string): number =>
    settings.tokenRecheckMs > 0 ? (ledger.checkedAt(tokenKey) ?? Number.NEGATIVE_INFINITY) + settings.tokenRecheckMs : Number.POSITIVE_INFINITY;
  // A token in use is checked this long before it falls due, in the background while its reads
  // are served, so that one in steady use never waits for its check. Past `tokenCheckAt` nothing
  // of its entries is served until Katapult answers for it (see `fetch`): a token that comes back
  // after an idle spell, or whose check has not come back in time, is not vouched for by anything.
  const checkLeadMs = checkLeadFor(settings.tokenRecheckMs);
  /** Tokens whose background check is on its way: one at a time, however many of their reads come meanwhile. */
  const checking = new Set<string>();
  const tokenOverdue = (tokenKey: string): boolean => clock.now() >= tokenCheckAt(tokenKey);
  /** Whether `fetch` answers from this entry once its token is vouched for: fresh, or a value within stale-while-revalidate. */
  const servedWhenVouched = (entry: Entry, now: number): boolean =>
    now < entry.freshUntil || (entry.type === 'value' && now < entry.freshUntil + settings.staleWhileRevalidateMs);
  const tokenCheckDue = (tokenKey: string): boolean => {
    const now = clock.now();
    const at = tokenCheckAt(tokenKey);
    return now >= at || (!checking.has(tokenKey) && now >= at - checkLeadMs);
  };

  async function fetch<T>(key: CacheKey, fetchOptions: CacheFetchOptions<T>): Promise<CacheRead<T>> {
    const report = (status: CacheStatus) => safely(() => hooks.onRead?.(status, key.kind));
    const invalid = invalidTokenError(key.tokenKey);
    if (invalid) {
      report('negative');
      throw invalid;
    }
    const storeKey = storeKeyOf(key);
    const load = fetchOptions.load as CacheFetchOptions<unknown>['load'];
    const entry = fetchOptions.noCache ? undefined : lookup(key.tokenKey, storeKey);
    const now = clock.now();
    // An overdue token's entries, a remembered not-found's too, are not served as they are: its
    // reads wait for one of them to reach Katapult (below) or go there themselves, as a cold
    // request's do; if Katapult fails, its entries may still stand in (stale-if-error, below).
    const vouched = entry !== undefined && now < tokenCheckAt(key.tokenKey);
    if (entry?.type === 'not-found' && now < entry.freshUntil && vouched) {
      report('negative');
      throw entry.error;
    }
    // An overdue token's read that would be served from its entry waits, while another of its
    // reads is on its way to Katapult, for that answer: it vouches for the token again (then the
    // entry is served) or finds it refused (then the token is purged). A dashboard opened after
    // an idle spell so costs one call to Katapult and not one per read. Any other outcome says
    // nothing of the token: the read is answered as its own call's failure would be, or goes on.
    if (entry !== undefined && !vouched && !flights.has(storeKey) && servedWhenVouched(entry, now)) {
      const check = vouching.get(key.tokenKey);
      if (check !== undefined) {
        check.deadline.extend(fetchOptions.deadline);
        bringForward(check);
        let checked;
        try {
          checked = await check.flight.wait(fetchOptions.signal);
        } catch (error) {
          report('coalesced');
          throw error;
        }
        if (clock.now() < tokenCheckAt(key.tokenKey) || invalidTokenError(key.tokenKey)) return fetch(key, fetchOptions);
        // Katapult itself failed that call (down, overloaded): this read's own call would meet the
        // same, late, and its entry stands in for such a failure (stale-if-error) as it would
        // then. The gateway declining to send that call says nothing of Katapult: the read goes on.
        if (!checked.ok && canServeStaleOnError(checked.error) && !isGatewayRefusal(checked.error)) {
          const stale = staleForError(key.tokenKey, storeKey);
          if (stale?.type === 'value') {
            report('stale-if-error');
            return readOf(storeKey, stale, 'stale-if-error');
          }
        }
      }
    }
    if (entry?.type === 'value' && vouched) {
      if (now < entry.freshUntil) {
        if (tokenCheckDue(key.tokenKey) && !flights.has(storeKey)) {
          // Served as it is; the refresh finds out whether Katapult still accepts the token (an
          // answer marks it accepted, a refusal purges it). Noted as on its way, so the token's
          // other reads do not start more. (A load of this entry already on its way answers for
          // the token itself.) A check that gets no answer (Katapult down, the call never sent)
          // vouches for nothing: the token is due again.
          const tokenKey = key.tokenKey;
          checking.add(tokenKey);
          revalidate(key, storeKey, load, () => checking.delete(tokenKey), true);
        }
        report('hit');
        return readOf(storeKey, entry, 'hit');
      }
      if (now < entry.freshUntil + settings.staleWhileRevalidateMs) {
        revalidate(key, storeKey, load);
        report('stale');
        return readOf(storeKey, entry, 'stale');
      }
    }

    const joined = flights.get(storeKey);
    const status: CacheStatus = joined ? 'coalesced' : 'miss';
    if (!joined && fetchOptions.signal?.aborted) {
      report(status);
      throw new UpstreamCancelledError();
    }
    // A caller that can wait longer than the load's first caller keeps the load from being given up early.
    joined?.deadline.extend(fetchOptions.deadline);
    if (joined) bringForward(joined);
    // The read of an overdue token is the one its other reads wait on (see above).
    const { flight } = joined ?? launch(key, storeKey, load, false, fetchOptions.deadline, false, tokenOverdue(key.tokenKey));
    let outcome;
    try {
      outcome = await flight.wait(fetchOptions.signal);
    } catch (error) {
      report(status);
      throw error;
    }
    if (outcome.ok) {
      report(status);
      return { ...(outcome.value as Omit<CacheRead<T>, 'status'>), status };
    }
    const stale = canServeStaleOnError(outcome.error) && !(tokenOverdue(key.tokenKey) && isGatewayRefusal(outcome.error)) ? staleForError(key.tokenKey, storeKey) : undefined;
    if (stale?.type === 'value') {
      report('stale-if-error');
      return readOf(storeKey, stale, 'stale-if-error');
    }
    report(status);
    throw outcome.error;
  }

  return {
    fetch,
    peek<T>(key: CacheKey): CacheRead<T> | undefined {
      // A token due a check is read through `fetch`, which starts it.
      if (invalidTokenError(key.tokenKey) || tokenCheckDue(key.tokenKey)) return undefined;
      const storeKey = storeKeyOf(key);
      const entry = lookup(key.tokenKey, storeKey);
      if (entry?.type !== 'value' || clock.now() >= entry.freshUntil) return undefined;
      safely(() => hooks.onRead?.('hit', key.kind));
      return readOf(storeKey, entry, 'hit');
    },
    purgeToken,
    tokenCheckDue,
    backgroundCheckDue: (tokenKey) => ledger.checkedAt(tokenKey) !== undefined && tokenCheckDue(tokenKey),
    tokenCheckAt,
    refusalOf: invalidTokenError,
    awaitedUrl(key) {
      if (flights.has(storeKeyOf(key))) return key.url;
      return tokenOverdue(key.tokenKey) ? vouching.get(key.tokenKey)?.url : undefined;
    },
    staleIfError<T>(key: CacheKey, options: { pastCheck?: boolean } = {}): CacheRead<T> | undefined {
      if (invalidTokenError(key.tokenKey) || (tokenOverdue(key.tokenKey) && !options.pastCheck)) return undefined;
      const storeKey = storeKeyOf(key);
      const stale = staleForError(key.tokenKey, storeKey);
      if (stale?.type !== 'value') return undefined;
      safely(() => hooks.onRead?.('stale-if-error', key.kind));
      return readOf(storeKey, stale, 'stale-if-error');
    },
    stats: () => ({ entries: store.size, bytes: store.calculatedSize, parsedBytes: parsed.calculatedSize, tokens: ledger.tokens, inFlight: flights.size }),
    clear() {
      deleteReason = 'purge';
      try {
        store.clear();
        parsed.clear();
      } finally {
        deleteReason = undefined;
      }
      invalidTokens?.clear();
      for (const inFlight of flights.values()) inFlight.storable = false;
      flights.clear();
      vouching.clear();
      reportSize();
    },
  };
}
