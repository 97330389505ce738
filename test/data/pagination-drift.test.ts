import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveConnection, type ConnectionArgs, type UpstreamPage } from '../../src/data/pagination.js';
import { BINDING, codec, createFakeList, cursorFor, idOf, rowsOf, type FakeList, type Row } from './fake-list.js';

/**
 * Rows move upstream between a client's requests (VMs created or deleted before the row a
 * cursor names). A cursor remembers its row's offset *and* id; resuming from it must continue
 * next to that row wherever it now is, not at the stale offset.
 */

const PER_PAGE = 5;
const sizes = { perPage: PER_PAGE, defaultSize: 3, maxSize: PER_PAGE };

async function ids(list: FakeList, args: ConnectionArgs): Promise<string[]> {
  const result = await resolveConnection({ args, binding: BINDING, codec, sizes, fetchPage: (page) => list.fetchPage(page), idOf });
  return result.edges.map((edge) => edge.node.id);
}

const added = (n: number): Row[] => rowsOf(n, 'new');
const idsAfter = (rows: readonly Row[], id: string, n: number) => {
  const at = rows.findIndex((r) => r.id === id);
  return rows.slice(at + 1, at + 1 + n).map((r) => r.id);
};
const idsBefore = (rows: readonly Row[], id: string, n: number) => {
  const at = rows.findIndex((r) => r.id === id);
  return rows.slice(Math.max(0, at - n), at).map((r) => r.id);
};

describe('resuming from a cursor after rows moved upstream', () => {
  const scenarios: Array<{ name: string; cursorAt: number; edit: (rows: Row[]) => void }> = [
    { name: 'rows inserted before it, same page', cursorAt: 3, edit: (rows) => rows.splice(0, 0, ...added(2)) },
    { name: 'rows removed before it, same page', cursorAt: 3, edit: (rows) => rows.splice(0, 2) },
    { name: 'rows inserted before the last row of a page (it moves to the next page)', cursorAt: 4, edit: (rows) => rows.splice(1, 0, ...added(3)) },
    { name: 'rows removed before the last row of a page (the window starts on the next page)', cursorAt: 4, edit: (rows) => rows.splice(1, 2) },
    { name: 'rows removed before the first row of a page (it moves to the previous page)', cursorAt: 10, edit: (rows) => rows.splice(2, 3) },
    { name: 'rows inserted before the first row of a page', cursorAt: 10, edit: (rows) => rows.splice(7, 0, ...added(2)) },
  ];

  for (const { name, cursorAt, edit } of scenarios) {
    it(`forwards (first/after): ${name}`, async () => {
      const rows = rowsOf(30);
      const cursor = cursorFor(rows, cursorAt);
      const id = rows[cursorAt]!.id;
      const list = createFakeList(rows, PER_PAGE);
      edit(list.rows);
      expect(await ids(list, { first: 3, after: cursor })).toEqual(idsAfter(list.rows, id, 3));
    });

    it(`backwards (last/before): ${name}`, async () => {
      const rows = rowsOf(30);
      const cursor = cursorFor(rows, cursorAt);
      const id = rows[cursorAt]!.id;
      const list = createFakeList(rows, PER_PAGE, { async: true });
      edit(list.rows);
      expect(await ids(list, { last: 3, before: cursor })).toEqual(idsBefore(list.rows, id, 3));
    });
  }

  it('falls back to the remembered offset when the cursor’s own row was deleted', async () => {
    const rows = rowsOf(30);
    const cursor = cursorFor(rows, 7);
    const list = createFakeList(rows, PER_PAGE);
    list.rows.splice(7, 1);
    // Row 7 is gone; the window starts at offset 8 of the new list (old row_9).
    expect(await ids(list, { first: 2, after: cursor })).toEqual(['row_9', 'row_10']);
  });

  it('pages back from the list’s end when the before cursor’s row and everything after it were deleted', async () => {
    const resolve = (list: FakeList, args: ConnectionArgs) => resolveConnection({ args, binding: BINDING, codec, sizes, fetchPage: (page) => list.fetchPage(page), idOf });
    for (const [length, cursorAt, kept] of [
      [12, 9, 6],
      [12, 9, 0],
      [14, 12, 7],
    ] as const) {
      const rows = rowsOf(length);
      const before = cursorFor(rows, cursorAt);
      const list = createFakeList(rows, PER_PAGE, { async: true });
      list.rows.splice(kept);
      const result = await resolve(list, { last: 3, before });
      // The row is gone and its offset is past the end: the last rows there are, with a cursor to page back from.
      const expected = list.rows.slice(Math.max(0, kept - 3)).map((r) => r.id);
      expect(result.edges.map((e) => e.node.id), `${length} rows, cursor at ${cursorAt}, ${kept} kept`).toEqual(expected);
      expect(result.pageInfo.hasPreviousPage).toBe(kept > 3);
      expect(result.pageInfo.startCursor).toBe(result.edges[0]?.cursor ?? null);
    }
  });

  it('re-aligns on any move of less than a page, whichever way and wherever the cursor sits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 39 }),
        fc.integer({ min: -(PER_PAGE - 1), max: PER_PAGE - 1 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: PER_PAGE }),
        fc.boolean(),
        async (cursorAt, shift, editAt, size, forwards) => {
          const rows = rowsOf(40);
          const id = rows[cursorAt]!.id;
          const cursor = cursorFor(rows, cursorAt);
          const list = createFakeList(rows, PER_PAGE);
          // Insert or remove rows somewhere before the cursor's row (or after it: no move).
          const at = Math.min(editAt, cursorAt);
          if (shift > 0) list.rows.splice(at, 0, ...added(shift));
          else if (shift < 0) list.rows.splice(Math.max(0, at + shift), Math.min(-shift, at));
          const got = await ids(list, forwards ? { first: size, after: cursor } : { last: size, before: cursor });
          expect(got).toEqual(forwards ? idsAfter(list.rows, id, size) : idsBefore(list.rows, id, size));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('sets the flags by where the cursors’ rows are now, not where they were', async () => {
    const resolve = (list: FakeList, args: ConnectionArgs) => resolveConnection({ args, binding: BINDING, codec, sizes, fetchPage: (page) => list.fetchPage(page), idOf });
    // last after a cursor whose row moved 2 down: the window starts right after it, so nothing precedes it there.
    const grown = rowsOf(20);
    const after = cursorFor(grown, 15);
    const longer = createFakeList(grown, PER_PAGE);
    longer.rows.splice(0, 0, ...added(2));
    const backwards = await resolve(longer, { last: 5, after });
    expect(backwards.edges.map((e) => e.node.id)).toEqual(['row_16', 'row_17', 'row_18', 'row_19']);
    expect(backwards.pageInfo.hasPreviousPage).toBe(false);
    // first before a cursor whose row moved 2 up: the window ends right before it, so nothing follows it there.
    const shrunk = rowsOf(20);
    const before = cursorFor(shrunk, 5);
    const shorter = createFakeList(shrunk, PER_PAGE);
    shorter.rows.splice(0, 2);
    const forwards = await resolve(shorter, { first: 5, before });
    expect(forwards.edges.map((e) => e.node.id)).toEqual(['row_2', 'row_3', 'row_4']);
    expect(forwards.pageInfo.hasNextPage).toBe(false);
  });

  it('reads no extra page when nothing moved', async () => {
    const rows = rowsOf(30);
    const list = createFakeList(rows, PER_PAGE);
    await ids(list, { first: 3, after: cursorFor(rows, 6) });
    expect(list.reads).toEqual([2]);
    list.reads.length = 0;
    await ids(list, { last: 3, before: cursorFor(rows, 12) });
    expect(list.reads).toEqual([2, 3]);
  });
});

/** The list behind a cache of pages, as the gateway reads it: a page stays as first read until it is read with `refresh`. */
function cached(list: FakeList): { fetchPage(page: number, refresh?: boolean): UpstreamPage<Row>; refreshed: number[] } {
  const held = new Map<number, UpstreamPage<Row>>();
  const refreshed: number[] = [];
  return {
    refreshed,
    fetchPage(page, refresh) {
      if (refresh) refreshed.push(page);
      const known = refresh ? undefined : held.get(page);
      if (known) return known;
      const read = list.fetchPage(page) as UpstreamPage<Row>;
      held.set(page, read);
      return read;
    },
  };
}

/** Walks the whole list forwards `size` rows at a time, calling `edit` after the `editAfter`-th page. */
async function walk(list: FakeList, size: number, editAfter: number, edit: (rows: Row[]) => void) {
  const source = cached(list);
  const seen: string[] = [];
  let after: string | undefined;
  for (let step = 0; step < 1_000; step++) {
    const result = await resolveConnection({ args: { first: size, after }, binding: BINDING, codec, sizes, fetchPage: (page, refresh) => source.fetchPage(page, refresh), idOf });
    seen.push(...result.edges.map((edge) => edge.node.id));
    if (step + 1 === editAfter) edit(list.rows);
    if (!result.pageInfo.hasNextPage) break;
    after = result.pageInfo.endCursor!;
  }
  return { seen, refreshed: source.refreshed };
}

describe('pages cached at different times, of a list that changed in between', () => {
  it('neither repeats nor skips a row when rows were added before the walk, on a counted list or not', async () => {
    for (const length of [40, 1_100]) {
      for (const [size, editAfter] of [
        [3, 1],
        [4, 2],
        [5, 1],
        [2, 3],
      ] as const) {
        const rows = rowsOf(length);
        const list = createFakeList(rows.slice(), PER_PAGE);
        const { seen } = await walk(list, size, editAfter, (rows) => rows.splice(0, 0, ...added(2)));
        const label = `${length} rows, ${size} a page, 2 added after page ${editAfter}`;
        expect(new Set(seen).size, label).toBe(seen.length);
        expect(seen, label).toEqual(rows.map((r) => r.id));
      }
    }
  });

  it('skips no row when rows already walked past were deleted, on a counted list', async () => {
    for (const [size, editAfter] of [
      [3, 1],
      [4, 2],
      [5, 1],
    ] as const) {
      const rows = rowsOf(40);
      const list = createFakeList(rows.slice(), PER_PAGE);
      const { seen } = await walk(list, size, editAfter, (rows) => rows.splice(0, 2));
      expect(seen, `${size} a page, 2 deleted after page ${editAfter}`).toEqual(rows.map((r) => r.id));
    }
  });

  it('works out the end again from the pages read again, for last without before', async () => {
    // 1,030 rows: uncounted, and the end within the pages read past row 1,000.
    for (const length of [40, 1_030]) {
      const list = createFakeList(rowsOf(length), PER_PAGE);
      const source = cached(list);
      const resolve = (args: ConnectionArgs) => resolveConnection({ args, binding: BINDING, codec, sizes, fetchPage: (page, refresh) => source.fetchPage(page, refresh), idOf });
      await resolve({ first: 3 });
      list.rows.splice(0, 0, ...added(2));
      const result = await resolve({ last: 3 });
      const label = `${length} rows`;
      expect(result.edges.map((edge) => edge.node.id), label).toEqual(list.rows.slice(-3).map((r) => r.id));
      expect(result.pageInfo.hasNextPage, label).toBe(false);
      expect(result.totalCount, label).toBe(length > 1_000 ? null : length + 2);
    }
  });

  it('never puts one row twice in a page when the window moved onto a page read after the others', async () => {
    const rows = rowsOf(30);
    const cursor = cursorFor(rows, 5);
    const list = createFakeList(rows, PER_PAGE);
    const source = cached(list);
    // The cursor's page is cached with its row moved within it; then more rows come before it.
    list.rows.splice(0, 0, ...added(2));
    source.fetchPage(2, true);
    list.rows.splice(0, 0, ...rowsOf(1, 'newer'));
    const result = await resolveConnection({ args: { first: 4, after: cursor }, binding: BINDING, codec, sizes, fetchPage: (page, refresh) => source.fetchPage(page, refresh), idOf });
    expect(result.edges.map((edge) => edge.node.id)).toEqual(idsAfter(list.rows, 'row_5', 4));
  });

  it('never puts one row twice in a page even when the pages read again still disagree', async () => {
    const rows = rowsOf(30);
    const cursor = cursorFor(rows, 4);
    const list = createFakeList(rows, PER_PAGE);
    let added = 0;
    // A row is created at the front after every read: no two reads are of one state of the list.
    const fetchPage = (page: number) => {
      const read = list.fetchPage(page);
      list.rows.unshift({ id: `busy_${added++}` });
      return read;
    };
    const result = await resolveConnection({ args: { first: 3, after: cursor }, binding: BINDING, codec, sizes, fetchPage, idOf });
    const ids = result.edges.map((edge) => edge.node.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('reads pages again only when they disagree', async () => {
    const rows = rowsOf(40);
    const still = await walk(createFakeList(rows.slice(), PER_PAGE), 3, 1, () => undefined);
    expect(still.refreshed).toEqual([]);
    const changed = await walk(createFakeList(rows.slice(), PER_PAGE), 3, 1, (rows) => rows.splice(0, 0, ...added(2)));
    expect(changed.refreshed.length).toBeGreaterThan(0);
    expect(changed.refreshed.length).toBeLessThanOrEqual(4);
  });
});
