import { describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { errorCodes } from '../helpers/gateway.js';
import { cannedError, expectContract, gatewayPerTest, ORG_NAME } from './error-contract.js';

/**
 * The error contract for failures that are the caller's: no token, a token Katapult refuses,
 * a scope or organization it may not use, something that does not exist, bad arguments.
 * Each has its `extensions.code`, and the HTTP status where the whole request fails.
 */

const start = gatewayPerTest();

describe('authentication', () => {
  it('a request without a token gets 401, a Bearer challenge and UNAUTHENTICATED, with no upstream call', async () => {
    const gateway = start();
    const response = await gateway.query('{ organizations { id } }');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    // RFC 6750: a request that carried no credentials gets no error code.
    expect(response.headers.get('www-authenticate')).not.toMatch(/error=/);
    expect(errorCodes(response.body)).toEqual(['UNAUTHENTICATED']);
    expect(response.body.errors![0]!.message).toMatch(/Authorization: Bearer/);
    expectContract(response);
    expect(gateway.sim.requests).toHaveLength(0);
  });

  it('an invalid token is UNAUTHENTICATED, and the token is never echoed', async () => {
    const gateway = start();
    const token = 'kp_not_a_real_token_Zq81Lw';
    const response = await gateway.query(ORG_NAME, { token });
    expect(errorCodes(response.body)).toEqual(['UNAUTHENTICATED']);
    expect(response.body.errors![0]!.extensions?.katapultCode).toBe('invalid_api_token');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="katapult-gateway", error="invalid_token"');
    expectContract(response, token);
  });

  it('introspection and { __typename } work without a token', async () => {
    const gateway = start();
    const typename = await gateway.query('{ __typename }');
    expect(typename.status).toBe(200);
    expect(typename.body).toEqual({ data: { __typename: 'Query' } });
    const introspection = await gateway.query('{ __schema { queryType { name } types { name } } }');
    expect(introspection.status).toBe(200);
    expect(introspection.body.errors).toBeUndefined();
    expect(introspection.body.data!.__schema.queryType.name).toBe('Query');
    expect(gateway.sim.requests).toHaveLength(0);
  });
});

describe('authorization', () => {
  it('a token without the VM scope is FORBIDDEN with the scopes it needs, and only that field is null', async () => {
    const gateway = start();
    const token = DEMO_TOKENS.noVmScope;
    const response = await gateway.query('{ organization(subDomain: "globex") { name virtualMachines(first: 2) { edges { node { id } } } } zones { id } }', { token });
    expect(response.status).toBe(200);
    expect(errorCodes(response.body)).toEqual(['FORBIDDEN']);
    const [error] = response.body.errors!;
    expect(error!.path).toEqual(['organization', 'virtualMachines']);
    expect(error!.extensions?.requiredScopes).toEqual(['virtual_machines', 'virtual_machines:read']);
    expect(error!.message).toMatch(/lacks the scope/);
    expect(response.body.data!.organization).toEqual({ name: 'Globex Corporation', virtualMachines: null });
    expect(response.body.data!.zones.length).toBeGreaterThan(0);
    expectContract(response, token);
  });

  it('a suspended organization is FORBIDDEN', async () => {
    const gateway = start();
    const token = DEMO_TOKENS.suspended;
    const response = await gateway.query('{ organization(subDomain: "initech") { name } }', { token });
    expect(errorCodes(response.body)).toEqual(['FORBIDDEN']);
    expect(response.body.errors![0]!.extensions?.katapultCode).toBe('organization_suspended');
    expect(response.body.data).toEqual({ organization: null });
    expectContract(response, token);
  });

  it('viewer is null for an organization-level token (it has no user), without an error', async () => {
    const gateway = start();
    expect((await gateway.query('{ viewer { id } }', { token: DEMO_TOKENS.globex })).body).toEqual({ data: { viewer: null } });
    const user = await gateway.query('{ viewer { firstName organizations { subDomain } } }', { token: DEMO_TOKENS.user });
    expect(user.body).toEqual({ data: { viewer: { firstName: 'Jane', organizations: [{ subDomain: 'acme' }, { subDomain: 'globex' }] } } });
  });
});

describe('not found', () => {
  it('nullable lookups answer null without an error', async () => {
    const gateway = start();
    const response = await gateway.query(
      `{ organization(subDomain: "nope") { name }
         virtualMachine(id: "vm_aaaaaaaaaaaaaaaa") { name }
         byFqdn: virtualMachine(fqdn: "nope.example") { name } }`,
      { token: DEMO_TOKENS.globex },
    );
    expect(response.body).toEqual({ data: { organization: null, virtualMachine: null, byFqdn: null } });
  });

  it('a lookup by a string with a lone surrogate half (valid JSON, not valid UTF-8) finds nothing, without an unexpected error', async () => {
    const gateway = start();
    const token = DEMO_TOKENS.globex;
    const response = await gateway.query(
      'query($s: String!, $i: ID!) { a: virtualMachine(fqdn: $s) { name } b: node(id: $i) { id } c: organization(subDomain: $s) { name } d: organization(subDomain: "globex") { virtualMachines(first: 1, annotations: [{ key: $s }]) { totalCount } } }',
      { token, variables: { s: 'x\ud800', i: 'vm_\udc00' } },
    );
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data).toEqual({ a: null, b: null, c: null, d: { virtualMachines: { totalCount: 0 } } });
    // Sent as U+FFFD, as a URL encoder does.
    expect(gateway.sim.requests.some((r) => r.query.includes('%EF%BF%BD'))).toBe(true);
  });

  it('a connection under an organization that does not exist is NOT_FOUND', async () => {
    const gateway = start();
    const token = DEMO_TOKENS.globex;
    const response = await gateway.query('{ organization(subDomain: "nope") { virtualMachines(first: 1) { edges { node { id } } } } }', { token });
    expect(errorCodes(response.body)).toEqual(['NOT_FOUND']);
    expect(response.body.errors![0]!.path).toEqual(['organization', 'virtualMachines']);
    expect(response.body.data).toEqual({ organization: { virtualMachines: null } });
    expectContract(response, token);
  });
});

describe('bad input', () => {
  it('ambiguous or missing lookups are BAD_USER_INPUT before any upstream call', async () => {
    const gateway = start();
    const token = DEMO_TOKENS.globex;
    for (const document of [
      '{ organization(id: "org_x", subDomain: "globex") { name } }',
      '{ organization { name } }',
      '{ virtualMachine(id: "vm_x", fqdn: "a.b") { name } }',
      '{ virtualMachine { name } }',
      '{ virtualMachinePackages(first: 1, organization: {}) { edges { node { id } } } }',
    ]) {
      const response = await gateway.query(document, { token });
      expect(errorCodes(response.body), document).toEqual(['BAD_USER_INPUT']);
      expectContract(response, token);
    }
    expect(gateway.sim.requests).toHaveLength(0);
  });

  it('a proxy’s 429 in front of Katapult (not its JSON) is waited out as Retry-After says, not retried at once nor counted as an outage', async () => {
    let refusals = 0;
    const gateway = start({
      wrapFetch: (simulator) => async (input, init) => {
        if (new URL(input).pathname.endsWith('/zones') && refusals++ === 0) {
          return new Response('<html><body>Too Many Requests</body></html>', { status: 429, headers: { 'content-type': 'text/html', 'retry-after': '1' } });
        }
        return simulator(input, init);
      },
    });
    const token = DEMO_TOKENS.globex;
    const started = performance.now();
    const response = await gateway.query('{ zones { id } }', { token });
    expect(response.body.errors).toBeUndefined();
    expect((response.body.data!.zones as unknown[]).length).toBeGreaterThan(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    // One refusal, then one call after the pause; counted as a rate limit, not as Katapult failing.
    expect(refusals).toBe(2);
    expect(await gateway.app.metrics.render()).toMatch(/^upstream_rate_limited_total 1$/m);
    expect(gateway.app.queue.circuitState()).toBe('closed');
    await gateway.close();
  });

  it('Katapult’s missing_api_token (the header dropped on the way) is UNAUTHENTICATED without telling the client its token is invalid', async () => {
    const gateway = start({ wrapFetch: () => () => Promise.resolve(cannedError(401, 'missing_api_token')) });
    const token = DEMO_TOKENS.globex;
    const response = await gateway.query(ORG_NAME, { token });
    expect(response.status).toBe(401);
    expect(errorCodes(response.body)).toEqual(['UNAUTHENTICATED']);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="katapult-gateway"');
    expectContract(response, token);
  });

  it('Katapult’s invalid_argument and missing_required_argument are BAD_USER_INPUT, in our words', async () => {
    for (const code of ['invalid_argument', 'missing_required_argument']) {
      const gateway = start({
        wrapFetch: (simulator) => (input, init) =>
          new URL(input).pathname.endsWith('/zones') ? Promise.resolve(cannedError(400, code, { path: ['zone'], issue: 'parse_error' })) : simulator(input, init),
      });
      const token = DEMO_TOKENS.globex;
      const response = await gateway.query('{ organization(subDomain: "globex") { name } zones { id } }', { token });
      expect(errorCodes(response.body)).toEqual(['BAD_USER_INPUT']);
      expect(response.body.errors![0]!.extensions?.katapultCode).toBe(code);
      expect(response.body.errors![0]!.message).toBe('Katapult rejected an argument of this request');
      expectContract(response, token);
      await gateway.close();
    }
  });

  it('GraphQL parse and validation failures carry their codes and the request id', async () => {
    const gateway = start();
    const parse = await gateway.query('{ organization(subDomain: ', { headers: { 'x-request-id': 'req-parse-1' } });
    expect(errorCodes(parse.body)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(parse.body.errors![0]!.extensions?.requestId).toBe('req-parse-1');
    const validation = await gateway.query('{ organization(subDomain: "globex") { nope } }', { token: DEMO_TOKENS.globex });
    expect(errorCodes(validation.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expectContract(validation, DEMO_TOKENS.globex);
  });

  // Both executors: graphql-js for a document's first runs, graphql-jit once it is compiled.
  it.each([
    ['graphql-js', '100'],
    ['graphql-jit', '0'],
  ])('variables that do not fit their types are BAD_USER_INPUT, naming the variable: 400 under graphql-response+json, 200 under json (%s)', async (_executor, jitAfter) => {
    const gateway = start({ env: { GRAPHQL_JIT_AFTER: jitAfter } });
    const document = 'query Page($n: Int!) { organization(subDomain: "globex") { virtualMachines(first: $n) { totalCount } } }';
    for (const [variables, wording, accept, status] of [
      [{}, 'Variable "$n" of required type "Int!" was not provided.', 'application/graphql-response+json', 400],
      [{ n: null }, 'Variable "$n" of non-null type "Int!" must not be null.', 'application/graphql-response+json', 400],
      [{ n: 'ten' }, 'Variable "$n" got invalid value "ten"', 'application/graphql-response+json', 400],
      // GraphQL over HTTP: a request error in a readable request is 200 under application/json.
      [{}, 'Variable "$n" of required type "Int!" was not provided.', 'application/json', 200],
      [{ n: 'ten' }, 'Variable "$n" got invalid value "ten"', 'application/json', 200],
    ] as const) {
      const response = await gateway.query(document, { token: DEMO_TOKENS.globex, variables, headers: { accept } });
      expect(response.status).toBe(status);
      expect(errorCodes(response.body)).toEqual(['BAD_USER_INPUT']);
      expect(response.body.errors![0]!.message).toContain(wording);
      expect(response.body.errors![0]).toMatchObject({ locations: [{ line: 1, column: 12 }] });
      expect(response.body.data).toBeUndefined();
      expectContract(response, DEMO_TOKENS.globex);
    }
    expect(gateway.sim.requests).toHaveLength(0);
  });

  it('a document whose operation cannot be chosen is OPERATION_RESOLUTION_FAILURE: 400 under graphql-response+json, 200 under json', async () => {
    const gateway = start();
    const document = 'query A { __typename } query B { __typename }';
    for (const [accept, status] of [
      ['application/graphql-response+json', 400],
      ['application/json', 200],
    ] as const) {
      const response = await gateway.query(document, { token: DEMO_TOKENS.globex, headers: { accept } });
      expect(response.status).toBe(status);
      expect(errorCodes(response.body)).toEqual(['OPERATION_RESOLUTION_FAILURE']);
      expect(response.body.data).toBeUndefined();
      expectContract(response, DEMO_TOKENS.globex);
    }
  });

  it('echoes a client’s request id on every error', async () => {
    const gateway = start();
    const response = await gateway.query('{ organization(subDomain: "globex") { virtualMachines(first: 2) { edges { node { id } } } } }', {
      token: DEMO_TOKENS.noVmScope,
      headers: { 'x-request-id': 'client-req-42' },
    });
    expect(response.body.errors!.map((e) => e.extensions?.requestId)).toEqual(['client-req-42']);
  });
});
