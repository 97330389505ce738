import { buildClientSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema } from 'graphql';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { bearer, gatewaysPerTest, post, raw, type TestGateway } from './gateway.js';

const start = gatewaysPerTest();
const gatewayWith = (env: Record<string, string> = {}) => start({ env });

const auth = bearer(DEMO_TOKENS.globex);
const INTROSPECTION = '{ __schema { queryType { name } } }';

describe('INTROSPECTION_ENABLED', () => {
  it('answers introspection by default', async () => {
    const gateway = await gatewayWith();
    expect((await post(gateway.endpoint, { query: INTROSPECTION }, auth)).json.data.__schema.queryType.name).toBe('Query');
  });

  it('answers the full introspection query GraphiQL and schema tools send, under the default limits, without a token', async () => {
    const gateway = await gatewayWith();
    const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true });
    const answer = await post(gateway.endpoint, { query });
    expect(answer.json.errors).toBeUndefined();
    // The schema a client rebuilds from it is the committed one.
    const rebuilt = printSchema(lexicographicSortSchema(buildClientSchema(answer.json.data)));
    expect(`${rebuilt}\n`).toBe(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));
  });

  it('refuses __schema and __type with a clear validation error when false, but keeps __typename', async () => {
    const gateway = await gatewayWith({ INTROSPECTION_ENABLED: 'false' });
    for (const query of [INTROSPECTION, '{ __type(name: "Query") { name } }']) {
      const refused = await post(gateway.endpoint, { query }, auth);
      expect(refused.json.data).toBeUndefined();
      expect(refused.json.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(refused.json.errors[0].message).toMatch(/Introspection is turned off/);
    }
    expect((await post(gateway.endpoint, { query: '{ __typename }' }, auth)).json.data.__typename).toBe('Query');
  });
});

describe('GRAPHIQL_ENABLED', () => {
  const page = (gateway: TestGateway, query = '') => raw(`${gateway.endpoint}${query}`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });

  it('serves the GraphiQL page to a browser asking for /graphql with no operation', async () => {
    const gateway = await gatewayWith();
    const html = await page(gateway);
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.text).toMatch(/graphiql/i);
    expect(html.headers['x-request-id']).toBeDefined();
  });

  it('answers an operation in the URL with JSON even when the client also takes HTML', async () => {
    const gateway = await gatewayWith();
    const answer = await raw(`${gateway.endpoint}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'text/html,application/json', 'apollo-require-preflight': '1' },
    });
    expect(answer.headers['content-type']).toMatch(/json/);
    expect(answer.json.data.__typename).toBe('Query');
  });

  it('serves no HTML page when false', async () => {
    const gateway = await gatewayWith({ GRAPHIQL_ENABLED: 'false' });
    const response = await page(gateway);
    expect(response.headers['content-type']).not.toMatch(/html/);
    expect(response.text).not.toMatch(/graphiql/i);
  });
});
