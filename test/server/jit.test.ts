import { parse, type DocumentNode } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { useTieredJit } from '../../src/server/jit.js';
import { createTestGateway } from '../helpers/gateway.js';

/** Whether the plugin hands this execution to graphql-jit (it replaces the execute function) or leaves it to graphql-js. */
function compiles(plugin: ReturnType<typeof useTieredJit>, document: DocumentNode): boolean {
  let replaced = false;
  const onExecute = plugin.onExecute as unknown as (payload: { args: { document: DocumentNode }; setExecuteFn: () => void }) => unknown;
  onExecute({ args: { document }, setExecuteFn: () => (replaced = true) });
  return replaced;
}

describe('useTieredJit', () => {
  it('leaves a document to graphql-js for its first `after` runs, then compiles it', () => {
    const plugin = useTieredJit({ after: 3 });
    const hot = parse('{ zones { id } }');
    const other = parse('{ zones { id } }');
    expect([1, 2, 3].map(() => compiles(plugin, hot))).toEqual([false, false, false]);
    expect(compiles(plugin, hot)).toBe(true);
    expect(compiles(plugin, hot)).toBe(true);
    // Counted per document: another one starts from zero.
    expect(compiles(plugin, other)).toBe(false);
  });

  it('compiles on first use with after: 0', () => {
    expect(compiles(useTieredJit({ after: 0 }), parse('{ zones { id } }'))).toBe(true);
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
