import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/data/errors.js';
import { mapEdges, MAX_PAGES_TO_END, resolveConnection, type ConnectionArgs } from '../../src/data/pagination.js';
import type { PaginationDto } from '../../src/upstream/dto.js';
import { BINDING, codec, createFakeList, cursorFor, idOf, rowsOf, type FakeList } from './fake-list.js';

const MAX_SIZE = 5;
const DEFAULT_SIZE = 3;

function resolve(list: FakeList, perPage: number, args: ConnectionArgs, binding = BINDING) {
  return resolveConnection({
    args,
    binding,
    codec,
    sizes: { perPage, defaultSize: DEFAULT_SIZE, maxSize: MAX_SIZE },
    fetchPage: (page) => list.fetchPage(page),
    idOf,
  });
}

interface Expected {
  ids: string[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** Pages read from the one holding row 1,000 to the first that ends short, to find the end of an uncounted list. */
const pagesToEnd = (count: number, perPage: number) => Math.floor(count / perPage) - Math.floor(1000 / perPage) + 1;

const slice = (count: number, start: number, end: number): Expected => ({
  ids: rowsOf(count).slice(start, end).map((r) => r.id),
  hasNextPage: end < count,
  hasPreviousPage: start > 0,
});

describe('resolveConnection over page-aligned upstream pages', () => {
  // Small pages (windows of at most 5) so random windows cross page boundaries often; lists
  // are small (counted), just past 1,000 rows (large_set, no totals), or a large_set that
  // ends exactly on a page boundary (1,080 and 1,200 are multiples of every page size here).
  const scenario = fc.record({
    count: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1001, max: 1040 }), fc.constantFrom(1080, 1200)),
    perPage: fc.constantFrom(5, 6, 8),
    backward: fc.boolean(),
    size: fc.option(fc.integer({ min: 0, max: MAX_SIZE }), { nil: undefined }),
    // Anywhere, or among the last rows (where the end of the list and page boundaries meet).
    cursorAt: fc.option(fc.oneof(fc.nat(), fc.integer({ min: -12, max: -1 })), { nil: undefined }),
    async: fc.boolean(),
  });

  it('returns exactly the slice of the list a window names, with truthful pageInfo and totalCount', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ count, perPage, backward, size, cursorAt, async }) => {
        const rows = rowsOf(count);
        const list = createFakeList(rows, perPage, { async });
        const large = count > 1000;
        const cursorIndex = cursorAt === undefined || count === 0 ? null : ((cursorAt % count) + count) % count;
        const cursor = cursorIndex === null ? null : cursorFor(rows, cursorIndex);

        let expected: Expected;
        let args: ConnectionArgs;
        if (!backward) {
          const start = cursorIndex === null ? 0 : cursorIndex + 1;
          expected = slice(count, start, Math.min(count, start + (size ?? DEFAULT_SIZE)));
          args = { first: size ?? null, after: cursor };
        } else {
          const last = size ?? DEFAULT_SIZE;
          args = { last, before: cursor };
          if (cursorIndex === null && large && pagesToEnd(count, perPage) > MAX_PAGES_TO_END) {
            await expect(Promise.resolve().then(() => resolve(list, perPage, args))).rejects.toThrow(/too many to find its end/);
            return;
          }
          const end = cursorIndex ?? count;
          expected = slice(count, Math.max(0, end - last), end);
        }

        const result = await resolve(list, perPage, args);
        expect(result.edges.map((e) => e.node.id)).toEqual(expected.ids);
        expect(result.pageInfo.hasNextPage).toBe(expected.hasNextPage);
        expect(result.pageInfo.hasPreviousPage).toBe(expected.hasPreviousPage);
        expect(result.pageInfo.startCursor).toBe(result.edges[0]?.cursor ?? null);
        expect(result.pageInfo.endCursor).toBe(result.edges.at(-1)?.cursor ?? null);
        expect(result.totalCount).toBe(large ? null : count);
        // Every cursor handed out resumes at its own row.
        for (const edge of result.edges) {
          expect(codec.decode(BINDING, edge.cursor, 'after')).toEqual({ offset: rows.indexOf(edge.node), id: edge.node.id });
        }
        // Page-aligned reads: no page twice, and at most the window's two pages plus one neighbour;
        // from the end of an uncounted list, also the pages from row 1,000 on, to find its end.
        const walked = backward && cursorIndex === null && large ? pagesToEnd(count, perPage) : 0;
        expect(new Set(list.reads).size).toBe(list.reads.length);
        expect(list.reads.length).toBeLessThanOrEqual(3 + walked);
      }),
      { numRuns: 400 },
    );
  });

  it('finds the end of an uncounted list for last within a bound, and says how to read a longer one', async () => {
    // 10 rows a page: the end is looked for from page 101 (row 1,000) for at most MAX_PAGES_TO_END pages.
    const within = rowsOf(1000 + 10 * MAX_PAGES_TO_END - 3);
    const found = await resolve(createFakeList(within, 10), 10, { last: 4 });
    expect(found.edges.map((e) => e.node.id)).toEqual(within.slice(-4).map((r) => r.id));
    expect(found.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const beyond = createFakeList(rowsOf(1000 + 10 * MAX_PAGES_TO_END + 5), 10);
    await expect(Promise.resolve().then(() => resolve(beyond, 10, { last: 4 }))).rejects.toThrow(
      `This list has more than ${(100 + MAX_PAGES_TO_END) * 10} items, too many to find its end: use "first", or "last" together with "before"`,
    );
    expect(beyond.reads).toHaveLength(1 + MAX_PAGES_TO_END);
  });

  it('reads last after a cursor from the end of an uncounted list whose rows moved, from the size it found', async () => {
    const rows = rowsOf(1100);
    const after = cursorFor(rows, 1050);
    const list = createFakeList(rows, 20);
    list.rows.splice(0, 0, ...rowsOf(2, 'new'));
    const result = await resolve(list, 20, { last: 5, after });
    expect(result.edges.map((e) => e.node.id)).toEqual(list.rows.slice(-5).map((r) => r.id));
    expect(result.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    expect(list.reads.every((page) => Number.isInteger(page))).toBe(true);
  });

  it('sets the flags between two cursors as the connection spec says: by the rows between them, in the direction of travel', async () => {
    const rows = rowsOf(20);
    const list = createFakeList(rows, 8);
    const between = (args: ConnectionArgs) => resolve(list, 8, { after: cursorFor(rows, 2), before: cursorFor(rows, 5), ...args });
    // Two rows between c2 and c5.
    const forward = await between({ first: 5 });
    expect(forward.edges.map((e) => e.node.id)).toEqual(['row_3', 'row_4']);
    expect(forward.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    expect((await between({ first: 1 })).pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const backward = await between({ last: 5 });
    expect(backward.edges.map((e) => e.node.id)).toEqual(['row_3', 'row_4']);
    expect(backward.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
    expect((await between({ last: 1 })).pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
    // One cursor only: unchanged.
    expect((await resolve(list, 8, { first: 5, before: cursorFor(rows, 5) })).pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    expect((await resolve(list, 8, { last: 5, after: cursorFor(rows, 14) })).pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
  });

  it('reads one page for a window inside it, and the next only when the first is full', async () => {
    const rows = rowsOf(12);
    const list = createFakeList(rows, 10);
    await resolve(list, 10, { first: 5 });
    expect(list.reads).toEqual([1]);

    const short = createFakeList(rowsOf(4), 10);
    await resolve(short, 10, { first: 5, after: cursorFor(rowsOf(4), 2) });
    expect(short.reads).toEqual([1]);
  });

  it('knows rows exist up to offset 1,000 of a large_set list without reading further', async () => {
    // Katapult marks large_set only after counting more than 1,000 rows.
    const rows = rowsOf(1001);
    const list = createFakeList(rows, 200);
    const page = await resolve(list, 200, { first: 5, after: cursorFor(rows, 994) });
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(list.reads).toEqual([5]);
  });

  it('reads the next page of a large_set list past 1,000 rows when a window ends on a full page', async () => {
    // 1,200 rows at 200 a page: the window ending at row 1,200 is the end of the list.
    const rows = rowsOf(1200);
    const list = createFakeList(rows, 200);
    const page = await resolve(list, 200, { first: 5, after: cursorFor(rows, 1194) });
    expect(page.edges.map((e) => e.node.id)).toEqual(['row_1195', 'row_1196', 'row_1197', 'row_1198', 'row_1199']);
    expect(page.pageInfo.hasNextPage).toBe(false);
    expect(list.reads).toEqual([6, 7]);
  });

  it('reads a page answered as another (a server that gives its last page for any page past the end) as past the end', async () => {
    // 1,200 rows at 200 a page, uncounted: only reading page 7 shows where the list ends.
    const rows = rowsOf(1200);
    const list = createFakeList(rows, 200);
    const clamping: FakeList = {
      ...list,
      fetchPage(page) {
        list.reads.push(page);
        const last = Math.ceil(rows.length / 200);
        const result = list.fetchPage(Math.min(page, last)) as Awaited<ReturnType<FakeList['fetchPage']>>;
        list.reads.pop();
        return result;
      },
    };
    const atEnd = await resolve(clamping, 200, { first: 5, after: cursorFor(rows, 1194) });
    expect(atEnd.edges.map((e) => e.node.id)).toEqual(['row_1195', 'row_1196', 'row_1197', 'row_1198', 'row_1199']);
    expect(atEnd.pageInfo.hasNextPage).toBe(false);
    const past = await resolve(clamping, 200, { first: 5, after: cursorFor(rows, 1199) });
    expect(past.edges).toEqual([]);
    expect(past.pageInfo.hasNextPage).toBe(false);
  });

  describe('rejects arguments before reading anything', () => {
    const cases: Array<[string, ConnectionArgs, RegExp]> = [
      ['first and last together', { first: 2, last: 2 }, /either "first" or "last"/],
      ['a negative first', { first: -1 }, /"first" must be an integer from 0 to 5, got -1/],
      ['a negative last', { last: -3 }, /"last" must be an integer from 0 to 5, got -3/],
      ['first above the maximum', { first: MAX_SIZE + 1 }, /"first" must be an integer from 0 to 5, got 6/],
      ['last above the maximum', { last: 100 }, /"last" must be an integer from 0 to 5/],
      ['garbage after', { first: 1, after: 'not-a-cursor' }, /"after" cursor is not valid/],
      ['garbage before', { last: 1, before: 'x.y' }, /"before" cursor is not valid/],
    ];
    for (const [name, args, message] of cases) {
      it(name, () => {
        const list = createFakeList(rowsOf(20), 10);
        let thrown: unknown;
        try {
          void resolve(list, 10, args);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(InvalidInputError);
        expect((thrown as Error).message).toMatch(message);
        expect(list.reads).toEqual([]);
      });
    }
  });

  it('refuses a cursor issued by another connection', () => {
    const rows = rowsOf(20);
    const list = createFakeList(rows, 10);
    const foreign = cursorFor(rows, 3, 'rows:another-connection');
    expect(() => resolve(list, 10, { first: 2, after: foreign })).toThrow(InvalidInputError);
  });

  it('answers synchronously when every page is already in hand (the warm path allocates no promise)', () => {
    const rows = rowsOf(30);
    const list = createFakeList(rows, 10);
    const result = resolve(list, 10, { first: 5, after: cursorFor(rows, 12) });
    expect(result).not.toBeInstanceOf(Promise);
  });

  it('gives pageInfo lazy cursors from its prototype, not accessors of its own', () => {
    // An object literal with getters gets a hidden class per object, which kept every
    // request's objects alive through young-generation GCs (most of the warm path's GC work).
    const rows = rowsOf(30);
    const result = resolve(createFakeList(rows, 10), 10, { first: 5, after: cursorFor(rows, 12) });
    if (result instanceof Promise) throw new Error('expected a synchronous answer');
    for (const name of ['startCursor', 'endCursor']) expect(Object.getOwnPropertyDescriptor(result.pageInfo, name)).toBeUndefined();
    expect(result.pageInfo.endCursor).toBe(result.edges.at(-1)!.cursor);
  });
});

describe('a list whose pagination its pages contradict', () => {
  // What a Katapult-compatible server that miscounts may say on every page. The official
  // clients go by `total_pages` when there is one and otherwise stop on a short page.
  const misstatements: Array<[string, Partial<PaginationDto>]> = [
    ['large_set, no totals', { total: null, total_pages: null, large_set: true }],
    ['a huge total and no page count', { total: 1_000_000, total_pages: null, large_set: false }],
    ['large_set with a huge total', { total: 1_000_000, total_pages: null, large_set: true }],
    ['a huge total its page count contradicts', { total: 1_000_000, total_pages: 1, large_set: false }],
    ['a total smaller than the rows', { total: 3, total_pages: 1, large_set: false }],
    // Agreed by its page count at 5 a page (57 rows, 12 pages), for lists of at most 30 rows.
    ['a total its page count bears out, larger than the rows', { total: 57, total_pages: 12, large_set: false }],
  ];

  /**
   * Pages through the list as a Relay client does, forwards from the start or backwards from
   * the end, for as long as each page says more follows; the ids seen, in list order.
   */
  async function walk(list: FakeList, perPage: number, size: number, backward: boolean, believable: number | null = null): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | null = null;
    // One page more than the rows fill: a last page read past the end may come back empty.
    for (let request = 0; request <= Math.ceil(list.rows.length / size) + 1; request++) {
      const page = await resolve(list, perPage, backward ? { last: size, before: cursor } : { first: size, after: cursor });
      const ids = page.edges.map((edge) => edge.node.id);
      if (backward) seen.unshift(...ids);
      else seen.push(...ids);
      // A count its own page count bears out is believed until a page read shows otherwise.
      expect(page.totalCount === null || page.totalCount === list.rows.length || page.totalCount === believable, `totalCount ${page.totalCount}`).toBe(true);
      if (!(backward ? page.pageInfo.hasPreviousPage : page.pageInfo.hasNextPage)) return seen;
      cursor = backward ? page.pageInfo.startCursor : page.pageInfo.endCursor;
      expect(cursor, 'a page that says more follows gives a cursor to read it from').not.toBeNull();
    }
    throw new Error(`the walk ${backward ? 'backwards' : 'forwards'} did not end`);
  }

  it('ends where the pages do: a short page is the last, and every walk reads each row once, forwards or backwards', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 30 }),
        fc.constantFrom(5, 6, 8),
        fc.integer({ min: 1, max: MAX_SIZE }),
        fc.constantFrom(...misstatements),
        fc.boolean(),
        async (count, perPage, size, [, stated], async) => {
          const rows = rowsOf(count);
          const all = rows.map((row) => row.id);
          const believable = stated.total != null && stated.total_pages === Math.ceil(stated.total / perPage) ? stated.total : null;
          expect(await walk(createFakeList(rows, perPage, { stated, async }), perPage, size, false, believable)).toEqual(all);
          expect(await walk(createFakeList(rows, perPage, { stated, async }), perPage, size, true, believable)).toEqual(all);
        },
      ),
      { numRuns: 300 },
    );
  });

  for (const [name, stated] of misstatements.slice(0, 3)) {
    it(`says nothing follows a short page, from one read, whatever it states (${name})`, async () => {
      // 12 rows where 200 were asked for: the end of the list.
      const rows = rowsOf(12);
      const list = createFakeList(rows, 200, { stated });
      const page = await resolve(list, 200, { first: 5, after: cursorFor(rows, 8) });
      expect(page.edges.map((e) => e.node.id)).toEqual(['row_9', 'row_10', 'row_11']);
      expect(page.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
      expect(page.totalCount).toBeNull();
      expect(list.reads).toEqual([1]);
      const end = await resolve(list, 200, { last: 2 });
      expect(end.edges.map((e) => e.node.id)).toEqual(['row_10', 'row_11']);
      expect(end.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    });
  }

  it('reads `last` from where the pages end when the count and its page count agree on more rows than there are', async () => {
    const rows = rowsOf(12);
    const list = createFakeList(rows, 5, { stated: { total: 57, total_pages: 12, large_set: false } });
    const end = await resolve(list, 5, { last: 3 });
    expect(end.edges.map((e) => e.node.id)).toEqual(['row_9', 'row_10', 'row_11']);
    expect(end.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    expect(end.pageInfo.startCursor).not.toBeNull();
    expect(end.totalCount).toBeNull();
  });

  it('ends a large_set list that fills its last page exactly with one page read past it, found empty', async () => {
    const rows = rowsOf(400);
    const list = createFakeList(rows, 200, { stated: { total: null, total_pages: null, large_set: true } });
    const last = await resolve(list, 200, { first: 5, after: cursorFor(rows, 394) });
    expect(last.edges.map((e) => e.node.id)).toEqual(rows.slice(395).map((r) => r.id));
    const past = await resolve(list, 200, { first: 5, after: last.pageInfo.endCursor });
    expect(past.edges).toEqual([]);
    expect(past.pageInfo).toMatchObject({ hasNextPage: false, endCursor: null });
    // From the end: the page holding row 1,000 is empty, so the end is looked for between it and the first.
    const fromEnd = await resolve(list, 200, { last: 3 });
    expect(fromEnd.edges.map((e) => e.node.id)).toEqual(['row_397', 'row_398', 'row_399']);
    expect(fromEnd.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
  });
});

describe('cursor signing', () => {
  it('signs an edge\'s cursor only when it is read, and maps nodes without signing any', async () => {
    const list = createFakeList(rowsOf(20), 10);
    const encoded: number[] = [];
    const counting = { ...codec, encode: (binding: string, position: { offset: number; id: string }) => (encoded.push(position.offset), codec.encode(binding, position)) };
    const result = await resolveConnection({ args: { first: 5 }, binding: BINDING, codec: counting, sizes: { perPage: 10, defaultSize: 3, maxSize: 5 }, fetchPage: (page) => list.fetchPage(page), idOf });
    const mapped = mapEdges(result.edges, (row) => ({ name: row.id }));
    expect(mapped.map((edge) => edge.node.name)).toEqual(result.edges.map((edge) => edge.node.id));
    expect(encoded).toEqual([]);
    expect(result.pageInfo.endCursor).toBe(cursorFor(list.rows, 4));
    expect(mapped[2]!.cursor).toBe(cursorFor(list.rows, 2));
    expect(encoded).toEqual([4, 2]);
    // A cursor is signed once per edge, however often it is read.
    expect(mapped[2]!.cursor).toBe(result.edges[2]!.cursor);
    expect(encoded).toEqual([4, 2]);
  });
});
