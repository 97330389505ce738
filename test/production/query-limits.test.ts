import { describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { bearer, gatewaysPerTest, post, type TestGateway } from './gateway.js';

const start = gatewaysPerTest();
const limited = (env: Record<string, string>) => start({ env });

const auth = bearer(DEMO_TOKENS.globex);
const VMS = (page: string) => `query Fleet${page.includes('$n') ? '($n: Int)' : ''} { organization(subDomain: "globex") { virtualMachines${page} { edges { node { name zone { name } } } } } }`;

async function expectRefused(gateway: TestGateway, body: Record<string, unknown>, message: RegExp): Promise<void> {
  const before = gateway.simulator.requests.length;
  const response = await post(gateway.endpoint, body, auth);
  expect(response.json.errors).toHaveLength(1);
  expect(response.json.errors[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
  expect(response.json.errors[0].message).toMatch(message);
  expect(response.json.data).toBeUndefined();
  // Refused before any resolver ran: Katapult was not called.
  expect(gateway.simulator.requests.length).toBe(before);
}

async function expectAnswered(gateway: TestGateway, body: Record<string, unknown>): Promise<void> {
  const response = await post(gateway.endpoint, body, auth);
  expect(response.json.errors).toBeUndefined();
  expect(response.json.data).toBeTruthy();
}

describe('query limits', () => {
  it('refuses a query nested deeper than LIMIT_DEPTH', async () => {
    const gateway = await limited({ LIMIT_DEPTH: '5' });
    await expectRefused(gateway, { query: VMS('(first: 2)') }, /nests fields 6 levels deep; the limit is 5/);
    await expectAnswered(gateway, { query: '{ organization(subDomain: "globex") { virtualMachines(first: 2) { edges { node { name } } } } }' });
  });

  it('prices a connection by its page size: 100 VMs with nested fields cost 100 times their subtree', async () => {
    const gateway = await limited({ LIMIT_COST: '500' });
    // organization 1 + virtualMachines (1 + 100 × (edges 1 + node 1 + name 1 + zone 1 + name 1))
    await expectRefused(gateway, { query: VMS('(first: 100)') }, /costs 502, over the limit of 500/);
    await expectAnswered(gateway, { query: VMS('(first: 10)') });
  });

  it('prices a page size given in a variable by its value', async () => {
    const gateway = await limited({ LIMIT_COST: '500' });
    await expectRefused(gateway, { query: VMS('(first: $n)'), variables: { n: 100 } }, /costs 502/);
    await expectAnswered(gateway, { query: VMS('(first: $n)'), variables: { n: 10 } });
  });

  it('prices a page size left to the variable’s default by that default', async () => {
    const gateway = await limited({ LIMIT_COST: '500' });
    const withDefault = (n: number) => VMS('(first: $n)').replace('($n: Int)', `($n: Int = ${n})`);
    await expectRefused(gateway, { query: withDefault(100) }, /costs 502/);
    await expectRefused(gateway, { query: withDefault(100), variables: {} }, /costs 502/);
    await expectAnswered(gateway, { query: withDefault(10) });
    // A value the client does send replaces the default, as in execution.
    await expectAnswered(gateway, { query: withDefault(100), variables: { n: 10 } });
  });

  it('leaves a page too big for any connection, or too big for an Int, to the connection and to graphql: BAD_USER_INPUT, not a cost', async () => {
    const gateway = await limited({});
    for (const [page, variables, wording] of [
      ['(first: 100000)', undefined, /first/],
      ['(first: $n)', { n: 100000 }, /first/],
      ['(first: $n)', { n: 3_000_000_000 }, /Variable "\$n"/],
      ['(first: $n)', { n: 1e20 }, /Variable "\$n"/],
    ] as const) {
      const before = gateway.simulator.requests.length;
      const response = await post(gateway.endpoint, { query: VMS(page), ...(variables ? { variables } : {}) }, auth);
      expect(response.json.errors?.map((e: { extensions: { code: string } }) => e.extensions.code), page).toEqual(['BAD_USER_INPUT']);
      expect(response.json.errors[0].message, page).toMatch(wording);
      expect(gateway.simulator.requests.length, page).toBe(before);
    }
  });

  it('prices a connection without first or last at the default page size', async () => {
    const gateway = await limited({ LIMIT_COST: '101', PAGINATION_DEFAULT_SIZE: '20' });
    await expectRefused(gateway, { query: VMS('') }, /costs 102, over the limit of 101/);
    await expectAnswered(gateway, { query: VMS('(first: 5)') });
  });

  it('logs and counts a refused operation under its own name', async () => {
    const gateway = await limited({ LIMIT_ALIASES: '2', LOG_LEVEL: 'info' });
    const aliases = `query TooManyNames { ${Array.from({ length: 3 }, (_, i) => `o${i}: organization(subDomain: "globex") { name }`).join(' ')} }`;
    await expectRefused(gateway, { query: aliases }, /3 aliases; the limit is 2/);
    const summary = gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((record) => record.msg === 'graphql request');
    expect(summary).toMatchObject({ operationName: 'TooManyNames' });
  });

  it('refuses more aliases than LIMIT_ALIASES', async () => {
    const gateway = await limited({ LIMIT_ALIASES: '2' });
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `o${i}: organization(subDomain: "globex") { name }`).join(' ')} }`;
    await expectRefused(gateway, { query: aliases(3) }, /3 aliases; the limit is 2/);
    await expectAnswered(gateway, { query: aliases(2) });
  });

  it('stops parsing a document with more tokens than LIMIT_TOKENS', async () => {
    const gateway = await limited({ LIMIT_TOKENS: '50' });
    const fields = (n: number) => `{ organization(subDomain: "globex") { ${Array.from({ length: n }, () => 'name').join(' ')} } }`;
    await expectRefused(gateway, { query: fields(60) }, /more than 50 tokens/);
    await expectAnswered(gateway, { query: fields(20) });
  });

  it('refuses, without a token and before any resolver walks it, a small document whose fragments double at each level', async () => {
    const gateway = await limited({});
    const levels = 20;
    const document = `query { organization(subDomain: "x") { ...F0 } } ${Array.from({ length: levels }, (_, i) => `fragment F${i} on Organization { ...F${i + 1} ...F${i + 1} }`).join(' ')} fragment F${levels} on Organization { __typename }`;
    expect(document.length).toBeLessThan(2_000);
    const response = await post(gateway.endpoint, { query: document });
    expect(response.json.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(response.json.errors?.[0]?.message).toMatch(/over the limit of 20000/);
  });

  it('answers one __schema in a query, and refuses more than one, which would return the whole schema again for a few bytes each', async () => {
    const gateway = await limited({});
    const once = await post(gateway.endpoint, { query: '{ __schema { types { name fields { name } } } }' });
    expect(once.json.data.__schema.types.length).toBeGreaterThan(10);
    const aliased = Array.from({ length: 5 }, (_, i) => `s${i}: __schema { types { name fields { name } } }`).join(' ');
    const refused = await post(gateway.endpoint, { query: `{ ${aliased} }` });
    expect(refused.json.data).toBeUndefined();
    expect(refused.json.errors[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect(refused.json.errors[0].message).toBe('The query asks for __schema 5 times; ask for it once');
  });

  it('refuses a document whose lists nest too deeply to parse, without a token, as QUERY_TOO_COMPLEX and not a server error', async () => {
    const gateway = await limited({ LOG_LEVEL: 'info' });
    const nested = `${'['.repeat(2500)}${']'.repeat(2500)}`;
    for (const document of [`{ __typename @skip(if: ${nested}) }`, `query Q($x: [Int] = ${nested}) { __typename }`]) {
      const response = await post(gateway.endpoint, { query: document });
      expect(response.json.errors?.[0]?.extensions?.code, document.slice(0, 30)).toBe('QUERY_TOO_COMPLEX');
      expect(response.json.errors[0].message).toBe('The document nests lists or objects too deeply to parse');
    }
    expect(gateway.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50)).toEqual([]);
  });

  it('counts every refusal of an over-long document in the metrics, the same document sent again included', async () => {
    const gateway = await limited({ LIMIT_TOKENS: '50' });
    const long = `{ organization(subDomain: "globex") { ${Array.from({ length: 60 }, () => 'name').join(' ')} } }`;
    for (let i = 0; i < 3; i++) await expectRefused(gateway, { query: long }, /more than 50 tokens/);
    // A syntax error is remembered as before, and counts as no refusal.
    for (let i = 0; i < 2; i++) expect((await post(gateway.endpoint, { query: '{ organization(' }, auth)).json.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    const metrics = (await fetch(`${gateway.url}/metrics`).then((r) => r.text())).split('\n');
    expect(metrics).toContain('inbound_rejections_total{reason="tokens"} 3');
  });

  it('answers 400 to a client that accepts application/graphql-response+json, like any invalid document', async () => {
    const gateway = await limited({ LIMIT_COST: '500' });
    const json = await post(gateway.endpoint, { query: VMS('(first: 100)') }, auth);
    const spec = await post(gateway.endpoint, { query: VMS('(first: 100)') }, { ...auth, accept: 'application/graphql-response+json' });
    expect(json.status).toBe(200);
    expect(spec.status).toBe(400);
  });
});
