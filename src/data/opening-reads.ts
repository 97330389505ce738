import { LRUCache } from 'lru-cache';
import { MAX_OPENING_READS, type OpeningRead } from './katapult-data.js';

/**
 * The opening reads of operations seen before (see `KatapultData.openingReads`), by operation,
 * so that a request for one of them can start its reads on arrival, before yoga has parsed,
 * validated and begun to run it: a cold request's first Katapult call otherwise leaves about
 * 0.6 ms after the request arrived, and the calls for its side lists later still.
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
  /** Adds a request's opening reads to its operation's. */
  remember(operation: string, reads: readonly OpeningRead[]): void;
}

const readKey = (read: OpeningRead) => (read.params ? `${read.path}${JSON.stringify(read.params)}` : read.path);
const readBytes = (read: OpeningRead) => 2 * readKey(read).length + 96;

export function createOpeningReadsMemory(options: { maxBytes: number }): OpeningReadsMemory {
  const operations = new LRUCache<string, readonly OpeningRead[]>({
    maxSize: Math.max(1, options.maxBytes),
    sizeCalculation: (reads, operation) => 2 * operation.length + 64 + reads.reduce((sum, read) => sum + readBytes(read), 0),
  });
  return {
    recall: (operation) => operations.get(operation),
    remember(operation, reads) {
      if (reads.length === 0) return;
      const known = operations.get(operation);
      // A request that found some of its reads cached saw an answer sooner, so it names only a
      // first part of what another (colder) request of the operation names: the union is kept.
      if (known === undefined) {
        operations.set(operation, reads.slice(0, MAX_OPENING_READS));
        return;
      }
      const keys = new Set(known.map(readKey));
      const added = reads.filter((read) => !keys.has(readKey(read)));
      if (added.length > 0 && known.length < MAX_OPENING_READS) operations.set(operation, [...known, ...added].slice(0, MAX_OPENING_READS));
    },
  };
}
