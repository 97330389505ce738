import type { PaginationDto } from '../upstream/dto.js';

/** Apia stops counting at 1,001 rows on "potentially large" lists and reports no totals. */
const LARGE_SET_THRESHOLD = 1000;

export interface Page<T> {
  pagination: PaginationDto;
  items: T[];
}

/**
 * Kaminari-style paging as Apia does it: a page past the end is empty with `current_page`
 * echoed, an empty set has 0 pages, and a large set hides `total`/`total_pages` (null).
 * The key order of the pagination object is the order the real server sends.
 */
export function paginate<T>(items: readonly T[], page: number, perPage: number, potentiallyLargeSet: boolean): Page<T> {
  const largeSet = potentiallyLargeSet && items.length > LARGE_SET_THRESHOLD;
  const start = (page - 1) * perPage;
  return {
    pagination: {
      current_page: page,
      total_pages: largeSet ? null : Math.ceil(items.length / perPage),
      total: largeSet ? null : items.length,
      per_page: perPage,
      large_set: largeSet,
    },
    items: start >= items.length ? [] : items.slice(start, start + perPage),
  };
}
