import { parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { useTieredJit } from '../../src/server/jit.js';
import { compiledOperationBytes, documentBytes } from '../../src/server/document-cache.js';
import { buildSchema } from '../../src/schema/index.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createTestGateway, errorCodes } from '../helpers/gateway.js';

const schema = buildSchema();
const MIB = 1024 * 1024;

/** Whether the plugin hands this execution to graphql-jit (it replaces the execute function) or leaves it to graphql-js. */
function compiles(plugin: ReturnType<typeof useTieredJit>, document: DocumentNode, operationName?: string): boolean {
  let replaced = false;
  const onExecute = plugin.onExecute as unknown as (payload: { args: { schema: GraphQLSchema; document: DocumentNode; operationName?: string }; setExecuteFn: () => void }) => unknown;
  onExecute({ args: { schema, document, operationName }, setExecuteFn: () => (replaced = true) });
  return replaced;
}

describe('useTieredJit', () => {
  it('leaves a document to graphql-js for its first `after` runs, then compiles it', () => {
    const plugin = useTieredJit({ after: 3, maxBytes: 8 * MIB });
    const hot = parse('{ zones { id } }');
    const other = parse('{ zones { id } }');
    expect([1, 2, 3].map(() => compiles(plugin, hot))).toEqual([false, false, false]);
    expect(compiles(plugin, hot)).toBe(true);
    expect(compiles(plugin, hot)).toBe(true);
    // Counted per document: another one starts from zero.
    expect(compiles(plugin, other)).toBe(false);
  });

  it('leaves to graphql-js a document that selects a list whose items may be null, wherever it sits', () => {
    const plugin = useTieredJit({ after: 0, maxBytes: 8 * MIB });
    expect(compiles(plugin, parse('{ nodes(ids: ["a"]) { id } }'))).toBe(false);
    expect(compiles(plugin, parse('{ viewer { organizations { name } } }'))).toBe(false);
    expect(compiles(plugin, parse('query Q { ...V } fragment V on Query { viewer { organizations { name } } }'))).toBe(false);
    expect(compiles(plugin, parse('{ viewer { firstName } zones { id } }'))).toBe(true);
  });

  it('compiles on first use with after: 0', () => {
    expect(compiles(useTieredJit({ after: 0, maxBytes: 8 * MIB }), parse('{ zones { id } }'))).toBe(true);
  });

  it('leaves to graphql-js an operation name the document does not hold', () => {
    const plugin = useTieredJit({ after: 0, maxBytes: 8 * MIB });
    const document = parse('query A { zones { id } } query B { zones { name } }');
    expect(compiles(plugin, document, 'C')).toBe(false);
    expect(compiles(plugin, document, 'A')).toBe(true);
    expect(compiles(plugin, document)).toBe(false);
  });

  it('keeps compiled documents within its byte budget', () => {
    const plugin = useTieredJit({ after: 0, maxBytes: 2 * MIB });
    const fields = 'id name hostname fqdn zone { id name dataCenter { id name country { id name } } } package { id name } ipAddresses { address }';
    const big = (i: number) => parse(`query Q${i} { ${Array.from({ length: 30 }, (_, j) => `a${j}: virtualMachine(id: "vm_${i}") { ${fields} }`).join(' ')} }`);
    const estimate = documentBytes(big(0)) + compiledOperationBytes(big(0), null);
    expect(estimate).toBeGreaterThan(MIB / 2);
    for (let i = 0; i < 8; i++) expect(compiles(plugin, big(i))).toBe(true);
    expect(plugin.compiledBytes()).toBeGreaterThan(0);
    expect(plugin.compiledBytes()).toBeLessThanOrEqual(2 * MIB);
  });
});

describe('the budget of compiled code', () => {
  it('charges a document each compiled operation by its own size, not the whole document\'s', () => {
    const plugin = useTieredJit({ after: 0, maxBytes: 8 * MIB });
    const operations = Array.from({ length: 40 }, (_, i) => `query Op${i} { zones { id } }`);
    const big = `query Big { ${Array.from({ length: 200 }, (_, j) => `a${j}: zones { id name }`).join(' ')} }`;
    const document = parse([big, ...operations].join(' '));
    for (let i = 0; i < 40; i++) expect(compiles(plugin, document, `Op${i}`)).toBe(true);
    const charged = plugin.compiledBytes();
    // The document once, and forty small operations: far less than forty times the document.
    expect(charged).toBeLessThan(documentBytes(document) + 40 * compiledOperationBytes(parse(operations[0]!), null) * 2);
    expect(charged).toBeGreaterThan(documentBytes(document));
  });
});

describe('a document holding several operations, once compiled', () => {
  const gateway = createTestGateway({ env: { GRAPHQL_JIT_AFTER: '1', RESPONSE_CACHE_MAX_BYTES: '0' } });
  afterAll(() => gateway.close());
  const token = DEMO_TOKENS.globex;
  const document = 'query Ids { zones { id } } query Names { zones { name } }';
  const run = async (operationName: string) => {
    const response = await gateway.app.yoga.fetch(
      new Request('http://gateway/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: document, operationName }),
      }),
      { scope: gateway.app.createScope({ authorization: `Bearer ${token}` }) },
    );
    return (await response.json()) as { data?: { zones: Array<Record<string, string>> }; errors?: Array<{ message: string }> };
  };

  it('runs the operation asked for, whichever was compiled first', async () => {
    for (let round = 0; round < 3; round++) {
      const ids = await run('Ids');
      const names = await run('Names');
      expect(Object.keys(ids.data!.zones[0]!), `round ${round}`).toEqual(['id']);
      expect(Object.keys(names.data!.zones[0]!), `round ${round}`).toEqual(['name']);
    }
  });

  it('answers an operation name it does not hold with the usual error, and the others still run', async () => {
    const messages = new Set<string | undefined>();
    for (let round = 0; round < 3; round++) {
      const missing = await run('Other');
      expect(missing.data).toBeUndefined();
      messages.add(missing.errors?.[0]?.message);
      expect([...messages]).toEqual(['Could not determine what operation to execute.']);
      expect(Object.keys((await run('Names')).data!.zones[0]!)).toEqual(['name']);
    }
  });
});

describe('a document moving from graphql-js to graphql-jit', () => {
  const gateway = createTestGateway({ env: { GRAPHQL_JIT_AFTER: '2', RESPONSE_CACHE_MAX_BYTES: '0' } });
  afterAll(() => gateway.close());
  const token = DEMO_TOKENS.globex;

  it('answers with the same bytes before and after it is compiled, errors included', async () => {
    const dashboard = `query Dashboard { organization(subDomain: "globex") { name virtualMachines(first: 5) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name createdAt state zone { id name dataCenter { id name country { id name } } } package { id name cpuCores } ipAddresses { address } } } } } }`;
    // A partial answer: one field fails with an error, the rest is data (and a null).
    const partial = `query Partial { zones { id name } organization(subDomain: "globex") { name virtualMachines(first: 500) { totalCount } } virtualMachine(id: "vm_doesnotexist") { id } }`;
    for (const [document, expected] of [
      [dashboard, '"totalCount":12'],
      [partial, '"code":"BAD_USER_INPUT"'],
    ] as const) {
      const answers: string[] = [];
      // The same request id every time: errors carry it.
      for (let run = 0; run < 4; run++) answers.push((await gateway.query(document, { token, headers: { 'x-request-id': 'tiered-jit' } })).text);
      expect(answers[0]).toContain(expected);
      expect(answers[0]).toContain('"data"');
      for (const answer of answers.slice(1)) expect(answer).toBe(answers[0]);
    }
  });

  it('answers with the same status before and after it is compiled when @skip or @include leaves a root field out', async () => {
    // No token: every root field that runs fails, a whole-request 401 without data under
    // application/graphql-response+json; a field left out is not an answer.
    const document = 'query Skipping { zones { id } countries @skip(if: true) { totalCount } dataCenters @include(if: false) { id } }';
    for (let run = 0; run < 4; run++) {
      const { status, body } = await gateway.query(document, { headers: { accept: 'application/graphql-response+json' } });
      expect(status, `run ${run}`).toBe(401);
      expect(body.data, `run ${run}`).toBeUndefined();
      expect(errorCodes(body), `run ${run}`).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('answers a request whose every root field that ran hit the budget with 429 once compiled, when @skip leaves one out', async () => {
    // One Katapult call a minute, spent first; the fake clock keeps the minute from rolling over.
    const limited = createTestGateway({ clock: createFakeClock(), simulatorOptions: { rateLimitPerMinute: 1 }, env: { GRAPHQL_JIT_AFTER: '0', RESPONSE_CACHE_MAX_BYTES: '0' } });
    try {
      await limited.query('{ dataCenters { id } }', { token });
      const response = await limited.query('{ zones { id } countries @skip(if: true) { totalCount } }', { token, headers: { 'x-request-timeout-ms': '50' } });
      expect(errorCodes(response.body)).toEqual(['RATE_LIMITED']);
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).not.toBeNull();
    } finally {
      await limited.close();
    }
  });

  it('answers nodes(ids:) with one item per id, in order, when some of them fail, however often it runs', async () => {
    // The VM's lookup is refused (the token lacks the VM scope) after the zone and data center are found.
    const document = 'query NoScope($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }';
    const ids = ['vm_csiMdpXStWtYzxC0', 'zone_De1f8rESQedUStPK', 'loc_TeKdNnFRIBXuDL7D'];
    for (let run = 0; run < 4; run++) {
      const { body } = await gateway.query(document, { token: DEMO_TOKENS.noVmScope, variables: { ids } });
      const nodes = body.data!.nodes as Array<{ __typename: string } | null>;
      expect(nodes, `run ${run}`).toHaveLength(ids.length);
      expect(nodes.map((node) => node?.__typename ?? null), `run ${run}`).toEqual([null, 'Zone', 'DataCenter']);
      expect(body.errors!.map((error) => error.path), `run ${run}`).toEqual([['nodes', 0]]);
    }
  });

  it('refuses variables that do not fit in the same words before and after it is compiled', async () => {
    const document = 'query Page($n: Int!, $after: String) { organization(subDomain: "globex") { virtualMachines(first: $n, after: $after) { totalCount } } }';
    const fits = { n: 2, after: null };
    for (const misfit of [{ n: 'ten' }, { n: 3_000_000_000 }, {}, { n: null }, { n: 2, after: 5 }]) {
      const answers: string[] = [];
      for (let run = 0; run < 4; run++) {
        // Runs with variables that fit move the document along towards compilation.
        await gateway.query(document, { token, variables: fits });
        answers.push((await gateway.query(document, { token, variables: misfit, headers: { 'x-request-id': 'tiered-jit-variables' } })).text);
      }
      expect(answers[0], JSON.stringify(misfit)).toContain('"code":"BAD_USER_INPUT"');
      for (const answer of answers.slice(1)) expect(answer, JSON.stringify(misfit)).toBe(answers[0]);
    }
  });
});
