import { createCursorCodec } from '../../src/data/cursor.js';
import type { UpstreamPage } from '../../src/data/pagination.js';
import type { MaybePromise } from '../../src/data/katapult-source.js';
import { paginate } from '../../src/simulator/pagination.js';
import type { PaginationDto } from '../../src/upstream/dto.js';

/**
 * An in-memory Katapult list for `resolveConnection`: Apia-style pages over a mutable array
 * of rows, `large_set` (no totals) past 1,000 rows, and a log of the pages read.
 */
export interface Row {
  id: string;
}

export interface FakeList {
  rows: Row[];
  /** Pages read, in order. */
  reads: number[];
  fetchPage(page: number): MaybePromise<UpstreamPage<Row>>;
}

export const rowsOf = (count: number, prefix = 'row'): Row[] => Array.from({ length: count }, (_, i) => ({ id: `${prefix}_${i}` }));

export interface FakeListOptions {
  async?: boolean;
  /** What every page's `pagination` says in place of the truth, as a server that miscounts would. */
  stated?: Partial<PaginationDto>;
}

export function createFakeList(rows: Row[], perPage: number, options: FakeListOptions = {}): FakeList {
  const list: FakeList = {
    rows,
    reads: [],
    fetchPage(page) {
      list.reads.push(page);
      // The simulator's own paging: a potentially large list, as Katapult's VM lists are.
      const result: UpstreamPage<Row> = paginate(list.rows, page, perPage, true);
      if (options.stated) result.pagination = { ...result.pagination, ...options.stated };
      return options.async ? Promise.resolve(result) : result;
    },
  };
  return list;
}

export const codec = createCursorCodec(['fake-list-cursor-secret-0123456789']);
export const BINDING = 'rows:test';
export const cursorFor = (rows: readonly Row[], offset: number, binding = BINDING) => codec.encode(binding, { offset, id: rows[offset]!.id });
export const idOf = (row: Row) => row.id;
