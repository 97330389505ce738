import type { PaginationDto } from '../upstream/dto.js';
import type { CursorCodec, CursorPosition } from './cursor.js';
import { InvalidInputError } from './errors.js';
import type { MaybePromise } from './katapult-source.js';

/**
 * Relay connections over Katapult's page/per_page lists.
 *
 * Every client window is mapped onto pages of one canonical size (`perPage`, 200 by default,
 * never smaller than the largest window), so a window touches at most two upstream pages and
 * overlapping windows from different requests read the same cached pages. The second page
 * is only fetched when the first shows there is more to read. Besides the window, a
 * resolution may read the page holding its cursor's row (to re-align after rows moved) and,
 * on an uncounted list past 1,000 rows, the page after a window that ends on a full page
 * (to answer `hasNextPage` truthfully); both are the pages neighbouring windows read anyway.
 *
 * The pages read are believed over the counts they carry, as Katapult's official clients
 * believe them (they go by `total_pages` when there is one, and otherwise stop on a short
 * page): a page shorter than asked for ends the list whatever `total` says, so a server that
 * miscounts cannot send a client paging forwards on for ever.
 */

export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface UpstreamPage<T> {
  items: readonly T[];
  pagination: PaginationDto;
}

export interface Edge<T> {
  readonly cursor: string;
  readonly node: T;
}

/** The same edge holding another form of its node; its cursor is still signed only when read. */
class MappedEdge<T> implements Edge<T> {
  constructor(
    private readonly source: Edge<unknown>,
    readonly node: T,
  ) {}

  get cursor(): string {
    return this.source.cursor;
  }
}

/** Maps a page's nodes (list items to schema objects) without signing any cursor. */
export function mapEdges<T, N>(edges: readonly Edge<T>[], toNode: (item: T) => N): Edge<N>[] {
  return edges.map((edge) => new MappedEdge(edge, toNode(edge.node)));
}

/**
 * An edge whose cursor is signed only when something reads it: most queries ask for nodes
 * and at most the end cursor, and signing every edge's cursor was a measurable share of a
 * warm request.
 */
class LazyEdge<T> implements Edge<T> {
  #cursor: string | undefined;
  constructor(
    private readonly codec: CursorCodec,
    private readonly binding: string,
    private readonly offset: number,
    private readonly id: string,
    readonly node: T,
  ) {}

  get cursor(): string {
    return (this.#cursor ??= this.codec.encode(this.binding, { offset: this.offset, id: this.id }));
  }
}

/**
 * Page info whose cursors are read from the edges (so signed) only when asked for. A class
 * rather than an object literal with getters: every literal with accessors gets a hidden class
 * of its own, which V8 keeps in the old generation pointing at that request's closures, so each
 * request's objects survived young-generation GCs until the next full one.
 */
class EdgesPageInfo {
  constructor(
    readonly hasNextPage: boolean,
    readonly hasPreviousPage: boolean,
    private readonly edges: readonly Edge<unknown>[],
  ) {}

  get startCursor(): string | null {
    return this.edges[0]?.cursor ?? null;
  }

  get endCursor(): string | null {
    return this.edges[this.edges.length - 1]?.cursor ?? null;
  }
}

export interface ConnectionResult<T> {
  edges: Edge<T>[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number | null;
}

export interface PageSizes {
  perPage: number;
  defaultSize: number;
  maxSize: number;
}

export interface ResolveConnectionOptions<T> {
  args: ConnectionArgs;
  /** Identifies the connection (type, parent lookup as given, filters); cursors are bound to it. */
  binding: string;
  codec: CursorCodec;
  sizes: PageSizes;
  /**
   * Loads one upstream page (1-based) of `sizes.perPage` items; with `refresh`, from Katapult
   * rather than the cache (see `rereadPages`).
   */
  fetchPage(page: number, refresh?: boolean): MaybePromise<UpstreamPage<T>>;
  idOf(item: T): string;
}

/** Katapult sets `large_set` only after counting more than this many rows (Apia counts up to 1,001). */
export const LARGE_SET_COUNTED = 1000;

/**
 * Pages read past the counted rows to find the end of an uncounted list for `last` (2,000 more
 * rows at 200 a page); the query cost limit charges a `last` without `before` for them.
 */
export const MAX_PAGES_TO_END = 10;

function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * Whether a page came back as another than the one asked for (`current_page` says so): a server
 * that answers a page past the end with its last page (clamping the number, as some paginators
 * do). Its rows are not the page asked for; read as past the end, a list or a search ends there.
 */
export function answeredAsAnother(pagination: Pick<PaginationDto, 'current_page'>, page: number): boolean {
  const current = pagination.current_page as unknown;
  return typeof current === 'number' && current !== page;
}

/** Chains without allocating a promise when the value is already there (warm cache). */
export function chain<A, B>(value: MaybePromise<A>, next: (a: A) => MaybePromise<B>): MaybePromise<B> {
  return isPromise(value) ? value.then(next) : next(value);
}

/** `read()`, with its failure (thrown at once or later) handed to `onError`, which answers or throws again. */
export function recover<T, R>(read: () => MaybePromise<T>, onError: (error: unknown) => R): MaybePromise<T | R> {
  let value: MaybePromise<T>;
  try {
    value = read();
  } catch (error) {
    return onError(error);
  }
  return isPromise(value) ? value.catch(onError) : value;
}

function checkSize(name: string, value: number | null | undefined, max: number): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidInputError(`"${name}" must be an integer from 0 to ${max}, got ${value}`, name);
  }
  return value;
}

interface Window {
  start: number;
  end: number;
}

/** The pages (1-based) holding offsets [from, to), at most two since windows ≤ perPage. */
function pagesFor(from: number, to: number, perPage: number): number[] {
  if (to <= from) return [Math.floor(from / perPage) + 1];
  const first = Math.floor(from / perPage) + 1;
  const last = Math.floor((to - 1) / perPage) + 1;
  const pages: number[] = [];
  for (let page = first; page <= last; page++) pages.push(page);
  return pages;
}

export function resolveConnection<T>(options: ResolveConnectionOptions<T>): MaybePromise<ConnectionResult<T>> {
  const { args, binding, codec, sizes, fetchPage, idOf } = options;
  const { perPage } = sizes;
  const first = checkSize('first', args.first, sizes.maxSize);
  const last = checkSize('last', args.last, sizes.maxSize);
  if (first !== null && last !== null) {
    throw new InvalidInputError('Pass either "first" or "last", not both', 'last');
  }
  // An empty string is a cursor no connection issued, not the absence of one: the cost limit
  // prices `before: ""` as a `before`, so reading it as none would read to the list's end unpriced.
  const after = args.after !== null && args.after !== undefined ? codec.decode(binding, args.after, 'after') : null;
  const before = args.before !== null && args.before !== undefined ? codec.decode(binding, args.before, 'before') : null;
  const lowerBound = after ? after.offset + 1 : 0;
  const upperBound = before ? before.offset : Number.POSITIVE_INFINITY;

  /** The page (1-based) holding an offset. */
  const pageOf = (offset: number) => Math.floor(offset / perPage) + 1;

  // Pages already read for this resolution, by page number.
  const pages = new Map<number, UpstreamPage<T>>();
  /**
   * The list's size as a page states it: null for a list Katapult did not count, and for a
   * `total` the page's own `total_pages` does not bear out (without `total_pages` the official
   * clients do not use `total` either).
   */
  const countOf = (page: UpstreamPage<T>): number | null => {
    const { large_set: largeSet, total, total_pages: pageCount } = page.pagination;
    return largeSet || total === null || pageCount !== Math.ceil(total / perPage) ? null : total;
  };
  /** Set once the pages held have been read again (see `rereadPages`): pages read after that come from Katapult too. */
  let reread = false;
  const load = (page: number): MaybePromise<UpstreamPage<T>> => {
    const known = pages.get(page);
    if (known) return known;
    return chain(fetchPage(page, reread), (answered) => {
      // Read as the page asked for, a page answered as another would bring its rows round again
      // after the end, and an uncounted list would never end for a client paging forwards.
      const result = answeredAsAnother(answered.pagination, page) ? { ...answered, items: [] } : answered;
      pages.set(page, result);
      return result;
    });
  };

  /**
   * Whether the pages read may not all be from one state of the list. Pages are cached one by
   * one, so a window (with its cursor's row) can take one page as it was a while ago and the
   * next as it is now; rows added or deleted in between would then be repeated or skipped at
   * the page boundary, and the cursor's row would look in place on the old page. It shows as
   * different counts, or as a row on two pages next to each other (see `rereadPages` for
   * what it cannot show).
   */
  const pagesDisagree = (): boolean => {
    if (pages.size < 2) return false;
    let count: number | null | undefined;
    for (const page of pages.values()) {
      if (count !== undefined && countOf(page) !== count) return true;
      count = countOf(page);
    }
    for (const [number, page] of pages) {
      const next = pages.get(number + 1);
      if (!next || page.items.length === 0 || next.items.length === 0) continue;
      const firstOfNext = idOf(next.items[0]!);
      const lastOfPage = idOf(page.items[page.items.length - 1]!);
      if (page.items.some((item) => idOf(item) === firstOfNext) || next.items.some((item) => idOf(item) === lastOfPage)) return true;
    }
    return false;
  };
  /**
   * Reads every page held again from Katapult (once: `resolve` asks only while `reread` is
   * unset, and only when they disagree): one state of the list for the window and its cursors'
   * rows, which `realign` can then trust. Costs calls only when the list changed between two
   * pages' reads. (Rows deleted before the boundary, or added walking backwards, leave no
   * trace on the pages when Katapult does not count the list, or when as many rows went the
   * other way: there the walk can still skip rows.)
   */
  const rereadPages = (): MaybePromise<void> => {
    reread = true;
    const numbers = [...pages.keys()].sort((a, b) => a - b);
    pages.clear();
    foundSize = null;
    const step = (index: number): MaybePromise<void> => (index >= numbers.length ? undefined : chain(load(numbers[index]!), () => step(index + 1)));
    return step(0);
  };
  const anyPage = (): UpstreamPage<T> | undefined => pages.values().next().value;
  /** Whether Katapult marked the list `large_set`: it counted more than 1,000 rows. */
  const markedLarge = (): boolean => anyPage()?.pagination.large_set ?? false;
  /**
   * Katapult's count, unless the pages read contradict it: rows past it, or a page that shows
   * the list ending elsewhere. A count the pages contradict is no count, for `totalCount` too.
   */
  const count = (): number | null => {
    const any = anyPage();
    const stated = any ? countOf(any) : null;
    if (stated === null) return null;
    for (const [number, page] of pages) {
      if (page.items.length > 0 && (number - 1) * perPage + page.items.length > stated) return null;
      // Empty where the count says rows are: whatever page came before it, the list ends sooner.
      if (page.items.length === 0 && (number - 1) * perPage < stated) return null;
    }
    const end = endShown();
    return end === null || end === stated ? stated : null;
  };
  /** The size of an uncounted list, once `uncountedSize` has read to its end. */
  let foundSize: number | null = null;
  /**
   * The list's size when known: where a page read shows it ends, else Katapult's count, else
   * the size found by reading to the end.
   */
  const knownSize = (): number | null => endShown() ?? count() ?? foundSize;
  /**
   * Where a page read shows the list ends: one ending short with rows in it, or an empty one
   * right after a full one (or the first). Null when no page read says.
   */
  const endShown = (): number | null => {
    let size: number | null = null;
    for (const [number, page] of pages) {
      if (page.items.length === perPage) continue;
      const previousFull = number === 1 || pages.get(number - 1)?.items.length === perPage;
      if (page.items.length === 0 && !previousFull) continue;
      const end = (number - 1) * perPage + page.items.length;
      if (size === null || end < size) size = end;
    }
    return size;
  };

  /** Loads pages covering [from, to) in order, stopping when a page shows the list ended. */
  const loadRange = (from: number, to: number): MaybePromise<void> => {
    const wanted = pagesFor(from, to, perPage);
    const step = (index: number): MaybePromise<void> => {
      if (index >= wanted.length) return;
      return chain(load(wanted[index]!), (page) => {
        const known = knownSize();
        const pageEnd = wanted[index]! * perPage;
        if (page.items.length < perPage || (known !== null && known <= pageEnd)) return;
        return step(index + 1);
      });
    };
    return step(0);
  };

  const itemAt = (offset: number): T | undefined => {
    const page = pages.get(pageOf(offset));
    return page?.items[offset % perPage];
  };

  /** Where `position.id` sits now, if it is in a page we hold; null when we cannot tell. */
  const locate = (position: CursorPosition): number | null => {
    const atOffset = itemAt(position.offset);
    if (atOffset !== undefined && idOf(atOffset) === position.id) return position.offset;
    for (const [number, page] of pages) {
      const index = page.items.findIndex((item) => idOf(item) === position.id);
      if (index >= 0) return (number - 1) * perPage + index;
    }
    return null;
  };

  const windowFor = (low: number, high: number, knownTotal: number | null): Window => {
    if (last !== null) {
      const end = Math.min(high, knownTotal ?? high);
      return { start: Math.max(low, end - last), end };
    }
    const size = first ?? sizes.defaultSize;
    return { start: low, end: Math.min(low + size, high) };
  };

  /**
   * Whether a row exists at `offset`. A page read answers for its own rows, whatever the count
   * says: the next window reads that same page, so a row promised is a row it returns. Else a
   * list of known size answers from it. Katapult marks a list `large_set` only after counting
   * more than 1,000 rows, so rows up to that offset exist without asking. Past it (or when the
   * pages contradict the count), the page holding the offset is read: only for a window that
   * ends exactly where a full page ends, and it is the page the next window reads anyway.
   */
  const hasRowAt = (offset: number): MaybePromise<boolean> => {
    const number = pageOf(offset);
    const page = pages.get(number);
    if (page) return page.items[offset % perPage] !== undefined;
    const knownTotal = knownSize();
    if (knownTotal !== null) return offset < knownTotal;
    if (markedLarge() && offset <= LARGE_SET_COUNTED) return true;
    const previous = pages.get(number - 1);
    if (previous && previous.items.length < perPage) return false;
    return chain(load(number), (loaded) => loaded.items[offset % perPage] !== undefined);
  };

  /** `low` and `high` are the cursors' rows as found now (see `realign`), which the flags are about. */
  const build = (window: Window, low: number, high: number): MaybePromise<ConnectionResult<T>> => {
    const edges: Edge<T>[] = [];
    // Pages read again can still disagree if the list changed while they were read: one item
    // twice in one page would break a client's store (Relay keys edges by node), so a repeat
    // is left out. (Pages not read again were checked to agree before this.)
    const seen = reread ? new Set<string>() : null;
    let end = window.start;
    for (; end < window.end; end++) {
      const node = itemAt(end);
      if (node === undefined) break;
      const id = idOf(node);
      if (seen) {
        if (seen.has(id)) continue;
        seen.add(id);
      }
      edges.push(new LazyEdge(codec, binding, end, id, node));
    }
    // The connection spec's flags: paging forward, a next page exists only short of `before`;
    // paging backward (`last`), a previous page only past `after`. The other direction reports
    // whether rows exist beyond the cursors at all, which the spec allows when it is cheap.
    const hasPreviousPage = last !== null ? window.start > low : window.start > 0;
    const hasNextPage = last === null && end >= high ? false : hasRowAt(end);
    return chain(hasNextPage, (next) => ({
      edges,
      pageInfo: new EdgesPageInfo(next, hasPreviousPage, edges),
      totalCount: count(),
    }));
  };

  /** The pages either side of a cursor's page, when its row is not where the cursor says. */
  const neighboursToSearch = (position: CursorPosition | null): number[] => {
    if (!position) return [];
    const own = pageOf(position.offset);
    const page = pages.get(own);
    if (!page || locate(position) !== null) return [];
    return page.items.length === perPage ? [own - 1, own + 1] : [own - 1];
  };

  /**
   * Re-aligns on the cursors' ids when rows moved upstream since they were issued. A cursor's
   * row that is not where the cursor says is looked for in the pages read, then in the pages
   * either side of its own: those are read only when rows did move, and find any row that
   * moved by less than a page. A row that moved further, or was deleted, falls back to its
   * remembered offset.
   */
  const realign = (window: Window): MaybePromise<ConnectionResult<T>> => {
    const missing = [...new Set([...neighboursToSearch(after), ...neighboursToSearch(before)])].filter((page) => page >= 1 && !pages.has(page));
    const loadMissing = (index: number): MaybePromise<void> =>
      index >= missing.length ? undefined : chain(load(missing[index]!), () => loadMissing(index + 1));

    return chain(loadMissing(0), () => {
      let low = lowerBound;
      let high = upperBound;
      if (after) {
        const found = locate(after);
        if (found !== null) low = found + 1;
      }
      if (before) {
        const found = locate(before);
        if (found !== null) high = found;
        // Not found, and past the list's end as it is now (its row and the rows after it were
        // deleted): the window ends where the list does, so `last` still gets the last rows and
        // a cursor to page back from, as the connection spec reads a `before` it cannot find.
        const size = found === null ? knownSize() : null;
        if (size !== null && high > size) high = size;
      }
      if (low === lowerBound && high === upperBound) return checked(() => build(window, low, high));
      const moved = windowFor(low, high, knownSize());
      return chain(loadRange(moved.start, moved.end), () => checked(() => build(moved, low, high)));
    });
  };

  /**
   * `next`, unless the pages read since the first check (a cursor's neighbours, the window
   * where rows moved to) disagree with the others: then all once more, from pages read again.
   */
  const checked = (next: () => MaybePromise<ConnectionResult<T>>): MaybePromise<ConnectionResult<T>> =>
    reread || !pagesDisagree() ? next() : chain(rereadPages(), resolve);

  const samePage = (a: number, b: number) => pageOf(a) === pageOf(b);

  /**
   * The range to read for a window: the window itself plus the cursors' own rows when they
   * sit right next to it (or on a page read anyway), so `realign` can see whether rows moved.
   * A window starting at a page boundary thus also reads the previous page, which is usually
   * still cached from when the client read the page the cursor came from.
   */
  const withCursorRows = (window: Window): Window => {
    let from = window.start;
    let to = window.end;
    if (after && after.offset < from && (after.offset === from - 1 || samePage(after.offset, from))) from = after.offset;
    if (before && before.offset >= to && (before.offset === to || samePage(before.offset, Math.max(to - 1, 0)))) to = before.offset + 1;
    return { start: from, end: to };
  };

  /**
   * The size of a list Katapult did not count, whose first page is full: it holds more than
   * 1,000 rows, so the pages from the one holding row 1,000 are read until one ends short (two
   * for 1,250 rows at 200 a page). These are the pages a client paging forwards reads anyway,
   * and they are cached alike. When that page is empty the list was not that long after all
   * (a miscounting server, or rows deleted since the first page was read): its end is then
   * between the first page and that one, found by halving.
   */
  const uncountedSize = (): MaybePromise<number> => {
    const from = pageOf(LARGE_SET_COUNTED);
    const step = (number: number): MaybePromise<number> =>
      chain(load(number), (page) => {
        if (page.items.length === 0 && number === from && from > 1) return endBetween(1, from);
        if (page.items.length < perPage) return (foundSize = (number - 1) * perPage + page.items.length);
        if (number - from + 1 >= MAX_PAGES_TO_END) {
          throw new InvalidInputError(
            `This list has more than ${number * perPage} items, too many to find its end: use "first", or "last" together with "before"`,
            'last',
          );
        }
        return step(number + 1);
      });
    return step(from);
  };
  /** The size of a list whose page `full` is full and page `empty` is empty. */
  const endBetween = (full: number, empty: number): MaybePromise<number> => {
    if (empty - full <= 1) return (foundSize = full * perPage);
    const middle = Math.floor((full + empty) / 2);
    return chain(load(middle), (page) => {
      if (page.items.length === perPage) return endBetween(middle, empty);
      if (page.items.length > 0) return (foundSize = (middle - 1) * perPage + page.items.length);
      return endBetween(full, middle);
    });
  };

  /** The size a window backwards from the end was worked out from, and whether it was worked out again. */
  let sizeAsked: number | undefined;
  let resized = false;
  /** The window asked for, from the pages held: backwards from the end needs the list's size first. */
  const windowAskedFor = (): MaybePromise<Window> => {
    if (last === null || before) return windowFor(lowerBound, upperBound, null);
    return chain(load(1), () =>
      chain(knownSize() ?? uncountedSize(), (size) => {
        sizeAsked = size;
        return windowFor(lowerBound, upperBound, size);
      }),
    );
  };
  /** Reads the window (and its cursors' rows); once more, from pages read again, when the pages held disagree. */
  const resolve = (): MaybePromise<ConnectionResult<T>> =>
    chain(windowAskedFor(), (window) => {
      const range = withCursorRows(window);
      return chain(loadRange(range.start, range.end), () => {
        // `last` from the end, worked out from a count the pages just read contradict (one of
        // them empty where rows should be): once more, from the size the pages show.
        if (sizeAsked !== undefined && !resized && knownSize() !== sizeAsked) {
          resized = true;
          return resolve();
        }
        if (reread || !pagesDisagree()) return realign(window);
        // The size and window were worked out from pages that disagreed: again, from the pages read again.
        return chain(rereadPages(), resolve);
      });
    });
  return resolve();
}
