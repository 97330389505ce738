import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createLogger } from '../../src/logger.js';
import { createTestGateway, errorCodes, requestsTo, rewritingAnswers, type TestGateway } from '../helpers/gateway.js';
import { WINDOW, type Connection } from './vm-window.js';

/**
 * Relay windows through the whole gateway against the simulator: any window a client can
 * ask for (forwards or backwards, any size the gateway allows, starting at any cursor it
 * handed out before) is exactly the matching slice of the organization's full VM list.
 */


const VM_LIST = '/organizations/organization/virtual_machines';
const MAX_SIZE = 100;

interface Org {
  sub: 'globex' | 'acme';
  token: string;
  /** Every VM id in list order, from the simulator's own data. */
  all: string[];
  /** Cursors seen so far, with the index of their row. */
  cursors: Array<{ cursor: string; index: number }>;
}

let gateway: TestGateway;
const orgs = {} as Record<'globex' | 'acme', Org>;

async function window(org: Org, args: Record<string, unknown>): Promise<Connection> {
  const { body } = await gateway.query(WINDOW, { token: org.token, variables: { sub: org.sub, ...args } });
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  const connection = body.data!.organization.virtualMachines as Connection;
  for (const edge of connection.edges) org.cursors.push({ cursor: edge.cursor, index: org.all.indexOf(edge.node.id) });
  return connection;
}

function expectSlice(org: Org, connection: Connection, start: number, end: number): void {
  const ids = org.all.slice(start, end);
  expect(connection.edges.map((e) => e.node.id)).toEqual(ids);
  expect(connection.pageInfo.startCursor).toBe(connection.edges[0]?.cursor ?? null);
  expect(connection.pageInfo.endCursor).toBe(connection.edges.at(-1)?.cursor ?? null);
  expect(connection.pageInfo.hasPreviousPage).toBe(start > 0);
  expect(connection.pageInfo.hasNextPage).toBe(end < org.all.length);
  expect(connection.totalCount).toBe(org.sub === 'acme' ? null : org.all.length);
}

beforeAll(async () => {
  gateway = createTestGateway();
  for (const sub of ['globex', 'acme'] as const) {
    const token = DEMO_TOKENS[sub];
    orgs[sub] = { sub, token, all: gateway.sim.visibleVirtualMachines(token, sub).map((vm) => vm.id), cursors: [] };
  }
  expect(orgs.globex.all).toHaveLength(12);
  expect(orgs.acme.all).toHaveLength(1250);
  // Earlier pages: walk each list once, keeping every cursor as a later starting point.
  for (const org of Object.values(orgs)) {
    let after: string | null = null;
    for (;;) {
      const page: Connection = await window(org, { first: MAX_SIZE, after });
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(org.cursors.map((c) => c.index)).toEqual(org.all.map((_, i) => i));
  }
});

afterAll(() => gateway.close());

const step = fc.record({ backward: fc.boolean(), size: fc.integer({ min: 1, max: MAX_SIZE }), pick: fc.nat() });

describe('VM connection windows', () => {
  for (const sub of ['globex', 'acme'] as const) {
    it(`${sub}: any chain of windows equals the matching slices of the full list`, async () => {
      const org = orgs[sub];
      await fc.assert(
        fc.asyncProperty(fc.option(fc.integer({ min: 1, max: MAX_SIZE }), { nil: undefined }), fc.array(step, { minLength: 1, maxLength: 4 }), async (opening, steps) => {
          if (opening !== undefined) {
            // From an end of the list: `first` alone, or (counted lists only) `last` alone.
            if (sub === 'globex' && opening % 2 === 0) {
              expectSlice(org, await window(org, { last: opening }), Math.max(0, org.all.length - opening), org.all.length);
            } else {
              expectSlice(org, await window(org, { first: opening }), 0, Math.min(org.all.length, opening));
            }
          }
          for (const { backward, size, pick } of steps) {
            const { cursor, index } = org.cursors[pick % org.cursors.length]!;
            if (backward) {
              expectSlice(org, await window(org, { last: size, before: cursor }), Math.max(0, index - size), index);
            } else {
              expectSlice(org, await window(org, { first: size, after: cursor }), index + 1, Math.min(org.all.length, index + 1 + size));
            }
          }
        }),
        { numRuns: 40 },
      );
    });
  }

  it('defaults to the configured page size without first or last', async () => {
    const connection = await window(orgs.acme, {});
    expectSlice(orgs.acme, connection, 0, 20);
  });

  it('reads acme (a list Katapult does not count) backwards from its end, finding the end from the pages past row 1,000', async () => {
    const acme = orgs.acme;
    const connection = await window(acme, { last: 10 });
    expectSlice(acme, connection, 1240, 1250);
    const fresh = createTestGateway();
    try {
      const { body } = await fresh.query(WINDOW, { token: acme.token, variables: { sub: 'acme', last: 3 } });
      expect(body.errors).toBeUndefined();
      // The first page (it says the list is uncounted), then pages 6 and 7 of 200 (rows 1,000 to 1,249).
      expect(requestsTo(fresh.sim, VM_LIST).map((r) => new URLSearchParams(r.query).get('page'))).toEqual(['1', '6', '7']);
    } finally {
      await fresh.close();
    }
  });

  it('reads the last page of acme forwards and says nothing follows', async () => {
    const acme = orgs.acme;
    const beforeEnd = acme.cursors.find((c) => c.index === 1239)!;
    expectSlice(acme, await window(acme, { first: MAX_SIZE, after: beforeEnd.cursor }), 1240, 1250);
  });
});

describe('a Katapult-compatible server that answers smaller pages than asked for', () => {
  it('refuses the list, once per request and without retries, instead of reading its short page as the end; and says why at error level', async () => {
    const lines: string[] = [];
    const clamped = createTestGateway({
      logger: createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } }),
      wrapFetch: rewritingAnswers(/\/virtual_machines$/, (body: { virtual_machines: unknown[]; pagination: { per_page: number } }) => {
        body.virtual_machines = body.virtual_machines.slice(0, 100);
        body.pagination.per_page = 100;
      }),
    });
    try {
      const { body } = await clamped.query(WINDOW, { token: orgs.acme.token, variables: { sub: 'acme', first: 10, after: orgs.acme.cursors.find((c) => c.index === 150)!.cursor } });
      expect(body.data).toEqual({ organization: { virtualMachines: null } });
      expect(errorCodes(body)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(body.errors![0]!.message).toMatch(/pages of another size than the gateway is set to read \(UPSTREAM_PER_PAGE\)/);
      expect(requestsTo(clamped.sim, VM_LIST)).toHaveLength(1);
      const records = lines.map((line) => JSON.parse(line) as { level: number; msg: string });
      expect(records.some((r) => r.level === 50 && /configuration error: Katapult answered pages of 100 items where UPSTREAM_PER_PAGE asks for 200; set UPSTREAM_PER_PAGE to 100 or less/.test(r.msg))).toBe(true);
    } finally {
      await clamped.close();
    }
  });
});

describe('a Katapult-compatible server whose VM list miscounts', () => {
  /**
   * globex's 12 VMs (one short page of the 200 asked for) under pagination that says there are
   * more; a Relay client pages on for as long as `hasNextPage` (or `hasPreviousPage`) says so.
   */
  async function walk(stated: Record<string, unknown>, backward: boolean): Promise<string[]> {
    const miscounting = createTestGateway({
      wrapFetch: rewritingAnswers(/\/organizations\/organization\/virtual_machines$/, (body: { pagination: Record<string, unknown> }) => {
        body.pagination = { ...body.pagination, ...stated };
      }),
    });
    try {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let request = 0; request < 6; request++) {
        const args = backward ? { last: 5, before: cursor } : { first: 5, after: cursor };
        const { body } = await miscounting.query(WINDOW, { token: orgs.globex.token, variables: { sub: 'globex', ...args } });
        expect(body.errors).toBeUndefined();
        const connection = body.data!.organization.virtualMachines as Connection;
        const ids = connection.edges.map((edge) => edge.node.id);
        if (backward) seen.unshift(...ids);
        else seen.push(...ids);
        expect(connection.totalCount).toBeNull();
        if (!(backward ? connection.pageInfo.hasPreviousPage : connection.pageInfo.hasNextPage)) return seen;
        cursor = backward ? connection.pageInfo.startCursor : connection.pageInfo.endCursor;
        expect(cursor).not.toBeNull();
      }
      throw new Error(`the walk ${backward ? 'backwards' : 'forwards'} did not end`);
    } finally {
      await miscounting.close();
    }
  }

  for (const [name, stated] of [
    ['large_set without totals', { total: null, total_pages: null, large_set: true }],
    ['a total of a million and no page count', { total: 1_000_000, total_pages: null }],
  ] as const) {
    it(`ends the list at its short page (${name}), forwards and backwards`, async () => {
      expect(await walk(stated, false)).toEqual(orgs.globex.all);
      expect(await walk(stated, true)).toEqual(orgs.globex.all);
    });
  }
});

describe('a Katapult-compatible server whose list refuses the gateway\'s page size', () => {
  it('answers UPSTREAM_UNAVAILABLE, not the client\'s mistake, and tells the operator which setting to lower', async () => {
    const lines: string[] = [];
    // Katapult's own refusal of a per_page over a list's maximum (its reference: a 400 invalid_argument naming the argument).
    const refusing = createTestGateway({
      logger: createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } }),
      wrapFetch: (simulatorFetch) => (input, init) => {
        const url = new URL(String(input));
        if (url.pathname.endsWith(VM_LIST) && Number(url.searchParams.get('per_page')) > 100) {
          const detail = { path: ['per_page'], index: null, issue: 'validation_errors', issue_description: null, errors: ['less_than_or_equal_to_one_hundred'], argument: { id: 'arg_1', name: 'per_page', description: null } };
          return Promise.resolve(new Response(JSON.stringify({ error: { code: 'invalid_argument', description: "The 'per_page' argument is invalid", detail } }), { status: 400, headers: { 'content-type': 'application/json' } }));
        }
        return simulatorFetch(input, init);
      },
    });
    try {
      const { body } = await refusing.query(WINDOW, { token: orgs.acme.token, variables: { sub: 'acme', first: 10 } });
      expect(body.data).toEqual({ organization: { virtualMachines: null } });
      expect(errorCodes(body)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(body.errors![0]!.message).toMatch(/refuses the page size the gateway is set to read \(UPSTREAM_PER_PAGE\)/);
      const records = lines.map((line) => JSON.parse(line) as { level: number; msg: string });
      expect(records.some((r) => r.level === 50 && /configuration error: Katapult refused per_page=200 \(UPSTREAM_PER_PAGE\) for this list; set UPSTREAM_PER_PAGE below 200/.test(r.msg))).toBe(true);
      // One refused call, one error line: the request did not retry it.
      expect(records.filter((r) => r.level === 50)).toHaveLength(1);
    } finally {
      await refusing.close();
    }
  });
});

describe('window arguments the gateway refuses', () => {
  async function refused(args: Record<string, unknown>, sub: 'globex' | 'acme' = 'globex') {
    const org = orgs[sub];
    gateway.sim.clearRequests();
    const { status, body } = await gateway.query(WINDOW, { token: org.token, variables: { sub, ...args } });
    expect(status).toBe(200);
    expect(body.data).toEqual({ organization: { virtualMachines: null } });
    expect(errorCodes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.path).toEqual(['organization', 'virtualMachines']);
    return body.errors![0]!;
  }

  it('first and last together, without calling Katapult', async () => {
    const error = await refused({ first: 5, last: 5 });
    expect(error.message).toBe('Pass either "first" or "last", not both');
    expect(requestsTo(gateway.sim, VM_LIST)).toHaveLength(0);
  });

  it('a negative first or last, without calling Katapult', async () => {
    expect((await refused({ first: -1 })).message).toBe('"first" must be an integer from 0 to 100, got -1');
    expect((await refused({ last: -5 })).message).toBe('"last" must be an integer from 0 to 100, got -5');
    expect(requestsTo(gateway.sim, VM_LIST)).toHaveLength(0);
  });

  it('first or last above the maximum, without calling Katapult', async () => {
    expect((await refused({ first: 101 })).message).toBe('"first" must be an integer from 0 to 100, got 101');
    expect((await refused({ last: 1000 }, 'acme')).message).toBe('"last" must be an integer from 0 to 100, got 1000');
    expect(requestsTo(gateway.sim, VM_LIST)).toHaveLength(0);
  });
});

describe('a walk over pages the cache read at different times, of a list that changed in between', () => {
  /**
   * acme's VM list served from an array the test edits, as Katapult would serve it after VMs
   * were created or deleted; the gateway keeps each 200-row page for the VM list's TTL on its
   * own, so a walk takes page 1 as it was and page 2 as it is.
   */
  async function walk(counted: boolean, first: number, editAt: number, edit: (rows: Array<{ id: string }>) => void) {
    let rows: Array<{ id: string }> | null = null;
    const gateway = createTestGateway({
      wrapFetch: (simulator) =>
        rewritingAnswers(/\/organizations\/organization\/virtual_machines$/, (body: { pagination: Record<string, unknown>; virtual_machines: Array<{ id: string }> }, url) => {
          rows ??= gateway.sim.visibleVirtualMachines(DEMO_TOKENS.acme, 'acme').map((vm) => ({ ...vm }));
          const perPage = Number(url.searchParams.get('per_page'));
          const page = Number(url.searchParams.get('page'));
          body.virtual_machines = rows.slice((page - 1) * perPage, page * perPage);
          body.pagination = { ...body.pagination, total: counted ? rows.length : null, total_pages: counted ? Math.ceil(rows.length / perPage) : null, large_set: !counted };
        })(simulator),
    });
    try {
      const seen: string[] = [];
      let after: string | null = null;
      let original: string[] = [];
      for (let request = 0; request < 100; request++) {
        if (request === editAt) {
          original = rows!.map((r) => r.id);
          edit(rows!);
        }
        const { body } = await gateway.query(WINDOW, { token: DEMO_TOKENS.acme, variables: { sub: 'acme', first, after } });
        expect(body.errors).toBeUndefined();
        const connection = body.data!.organization.virtualMachines as Connection;
        seen.push(...connection.edges.map((edge) => edge.node.id));
        if (!connection.pageInfo.hasNextPage) break;
        after = connection.pageInfo.endCursor;
      }
      return { seen, original };
    } finally {
      await gateway.close();
    }
  }

  it('repeats no VM when VMs were created at the front of a list, counted or not, whichever window crosses the page boundary', async () => {
    for (const counted of [true, false]) {
      for (const [first, editAt] of [
        [100, 2],
        [30, 6],
      ] as const) {
        const { seen, original } = await walk(counted, first, editAt, (rows) => rows.unshift({ ...rows[0]!, id: 'vm_new1' }, { ...rows[0]!, id: 'vm_new2' }, { ...rows[0]!, id: 'vm_new3' }));
        const label = `${counted ? 'counted' : 'uncounted'}, first ${first}, created before request ${editAt}`;
        expect(seen.length - new Set(seen).size, label).toBe(0);
        expect(seen, label).toEqual(original);
      }
    }
  });

  it('skips no VM when VMs already walked past were deleted from a counted list', async () => {
    const { seen, original } = await walk(true, 100, 2, (rows) => rows.splice(0, 3));
    expect(seen).toEqual(original);
  });
});
