/**
 * Bytes held per token, with each token's entries in its own least-recently-used order.
 * The shared LRU only knows global recency; this ledger lets the cache make room for a
 * token out of that token's own entries, so a heavy user pays for its own growth.
 */
export interface TokenLedger {
  /** Forgets an entry; a token with no entries left is dropped. */
  remove(tokenKey: string, storeKey: string): void;
  /** Marks an entry as most recently used. */
  touch(tokenKey: string, storeKey: string): void;
  /** Bytes charged to the token. */
  bytesOf(tokenKey: string): number;
  /** The token's store keys, least recently used first (a snapshot, safe to delete while iterating). */
  keysOf(tokenKey: string): string[];
  /**
   * Stores an entry within the token's share: the steps every per-token store takes. Drops the
   * token's least recently used entries (never `storeKey`) until `charge` more fits in `share`,
   * counting `storeKey`'s own charge as gone (it is being replaced); `drop` removes an entry from
   * the store, and the ledger forgets it either way. Then `set` puts the entry in the store and
   * says whether it is there: an LRU refuses an entry larger than it holds, or pushes it out at
   * once. Only an entry that stayed is recorded (as most recently used). Returns whether it stayed.
   */
  admit(tokenKey: string, storeKey: string, charge: number, share: number, drop: (storeKey: string) => void, set: () => boolean): boolean;
  /** When Katapult last accepted the token, as `markChecked` recorded it; undefined for a token holding no entry. */
  checkedAt(tokenKey: string): number | undefined;
  /** Records that Katapult accepted the token at `at` (epoch ms), if later than what was recorded; no-op for a token holding no entry. */
  markChecked(tokenKey: string, at: number): void;
  /** Number of tokens holding at least one entry. */
  readonly tokens: number;
}

interface TokenAccount {
  bytes: number;
  /** storeKey → charge; Map iteration order is the recency order. */
  entries: Map<string, number>;
  checkedAt: number;
}

export function createTokenLedger(): TokenLedger {
  const accounts = new Map<string, TokenAccount>();

  const remove = (tokenKey: string, storeKey: string): void => {
    const account = accounts.get(tokenKey);
    const charge = account?.entries.get(storeKey);
    if (!account || charge === undefined) return;
    account.entries.delete(storeKey);
    account.bytes -= charge;
    if (account.entries.size === 0) accounts.delete(tokenKey);
  };

  const add = (tokenKey: string, storeKey: string, charge: number): void => {
    remove(tokenKey, storeKey);
    let account = accounts.get(tokenKey);
    if (!account) {
      account = { bytes: 0, entries: new Map(), checkedAt: Number.NEGATIVE_INFINITY };
      accounts.set(tokenKey, account);
    }
    account.entries.set(storeKey, charge);
    account.bytes += charge;
  };

  const makeRoom = (tokenKey: string, keep: string, charge: number, share: number, drop: (storeKey: string) => void): void => {
    const account = accounts.get(tokenKey);
    if (!account) return;
    const replaced = account.entries.get(keep) ?? 0;
    // Over the live map, not a copy of its keys: this runs on every store, and most find room
    // at once. A Map's iterator skips what is deleted meanwhile, by `drop` or here.
    for (const storeKey of account.entries.keys()) {
      if (account.bytes - replaced + charge <= share) return;
      if (storeKey === keep) continue;
      drop(storeKey);
      remove(tokenKey, storeKey);
    }
  };

  return {
    remove,
    touch(tokenKey, storeKey) {
      const entries = accounts.get(tokenKey)?.entries;
      const charge = entries?.get(storeKey);
      if (!entries || charge === undefined) return;
      entries.delete(storeKey);
      entries.set(storeKey, charge);
    },
    bytesOf: (tokenKey) => accounts.get(tokenKey)?.bytes ?? 0,
    keysOf: (tokenKey) => [...(accounts.get(tokenKey)?.entries.keys() ?? [])],
    admit(tokenKey, storeKey, charge, share, drop, set) {
      makeRoom(tokenKey, storeKey, charge, share, drop);
      if (!set()) return false;
      add(tokenKey, storeKey, charge);
      return true;
    },
    checkedAt: (tokenKey) => accounts.get(tokenKey)?.checkedAt,
    markChecked(tokenKey, at) {
      const account = accounts.get(tokenKey);
      // An answer to an older call, coming after a newer one's, moves nothing back.
      if (account) account.checkedAt = Math.max(account.checkedAt, at);
    },
    get tokens() {
      return accounts.size;
    },
  };
}
