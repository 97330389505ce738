import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/tokens.js';
import { createTestGateway, errorCodes, type TestGateway } from '../helpers/gateway.js';
import { WINDOW, type Connection } from './vm-window.js';

/**
 * Model-based sequences of Relay requests against the VM connection. The model is the full
 * ordered id list, read once through the gateway; every answer in a random sequence (cursors
 * taken from earlier answers, `after` and `before` together, sizes at and past the limits,
 * `first` and `last` together, cursors of the other organization) is compared with the
 * Relay connection spec's algorithm applied to that list.
 *
 * pageInfo is checked where the spec is strict (hasNextPage for `first`, hasPreviousPage for
 * `last`); where it lets a server choose (hasPreviousPage for `first`, hasNextPage for `last`)
 * only that a `true` is never a lie.
 */


type Sub = 'globex' | 'acme';
const SUBS: readonly Sub[] = ['globex', 'acme'];
const MAX = 100;
const DEFAULT_SIZE = 20;
const SEED = 20_261_208;

interface Org {
  sub: Sub;
  token: string;
  /** The model: every VM id in list order. */
  all: string[];
  indexOf: Map<string, number>;
  /** Cursors seen in answers, with their row's index, in the order they were seen. */
  cursors: Array<{ cursor: string; index: number }>;
  known: Set<string>;
}

let gateway: TestGateway;
const orgs = {} as Record<Sub, Org>;

async function ask(org: Org, args: Record<string, unknown>) {
  const { status, body } = await gateway.query(WINDOW, { token: org.token, variables: { sub: org.sub, ...args } });
  expect(status).toBe(200);
  return body;
}

function remember(org: Org, connection: Connection): void {
  for (const edge of connection.edges) {
    if (org.known.has(edge.cursor)) continue;
    org.known.add(edge.cursor);
    org.cursors.push({ cursor: edge.cursor, index: org.indexOf.get(edge.node.id)! });
  }
}

async function window(org: Org, args: Record<string, unknown>): Promise<Connection> {
  const body = await ask(org, args);
  expect(body.errors, `${JSON.stringify(args)}: ${JSON.stringify(body.errors)}`).toBeUndefined();
  const connection = body.data!.organization.virtualMachines as Connection;
  return connection;
}

async function refused(org: Org, args: Record<string, unknown>): Promise<void> {
  const body = await ask(org, args);
  expect(errorCodes(body), JSON.stringify(args)).toEqual(['BAD_USER_INPUT']);
  expect(body.data).toEqual({ organization: { virtualMachines: null } });
}

interface Request {
  first?: number;
  last?: number;
  /** Row index of the `after` / `before` cursor. */
  after?: number;
  before?: number;
}

/** The Relay spec's algorithm (ApplyCursorsToEdges, EdgesToReturn, hasPreviousPage/hasNextPage) over the model. */
function expected(org: Org, request: Request) {
  const n = org.all.length;
  const lo = request.after === undefined ? 0 : request.after + 1;
  const hi = request.before === undefined ? n : Math.max(lo, request.before);
  let start = lo;
  let end = hi;
  const first = request.first === undefined && request.last === undefined ? DEFAULT_SIZE : request.first;
  let strictNext: boolean | undefined;
  let strictPrevious: boolean | undefined;
  if (first !== undefined) {
    end = Math.min(hi, lo + first);
    strictNext = hi - lo > first;
  } else {
    start = Math.max(lo, hi - request.last!);
    strictPrevious = hi - lo > request.last!;
  }
  return {
    ids: org.all.slice(start, end),
    strictNext,
    strictPrevious,
    /** Whether any row of the whole list lies before / after the cursors' range (what a permissive flag may report). */
    rowsBefore: lo > 0,
    rowsAfter: hi < n,
  };
}

function check(org: Org, request: Request, connection: Connection): void {
  const label = JSON.stringify(request);
  const want = expected(org, request);
  expect(connection.edges.map((e) => e.node.id), label).toEqual(want.ids);
  expect(connection.pageInfo.startCursor, label).toBe(connection.edges[0]?.cursor ?? null);
  expect(connection.pageInfo.endCursor, label).toBe(connection.edges.at(-1)?.cursor ?? null);
  expect(connection.totalCount, label).toBe(org.sub === 'acme' ? null : org.all.length);
  if (want.strictNext !== undefined) expect(connection.pageInfo.hasNextPage, `${label} hasNextPage`).toBe(want.strictNext);
  else if (connection.pageInfo.hasNextPage) expect(want.rowsAfter, `${label} hasNextPage true with nothing after`).toBe(true);
  if (want.strictPrevious !== undefined) expect(connection.pageInfo.hasPreviousPage, `${label} hasPreviousPage`).toBe(want.strictPrevious);
  else if (connection.pageInfo.hasPreviousPage) expect(want.rowsBefore, `${label} hasPreviousPage true with nothing before`).toBe(true);
}

beforeAll(async () => {
  gateway = createTestGateway();
  for (const sub of SUBS) {
    const org: Org = { sub, token: DEMO_TOKENS[sub], all: [], indexOf: new Map(), cursors: [], known: new Set() };
    // The model: one forward walk of the whole list, 100 at a time.
    const walked: Connection[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Connection = await window(org, { first: MAX, after });
      walked.push(page);
      for (const edge of page.edges) {
        org.indexOf.set(edge.node.id, org.all.length);
        org.all.push(edge.node.id);
      }
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    for (const page of walked) remember(org, page);
    orgs[sub] = org;
  }
  expect(orgs.globex.all).toHaveLength(12);
  expect(orgs.acme.all).toHaveLength(1250);
  expect(new Set(orgs.acme.all).size).toBe(1250);
});

afterAll(() => gateway.close());

/** A size: mostly within 0..100, sometimes just past either end. */
const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: MAX }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, MAX) },
  { weight: 1, arbitrary: fc.constantFrom(-1, MAX + 1) },
);
/** Which earlier cursor: `recent` picks among the last answer's, otherwise any seen so far. */
const pick = fc.option(fc.record({ recent: fc.boolean(), at: fc.nat() }), { nil: undefined, freq: 3 });

const step = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('first' as const), n: size, after: pick, before: pick }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('last' as const), n: size, after: pick, before: pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('both' as const), first: size, last: size, after: pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('foreign' as const), backward: fc.boolean(), n: fc.integer({ min: 1, max: MAX }), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('none' as const), after: pick }) },
);
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

function choose(org: Org, recent: Array<{ cursor: string; index: number }>, choice: { recent: boolean; at: number } | undefined) {
  if (choice === undefined) return undefined;
  const pool = choice.recent && recent.length > 0 ? recent : org.cursors;
  return pool[choice.at % pool.length]!;
}

async function run(org: Org, steps: Step[]): Promise<void> {
  let recent: Array<{ cursor: string; index: number }> = [];
  for (const s of steps) {
    if (s.kind === 'foreign') {
      const other = orgs[org.sub === 'acme' ? 'globex' : 'acme'];
      const { cursor } = other.cursors[s.at % other.cursors.length]!;
      await refused(org, s.backward ? { last: s.n, before: cursor } : { first: s.n, after: cursor });
      continue;
    }
    const after = choose(org, recent, s.after);
    const args: Record<string, unknown> = {};
    const request: Request = {};
    if (after) (args.after = after.cursor), (request.after = after.index);
    if (s.kind === 'both') {
      await refused(org, { ...args, first: s.first, last: s.last });
      continue;
    }
    if (s.kind !== 'none') {
      const before = choose(org, recent, s.before);
      if (before) (args.before = before.cursor), (request.before = before.index);
      args[s.kind] = s.n;
      request[s.kind] = s.n;
      if (s.n < 0 || s.n > MAX) {
        await refused(org, args);
        continue;
      }
      // `last` without `before` on acme reads from the end: fine, the list is found in cache.
    }
    const connection = await window(org, args);
    check(org, request, connection);
    const before = org.cursors.length;
    remember(org, connection);
    recent = connection.edges.map((e) => ({ cursor: e.cursor, index: org.indexOf.get(e.node.id)! }));
    expect(org.cursors.length).toBe(before); // every row's cursor was already seen in the model walk: cursors are stable
  }
}

describe('VM connection against a model of the list', () => {
  for (const sub of SUBS) {
    it(`${sub}: every answer in a random sequence of windows is the spec's answer over the model`, async () => {
      const org = orgs[sub];
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), (steps) => run(org, steps)),
        { numRuns: 150, seed: SEED },
      );
    });

    it(`${sub}: paging forwards then backwards from where the walk stopped returns the same pages`, async () => {
      const org = orgs[sub];
      await fc.assert(
        fc.asyncProperty(
          fc.option(fc.nat(), { nil: undefined }),
          fc.integer({ min: 1, max: MAX }),
          fc.integer({ min: 1, max: 6 }),
          async (startAt, n, pages) => {
            const start = startAt === undefined ? undefined : org.cursors[startAt % org.cursors.length]!;
            const forward: Connection[] = [];
            let after = start?.cursor;
            for (let i = 0; i < pages; i++) {
              const page = await window(org, { first: n, after });
              forward.push(page);
              if (!page.pageInfo.hasNextPage) break;
              after = page.pageInfo.endCursor!;
            }
            // Backwards from the last page's start: each earlier forward page comes back, in order.
            for (let i = forward.length - 1; i > 0; i--) {
              const page = await window(org, { last: n, before: forward[i]!.pageInfo.startCursor });
              expect(page.edges.map((e) => e.node.id)).toEqual(forward[i - 1]!.edges.map((e) => e.node.id));
              expect(page.edges.map((e) => e.cursor)).toEqual(forward[i - 1]!.edges.map((e) => e.cursor));
              // hasPreviousPage for `last` (no `after`) is strict: whether any row precedes this page.
              expect(page.pageInfo.hasPreviousPage).toBe(org.indexOf.get(page.edges[0]!.node.id)! > 0);
            }
          },
        ),
        { numRuns: 40, seed: SEED },
      );
    });
  }
});
