import { getIntrospectionQuery, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/schema/index.js';
import { COUNTRIES_PRICED_AS, ORGANIZATIONS_PRICED_AS } from '../../src/schema/builder.js';
import { MAX_PAGES_TO_END } from '../../src/data/pagination.js';
import { CALL_PER_OBJECT_COST, createOperationMeasurer, FIND_END_COST, measureOperation, MEASURES_PER_OPERATION } from '../../src/server/query-limits.js';

const schema = buildSchema();
const measure = (query: string, variables: Record<string, unknown> = {}, operationName?: string) => measureOperation(schema, parse(query), operationName, variables, { defaultSize: 20, maxSize: 100 });

describe('measureOperation', () => {
  it('counts one per field and multiplies a connection subtree by first', () => {
    expect(measure('{ organization(subDomain: "g") { name virtualMachines(first: 10) { totalCount edges { node { name } } } } }')).toEqual({
      depth: 5,
      // organization 1 + name 1 + virtualMachines (1 + 10 × (totalCount 1 + edges 1 + node 1 + name 1))
      cost: 43,
      aliases: 0,
      schemaReads: 0,
    });
  });

  it('measures fields reached through named and inline fragments', () => {
    const query = `
      query Q { organization(subDomain: "g") { ...Org } node(id: "vm_1") { ... on VirtualMachine { name } } }
      fragment Org on Organization { a: name virtualMachines(last: 3) { edges { node { name } } } }`;
    // virtualMachines(last: 3) without before also pays for finding the list's end.
    // Each fragment, named or inline, costs 1 besides its fields.
    expect(measure(query)).toEqual({ depth: 5, cost: 1 + 1 + 1 + (1 + 3 * 3 + FIND_END_COST) + 1 + 1 + 1, aliases: 1, schemaReads: 0 });
  });

  it('charges a connection read from its end for the pages that find the end, only when it has no before', () => {
    const vms = (args: string) => `query Q($last: Int, $before: String) { organization(subDomain: "g") { virtualMachines(${args}) { edges { node { name } } } } }`;
    const page = 1 + 1 + 5 * 3;
    expect(FIND_END_COST).toBe(MAX_PAGES_TO_END * CALL_PER_OBJECT_COST);
    expect(measure(vms('last: 5')).cost).toBe(page + FIND_END_COST);
    expect(measure(vms('last: $last'), { last: 5 }).cost).toBe(page + FIND_END_COST);
    expect(measure(vms('last: 5, before: "c"')).cost).toBe(page);
    expect(measure(vms('last: 5, before: $before'), { before: 'c' }).cost).toBe(page);
    expect(measure(vms('last: 5, before: $before'), { before: null }).cost).toBe(page + FIND_END_COST);
    expect(measure(vms('first: 5')).cost).toBe(page);
    // Thirty aliased lists (each its own URL) read from their end: their end-finding calls priced like VM records.
    const ends = Array.from({ length: 30 }, (_, i) => `e${i}: virtualMachines(last: 100, annotations: [{ key: "k${i}" }]) { edges { node { name } } }`).join(' ');
    expect(measure(`{ organization(subDomain: "g") { ${ends} } }`).cost).toBe(1 + 30 * (1 + 100 * 3 + FIND_END_COST));
  });

  it('charges nodes(ids:) once per id, from a literal or a variable, with each id\'s own Katapult call', () => {
    expect(measure('{ nodes(ids: ["a", "b", "c"]) { id } }').cost).toBe(1 + 3 * (1 + CALL_PER_OBJECT_COST));
    expect(measure('query Q($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: ['a', 'b'] }).cost).toBe(1 + 2 * (1 + CALL_PER_OBJECT_COST));
    // The call is the id's lookup: a field that would need the record's own call adds nothing more.
    expect(measure('{ nodes(ids: ["a"]) { ... on VirtualMachine { state } } }').cost).toBe(1 + 1 * (1 + 1 + CALL_PER_OBJECT_COST));
  });

  it('charges a VM field its list does not carry one Katapult call per VM, once however many such fields', () => {
    const list = (selection: string) => `{ organization(subDomain: "g") { virtualMachines(first: 10) { edges { node { ${selection} } } } } }`;
    // organization 1 + virtualMachines (1 + 10 × (edges 1 + node (1 + fields + 20 for the VM's record)))
    expect(measure(list('name')).cost).toBe(1 + 1 + 10 * (1 + 1 + 1));
    expect(measure(list('state')).cost).toBe(1 + 1 + 10 * (1 + 1 + 1 + CALL_PER_OBJECT_COST));
    expect(measure(list('state tagNames annotations { key }')).cost).toBe(1 + 1 + 10 * (1 + 1 + 4 + CALL_PER_OBJECT_COST));
    // Read through fragments (1 each), the call is still the VM's and still charged once.
    const fragments = `
      query Q { organization(subDomain: "g") { virtualMachines(first: 10) { edges { node { ...A ... on VirtualMachine { cpuCores } } } } } }
      fragment A on VirtualMachine { state }`;
    expect(measure(fragments).cost).toBe(1 + 1 + 10 * (1 + 1 + 2 + 2 + CALL_PER_OBJECT_COST));
    // An address's details come from its VM's record too.
    expect(measure(list('ipAddresses { address }')).cost).toBe(1 + 1 + 10 * (1 + 1 + 2));
    expect(measure(list('ipAddresses { reverseDns }')).cost).toBe(1 + 1 + 10 * (1 + 1 + 2 + CALL_PER_OBJECT_COST));
    // One record per VM, however many of its children read from it: charged once.
    expect(measure(list('state ipAddresses { reverseDns label } hypervisor { ipAddress }')).cost).toBe(1 + 1 + 10 * (1 + 1 + 1 + 3 + 2 + CALL_PER_OBJECT_COST));
    expect(measure(list('hypervisor { ipAddress }')).cost).toBe(1 + 1 + 10 * (1 + 1 + 2 + CALL_PER_OBJECT_COST));
    // Fields that come with the list cost no call.
    expect(measure(list('name hostname zone { name } package { name }')).cost).toBe(1 + 1 + 10 * (1 + 1 + 2 + 2 + 2));
  });

  it('charges the calls of objects a page\'s VMs share (a country, their organization) once for the operation, not once per VM', () => {
    const page = (node: string) => `{ organization(subDomain: "g") { virtualMachines(first: 100) { edges { node { ${node} } } } } }`;
    // zone 1 + dataCenter 1 + country 1 + isoCode2 1 (its own record, priced once below)
    const withCountry = page('zone { dataCenter { country { isoCode2 } } }');
    expect(measure(withCountry).cost).toBe(1 + 1 + 100 * (1 + 1 + 4) + COUNTRIES_PRICED_AS * CALL_PER_OBJECT_COST);
    // Reached twice, through aliases and another path, they are still read once each.
    const twice = page('zone { dataCenter { country { isoCode2 } } } other: zone { dataCenter { country { eu } } }');
    expect(measure(twice).cost).toBe(1 + 1 + 100 * (1 + 1 + 4 + 4) + COUNTRIES_PRICED_AS * CALL_PER_OBJECT_COST);
    // A country's name comes with the data centers' list: no call, nothing charged.
    expect(measure(page('zone { dataCenter { country { name } } }')).cost).toBe(1 + 1 + 100 * (1 + 1 + 4));
    expect(measure(page('organization { suspended }')).cost).toBe(1 + 1 + 100 * (1 + 1 + 2) + ORGANIZATIONS_PRICED_AS * CALL_PER_OBJECT_COST);
    // Countries listed by their own connection are many and distinct: one call each.
    expect(measure('{ countries(first: 50) { edges { node { isoCode2 } } } }').cost).toBe(1 + 50 * (1 + 1 + 1 + CALL_PER_OBJECT_COST));
  });

  it('prices what is under a list of organizations once per organization it may hold, not once', () => {
    const under = 'virtualMachines(first: 100) { edges { node { state } } }';
    // virtualMachines (1 + 100 × (edges 1 + node 1 + state 1 + the VM's own call))
    const perOrganization = 1 + 100 * (3 + CALL_PER_OBJECT_COST);
    expect(ORGANIZATIONS_PRICED_AS).toBeGreaterThan(1);
    expect(measure(`{ organizations { ${under} } }`).cost).toBe(1 + ORGANIZATIONS_PRICED_AS * perOrganization);
    expect(measure(`{ viewer { organizations { ${under} } } }`).cost).toBe(1 + 1 + ORGANIZATIONS_PRICED_AS * perOrganization);
    // Ten organizations' 100 VM records each: 1,000 Katapult calls, over the default limit.
    expect(measure(`{ organizations { ${under} } }`).cost).toBeGreaterThan(20_000);
    // The catalogues are read whole from one cached call each: their items count once.
    expect(measure('{ dataCenters { id name zones { id } } }').cost).toBe(1 + 2 + 1 + 1);
  });

  it('prices nine pages of 100 VMs reading their state over the default limit, and the same pages without it under', () => {
    // Nine aliased pages of 100 VMs reading state: 900 Katapult calls, over the default 20,000.
    const pages = Array.from({ length: 9 }, (_, i) => `p${i}: virtualMachines(first: 100, after: "x${i}") { edges { node { state } } }`).join(' ');
    expect(measure(`{ organization(subDomain: "g") { ${pages} } }`).cost).toBeGreaterThan(20_000);
    expect(measure(`{ organization(subDomain: "g") { ${pages.replaceAll('state', 'name')} } }`).cost).toBeLessThan(20_000);
  });

  it('lets __typename cost nothing', () => {
    expect(measure('{ __typename }').cost).toBe(0);
  });

  it('measures only the operation that will run', () => {
    const query = 'query Small { zones { name } } query Big { countries(first: 100) { edges { node { name } } } }';
    expect(measure(query, {}, 'Small').cost).toBe(2);
    expect(measure(query, {}, 'Big').cost).toBe(1 + 100 * 3);
  });

  it('measures fragments spread into each other once each, so a fragment bomb stays cheap to measure', () => {
    const levels = 40;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1 ? `fragment F${i} on Zone { name }` : `fragment F${i} on Zone { ...F${i + 1} a${i}: dataCenter { ...G${i + 1} } }`,
    ).concat(Array.from({ length: levels }, (_, i) => `fragment G${i} on DataCenter { zones { ...F${Math.min(i, levels - 1)} } }`));
    const query = `{ zones { ...F0 } } ${fragments.join(' ')}`;
    const started = performance.now();
    const result = measure(query);
    expect(performance.now() - started).toBeLessThan(500);
    expect(result.cost).toBeGreaterThan(1000);
  });
});

describe('the remembered measure', () => {
  const pageSizes = { defaultSize: 20, maxSize: 100 };
  const document = parse(`
    query Window($first: Int, $last: Int = 7, $before: String, $after: String) {
      organization(subDomain: "g") { virtualMachines(first: $first, last: $last, before: $before, after: $after) { edges { node { name } } } }
    }
    query Nodes($ids: [ID!]!, $first: Int) { nodes(ids: $ids) { id } zones(first: $first) { edges { node { name } } } }
    query Fixed { zones(first: 5) { edges { node { name } } } }`);
  const variableSets: Array<[string, Record<string, unknown>]> = [
    ['Window', { first: 10 }],
    ['Window', { first: 10, last: null }],
    ['Window', { first: 10, last: null, after: 'c1' }],
    ['Window', { last: 3 }],
    ['Window', { last: 3, before: 'c1' }],
    ['Window', { last: 3, before: 'c2' }],
    ['Window', { last: 3, before: null }],
    ['Window', {}],
    ['Window', { last: null }],
    ['Window', { first: 250, last: null }],
    ['Window', { first: -4, last: null }],
    ['Window', { first: 'ten', last: null }],
    ['Nodes', { ids: ['a', 'b'], first: 2 }],
    ['Nodes', { ids: ['c', 'd'], first: 2 }],
    ['Nodes', { ids: ['a', 'b', 'c'], first: 2 }],
    ['Nodes', { ids: 'a', first: 3 }],
    ['Fixed', { first: 99 }],
  ];

  it('gives what measuring afresh gives, in any order of requests', () => {
    const measure = createOperationMeasurer(pageSizes);
    // Each set twice, forwards and backwards, so every answer is also checked once it could come from memory.
    for (const [name, variables] of [...variableSets, ...[...variableSets].reverse(), ...variableSets]) {
      expect(measure(schema, document, name, variables), `${name} ${JSON.stringify(variables)}`).toEqual(measureOperation(schema, document, name, variables, pageSizes));
    }
  });

  it('tells no operation name from an empty one: the first picks a lone operation, the second names none', () => {
    const measure = createOperationMeasurer(pageSizes);
    const lone = parse('{ zones(first: 5) { edges { node { name } } } }');
    expect(measure(schema, lone, '', {})).toEqual({ depth: 0, cost: 0, aliases: 0, schemaReads: 0 });
    expect(measure(schema, lone, null, {})).toEqual(measureOperation(schema, lone, null, {}, pageSizes));
    expect(measure(schema, lone, undefined, {}).cost).toBeGreaterThan(0);
  });

  it('walks an operation again only for variables that change its price', () => {
    const measure = createOperationMeasurer(pageSizes);
    const first = measure(schema, document, 'Window', { last: 3, before: 'c1' });
    expect(measure(schema, document, 'Window', { last: 3, before: 'c2' })).toBe(first);
    expect(measure(schema, document, 'Window', { last: 3 })).not.toBe(first);
    expect(measure(schema, document, 'Fixed', {})).toBe(measure(schema, document, 'Fixed', { unused: 1 }));
  });

  it('stays right past the measures it keeps for one operation', () => {
    const measure = createOperationMeasurer(pageSizes);
    for (let round = 0; round < 2; round++) {
      for (let first = 0; first <= MEASURES_PER_OPERATION + 10; first++) {
        expect(measure(schema, document, 'Window', { first, last: null }).cost).toBe(measureOperation(schema, document, 'Window', { first, last: null }, pageSizes).cost);
      }
    }
  });
});

describe('a fragment spread twice in each of many nested fragments', () => {
  /** 2^levels paths in a document of a few KB; `on` is the type every fragment is on. */
  const doubling = (levels: number, root: string, on: string, leaf = '__typename') =>
    `query { ${root} { ...F0 } } ${Array.from({ length: levels }, (_, i) => `fragment F${i} on ${on} { ...F${i + 1} ...F${i + 1} }`).join(' ')} fragment F${levels} on ${on} { ${leaf} }`;

  it('costs as many paths as it has, though every field in it costs nothing', () => {
    const cost = measure(doubling(40, 'organization(subDomain: "x")', 'Organization')).cost;
    expect(cost).toBeGreaterThanOrEqual(2 ** 40);
    // organization 1 + spread of F0 (1 + F0), F(k) = 2 × (1 + F(k+1)), F3 = 0.
    expect(measure(doubling(3, 'organization(subDomain: "x")', 'Organization')).cost).toBe(1 + (1 + 2 * (1 + 2 * (1 + 2 * (1 + 0)))));
  });
});

describe('introspection under the limits', () => {
  it('lets graphql’s standard introspection query through the default depth limit (12), its ofType chains adding no depth', () => {
    const standard = measure(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }));
    expect(standard.depth).toBeLessThanOrEqual(12);
    expect(standard.schemaReads).toBe(1);
    expect(measure('{ __type(name: "Query") { fields { type { ofType { ofType { ofType { ofType { name } } } } } } } }').depth).toBe(4);
  });

  it('counts __schema fields by response key, wherever they are asked for: aliases, fragments', () => {
    expect(measure('{ a: __schema { queryType { name } } b: __schema { queryType { name } } }').schemaReads).toBe(2);
    // The same response key is one field, however often it is written.
    expect(measure('query { ...S ...S } fragment S on Query { __schema { queryType { name } } }').schemaReads).toBe(1);
    expect(measure('{ __schema { queryType { name } } __schema { types { name } } }').schemaReads).toBe(1);
    expect(measure('query { a: __schema { types { name } } ...S } fragment S on Query { a: __schema { queryType { name } } }').schemaReads).toBe(1);
    expect(measure('{ __type(name: "Query") { name } }').schemaReads).toBe(0);
  });

  it('still counts the introspection fields a client can nest at will', () => {
    expect(measure('{ __type(name: "Query") { fields { type { fields { type { fields { type { name } } } } } } } }').depth).toBe(8);
  });
});
