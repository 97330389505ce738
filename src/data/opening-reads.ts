import { LRUCache } from 'lru-cache';
import { createTokenLedger } from '../cache/token-ledger.js';
import { MAX_OPENING_READS, readKey, type OpeningRead } from './katapult-data.js';

/**
 * The opening reads of operations seen before (see `KatapultData.openingReads`), by operation,
 * so that a request for one of them can start its reads on arrival, before yoga has parsed,
 * validated and begun to run it: a cold request's first Katapult call otherwise leaves about
 * 0.9 ms after the request arrived, and the calls for its side lists later still.
 *
 * Shared by every token, and safe to be: a request's opening reads depend only on what it
 * asked (the operation and its variables, part of the operation's key), never on what Katapult
 * answered, since they are the reads asked for before any answer was seen. They say nothing of
 * any token's data. A request of one token never reads another token's data through them
 * either: its reads are made with its own token, through its own cache entries.
 */
export interface OpeningReadsMemory {
  /** What requests for this operation read first, if one was seen. */
  recall(operation: string): readonly OpeningRead[] | undefined;
  /** Adds a request's opening reads to its operation's; `tokenKey` is charged for the entry. */
  remember(operation: string, reads: readonly OpeningRead[], tokenKey: string): void;
}

export interface OpeningReadsMemoryOptions {
  maxBytes: number;
  /** What one token's entries may take, its least recently used making room for its new ones. @default an eighth of maxBytes */
  maxTokenBytes?: number;
}

interface Remembered {
  reads: readonly OpeningRead[];
  /** The token charged for the entry: the last one whose request added to it. */
  tokenKey: string;
}

const keyOf = (read: OpeningRead) => readKey(read.path, read.params);
const readBytes = (read: OpeningRead) => 2 * keyOf(read).length + 96;
const entryBytes = (operation: string, reads: readonly OpeningRead[]) => 2 * operation.length + 64 + reads.reduce((sum, read) => sum + readBytes(read), 0);

export function createOpeningReadsMemory(options: OpeningReadsMemoryOptions): OpeningReadsMemory {
  const maxBytes = Math.max(1, options.maxBytes);
  const maxTokenBytes = Math.max(1, options.maxTokenBytes ?? Math.floor(maxBytes / 8));
  // Per token, as the response cache's sightings are: one token sending a stream of operations
  // no one repeats pushes out its own entries, not the ones everyone's requests use.
  const ledger = createTokenLedger();
  const operations = new LRUCache<string, Remembered>({
    maxSize: maxBytes,
    sizeCalculation: (entry, operation) => entryBytes(operation, entry.reads),
    dispose(entry, operation) {
      ledger.remove(entry.tokenKey, operation);
    },
  });
  const store = (operation: string, reads: readonly OpeningRead[], tokenKey: string) => {
    const size = entryBytes(operation, reads);
    if (size > maxTokenBytes) return;
    operations.delete(operation);
    const entry: Remembered = { reads, tokenKey };
    ledger.admit(tokenKey, operation, size, maxTokenBytes, (oldest) => operations.delete(oldest), () => operations.set(operation, entry).peek(operation) === entry);
  };
  return {
    recall: (operation) => operations.get(operation)?.reads,
    remember(operation, reads, tokenKey) {
      if (reads.length === 0) return;
      const known = operations.get(operation);
      // A request that found some of its reads cached saw an answer sooner, so it names only a
      // first part of what another (colder) request of the operation names: the union is kept.
      if (known === undefined) {
        store(operation, reads.slice(0, MAX_OPENING_READS), tokenKey);
        return;
      }
      const keys = new Set(known.reads.map(keyOf));
      const added = reads.filter((read) => !keys.has(keyOf(read)));
      if (added.length > 0 && known.reads.length < MAX_OPENING_READS) store(operation, [...known.reads, ...added].slice(0, MAX_OPENING_READS), tokenKey);
    },
  };
}
