import fc from 'fast-check';
import {
  getNamedType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  parse,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLInterfaceType,
  type GraphQLSchema,
  type GraphQLType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALL_OF_PARENT, CALL_PER_OBJECT, PRICED_LIST_SIZE } from '../../src/schema/builder.js';
import { DEADLINE_HEADER } from '../../src/app.js';
import { buildSchema } from '../../src/schema/index.js';
import { CALL_PER_OBJECT_COST, createOperationMeasurer, measureOperation, type PageSizes } from '../../src/server/query-limits.js';
import { DEMO_TOKENS, type Simulator } from '../../src/simulator/index.js';
import { createTestGateway, type GatewayResponse, type TestGateway } from '../helpers/gateway.js';

/**
 * Random valid documents over the whole schema, each run on a cold gateway, checked against
 * what the query cost limit promises: an operation it accepts cannot make the gateway spend a
 * token's Katapult budget out of proportion to its price.
 *
 * The relation the cost model intends, for an accepted operation on a cold cache:
 *
 *   (R1) calls <= cost. Every call is started by a field that runs, and each run of a field is
 *        charged at least 1; the pages a connection reads (at most two upstream pages of 200
 *        for a window of at most 100, or MAX_PAGES_TO_END to find a list's end, which
 *        FIND_END_COST pays 20 each) are within what its multiplier charges.
 *   (R2) CALL_PER_OBJECT_COST * (own-record calls - unpriced allowance) <= cost. A call for one
 *        object's own record (`/virtual_machines/:id`, `/countries/:id`, …) is what the limit
 *        prices at 20 per object (CALL_PER_OBJECT, CALL_OF_PARENT, each id of `nodes`). The
 *        calls it leaves unpriced are those of objects with no list above them (a root lookup,
 *        its organization, its package), one per such selection of the document, and those
 *        under Katapult's unpaginated catalogues (zones, data centers), which the limit prices
 *        once on purpose, at most the catalogue's size per selection. Anything reached through a
 *        connection's edges, `nodes` or a PRICED_LIST_SIZE list is priced per object, however
 *        many the list turns out to hold (see `unpricedOwnRecords`).
 *
 * And the price itself depends only on the work asked for: renaming fragments, writing a
 * spread as an inline fragment, reordering selections and a variable instead of its literal
 * value cost the same, and inlining a spread's fields costs at most what the spread did.
 */

const SEED = Number(process.env.COST_SEED ?? 20_261_208);
const RUNS = Number(process.env.COST_RUNS ?? 120);

const schema = buildSchema();
const PAGE_SIZES: PageSizes = { defaultSize: 20, maxSize: 100 };
const MAX_COST = 20_000;
const ANSWER_WITHIN_MS = 8_000;
const MAX_ALIASES = 30;
const MAX_DEPTH = 12;

// ---- the document model, printed in several equivalent ways ----

type Value = { kind: 'lit'; text: string } | { kind: 'var'; name: string };
interface Directive {
  name: 'skip' | 'include';
  value: Value;
}
type Selection =
  | { kind: 'field'; alias?: string; name: string; args: Array<{ name: string; value: Value }>; selections?: Selection[]; directives: Directive[] }
  | { kind: 'inline'; on?: string; selections: Selection[]; directives: Directive[] }
  | { kind: 'spread'; name: string; directives: Directive[] };
interface Fragment {
  name: string;
  on: string;
  selections: Selection[];
}
interface Variable {
  name: string;
  type: string;
  defaultText?: string;
  /** Sent in the request when defined. */
  sent?: { value: unknown };
  /** The literal the operation sees for it: sent, else default, else null. */
  effective: string;
}
interface Doc {
  variables: Variable[];
  selections: Selection[];
  fragments: Fragment[];
  token: string;
}

interface PrintOptions {
  fragmentName?: (name: string) => string;
  /** 'inline': a spread becomes `... on T { fields }`; 'flatten': its fields go into the enclosing set. */
  spreads?: 'keep' | 'inline' | 'flatten';
  literals?: boolean;
  order?: <T>(items: T[]) => T[];
}

function printDoc(doc: Doc, options: PrintOptions = {}): { text: string; variables: Record<string, unknown> } {
  const fragmentName = options.fragmentName ?? ((n: string) => n);
  const order = options.order ?? (<T>(items: T[]) => items);
  const byName = new Map(doc.fragments.map((f) => [f.name, f]));
  const varByName = new Map(doc.variables.map((v) => [v.name, v]));
  const value = (v: Value) => (v.kind === 'lit' ? v.text : options.literals ? varByName.get(v.name)!.effective : `$${v.name}`);
  const directives = (ds: Directive[]) => ds.map((d) => ` @${d.name}(if: ${value(d.value)})`).join('');
  const selectionList = (selections: Selection[]): string[] =>
    order(
      selections.flatMap((s): string[] => {
        if (s.kind === 'field') {
          const args = s.args.length ? `(${s.args.map((a) => `${a.name}: ${value(a.value)}`).join(', ')})` : '';
          return [`${s.alias ? `${s.alias}: ` : ''}${s.name}${args}${directives(s.directives)}${s.selections ? ` ${set(s.selections)}` : ''}`];
        }
        if (s.kind === 'inline') return [`...${s.on ? ` on ${s.on}` : ''}${directives(s.directives)} ${set(s.selections)}`];
        const fragment = byName.get(s.name)!;
        if (options.spreads === 'inline') return [`... on ${fragment.on}${directives(s.directives)} ${set(fragment.selections)}`];
        if (options.spreads === 'flatten' && s.directives.length === 0) return selectionList(fragment.selections);
        if (options.spreads === 'flatten') return [`...${directives(s.directives)} ${set(fragment.selections)}`];
        return [`...${fragmentName(s.name)}${directives(s.directives)}`];
      }),
    );
  const set = (selections: Selection[]): string => `{ ${selectionList(selections).join(' ')} }`;
  const definitions = !options.literals && doc.variables.length ? `(${doc.variables.map((v) => `$${v.name}: ${v.type}${v.defaultText ? ` = ${v.defaultText}` : ''}`).join(', ')})` : '';
  const keepFragments = !options.spreads || options.spreads === 'keep';
  const fragments = keepFragments ? order(doc.fragments).map((f) => `fragment ${fragmentName(f.name)} on ${f.on} ${set(f.selections)}`) : [];
  const variables: Record<string, unknown> = {};
  if (!options.literals) for (const v of doc.variables) if (v.sent) variables[v.name] = v.sent.value;
  return { text: [`query Fuzz${definitions} ${set(doc.selections)}`, ...fragments].join('\n'), variables };
}

// ---- what the simulator holds, for ids, cursors and the like ----

interface Pools {
  ids: string[];
  fqdns: string[];
  orgIds: string[];
  /** Cursors by connection type name, read from a warm gateway with the same secrets. */
  cursors: Map<string, string[]>;
  catalogueSize(type: GraphQLNamedType): number;
}

const TOKENS = [DEMO_TOKENS.user, DEMO_TOKENS.user, DEMO_TOKENS.globex, DEMO_TOKENS.acme];

async function readPools(): Promise<Pools> {
  const gateway = createTestGateway();
  try {
    const { dataset } = gateway.sim;
    const live = (org: string) => dataset.liveVirtualMachines(org).map((v) => v.virtualMachine);
    const vms = dataset.organizations.flatMap((o) => [...live(o.id).slice(0, 3), ...live(o.id).slice(-2)]);
    const ids = [
      ...vms.map((v) => v.id),
      ...dataset.organizations.map((o) => o.id),
      ...dataset.packages.slice(0, 3).map((p) => p.package.id),
      ...dataset.packages.slice(-2).map((p) => p.package.id),
      ...dataset.countries.map((c) => c.id),
      ...dataset.dataCenters.slice(0, 2).map((d) => d.id),
      ...dataset.zones.slice(0, 2).map((z) => z.id),
      ...dataset.gpuTypes.slice(0, 2).map((g) => g.id),
      'vm_doesNotExist0000',
      'nonsense',
    ];
    const cursors = new Map<string, string[]>();
    const collect = async (typeName: string, token: string, document: string, pick: (data: any) => any) => {
      const { body } = await gateway.query(document, { token });
      const connection = pick(body.data);
      if (!connection) return;
      const found = [connection.pageInfo.startCursor, connection.pageInfo.endCursor].filter((c): c is string => typeof c === 'string');
      cursors.set(typeName, [...(cursors.get(typeName) ?? []), ...found]);
    };
    const page = '{ pageInfo { startCursor endCursor } }';
    for (const token of [DEMO_TOKENS.user, DEMO_TOKENS.acme]) {
      await collect('VirtualMachineConnection', token, `{ organization(subDomain: "acme") { virtualMachines(first: 100, after: null) ${page} } }`, (d) => d?.organization?.virtualMachines);
    }
    await collect('VirtualMachineConnection', DEMO_TOKENS.globex, `{ organization(subDomain: "globex") { virtualMachines(first: 5) ${page} } }`, (d) => d?.organization?.virtualMachines);
    await collect('CountryConnection', DEMO_TOKENS.user, `{ countries(first: 2) ${page} }`, (d) => d?.countries);
    await collect('GpuTypeConnection', DEMO_TOKENS.user, `{ gpuTypes(first: 1) ${page} }`, (d) => d?.gpuTypes);
    await collect('VirtualMachinePackageConnection', DEMO_TOKENS.user, `{ virtualMachinePackages(first: 3) ${page} }`, (d) => d?.virtualMachinePackages);
    const sizes: Record<string, number> = {
      Country: dataset.countries.length,
      DataCenter: dataset.dataCenters.length,
      Zone: dataset.zones.length,
      GpuType: dataset.gpuTypes.length,
    };
    const catalogueSize = (type: GraphQLNamedType) => sizes[type.name] ?? 1;
    return { ids, fqdns: vms.map((v) => v.fqdn), orgIds: dataset.organizations.map((o) => o.id), cursors, catalogueSize };
  } finally {
    await gateway.close();
  }
}

// ---- the generator ----

type Gen = fc.GeneratorValue;
// Unbiased: fast-check leans towards small numbers, which would make every chance a certainty.
const below = (g: Gen, n: number) => g(() => fc.noBias(fc.nat({ max: n - 1 })));
const pick = <T>(g: Gen, items: readonly T[]): T => items[below(g, items.length)]!;
const chance = (g: Gen, p: number) => below(g, 1000) < p * 1000;
const json = (v: unknown) => JSON.stringify(v);
const SIZES = [0, 1, 2, 3, 5, 10, 20, 30, 50, 70, 100, 101];

function generate(g: Gen, pools: Pools): Doc {
  const doc: Doc = { variables: [], selections: [], fragments: [], token: pick(g, TOKENS) };
  let counter = 0;
  // Selections left to spend: keeps documents small enough to read when one fails.
  // Small ones half the time: a price only just over the calls shows in a small document.
  let budget = chance(g, 0.5) ? 2 + below(g, 5) : 3 + below(g, 31);

  /** A literal, or a variable (with or without a default, sent or not) holding `value`. */
  const valueOf = (type: string, value: unknown): Value => {
    if (!chance(g, 0.3)) return { kind: 'lit', text: literal(value) };
    const name = `v${doc.variables.length}`;
    const required = type.endsWith('!');
    const withDefault = !required && chance(g, 0.5);
    const send = required || !withDefault || chance(g, 0.5);
    if (withDefault && send) {
      // The default is overridden: it must not be what is priced.
      const other = typeof value === 'number' ? pick(g, SIZES) : null;
      doc.variables.push({ name, type, defaultText: literal(other), sent: { value }, effective: literal(value) });
    } else if (withDefault) {
      doc.variables.push({ name, type, defaultText: literal(value), effective: literal(value) });
    } else if (value === null && chance(g, 0.5)) {
      doc.variables.push({ name, type, effective: 'null' });
    } else {
      doc.variables.push({ name, type, sent: { value }, effective: literal(value) });
    }
    return { kind: 'var', name };
  };

  const directives = (): Directive[] => {
    if (!chance(g, 0.12)) return [];
    const name = chance(g, 0.5) ? 'skip' : 'include';
    return [{ name, value: valueOf('Boolean!', chance(g, 0.5)) }];
  };

  const connectionArgs = (field: GraphQLField<unknown, unknown>) => {
    const args: Array<{ name: string; value: Value }> = [];
    const has = (n: string) => field.args.some((a) => a.name === n);
    // `first` (alone or with `last`) half the time: the size most pages are asked for.
    const style = below(g, 8);
    if (style === 1 || style === 3 || style >= 6) args.push({ name: 'first', value: valueOf('Int', pick(g, SIZES)) });
    if (style === 2 || style === 3) args.push({ name: 'last', value: valueOf('Int', pick(g, SIZES)) });
    if (style === 4) args.push({ name: 'first', value: valueOf('Int', null) });
    const cursors = pools.cursors.get(getNamedType(field.type).name) ?? [];
    for (const c of ['after', 'before']) {
      if (has(c) && chance(g, 0.2)) args.push({ name: c, value: valueOf('String', chance(g, 0.85) && cursors.length ? pick(g, cursors) : pick(g, [null, 'bm90IGEgY3Vyc29y'])) });
    }
    if (has('annotations') && chance(g, 0.1)) args.push({ name: 'annotations', value: { kind: 'lit', text: '[{ key: "env", value: "production" }]' } });
    if (has('organization') && chance(g, 0.4)) args.push({ name: 'organization', value: { kind: 'lit', text: `{ subDomain: ${json(pick(g, ['acme', 'globex']))} }` } });
    return args;
  };

  const argsFor = (type: GraphQLNamedType, field: GraphQLField<unknown, unknown>) => {
    if (getNamedType(field.type).name.endsWith('Connection')) return connectionArgs(field);
    switch (`${type.name}.${field.name}`) {
      case 'Query.node':
        return [{ name: 'id', value: valueOf('ID!', pick(g, pools.ids)) }];
      case 'Query.nodes': {
        const ids = Array.from({ length: below(g, 7) }, () => pick(g, pools.ids));
        return [{ name: 'ids', value: valueOf('[ID!]!', ids) }];
      }
      case 'Query.organization':
        return chance(g, 0.7)
          ? [{ name: 'subDomain', value: valueOf('String', pick(g, ['acme', 'acme', 'globex', 'globex', 'initech', 'nope'])) }]
          : [{ name: 'id', value: valueOf('ID', pick(g, pools.orgIds)) }];
      case 'Query.virtualMachine':
        return chance(g, 0.7)
          ? [{ name: 'id', value: valueOf('ID', pick(g, pools.ids.filter((i) => i.startsWith('vm_')))) }]
          : [{ name: 'fqdn', value: valueOf('String', pick(g, pools.fqdns)) }];
      default:
        return [];
    }
  };

  const selectionFor = (type: GraphQLNamedType, depth: number, inFragment: boolean): Selection[] => {
    const fields = isObjectType(type) || isInterfaceType(type) ? Object.values((type as GraphQLObjectType | GraphQLInterfaceType).getFields()) : [];
    const leaves = fields.filter((f) => isLeafType(getNamedType(f.type)));
    const count = 1 + below(g, type.name === 'Query' ? 3 : Math.min(3, Math.max(0, budget)) + 1);
    const out: Selection[] = [];
    const usedKeys = new Set<string>();
    for (let i = 0; i < count; i++) {
      budget--;
      const roll = below(g, 100);
      if (roll < 8 && depth < 5 && budget > 0) {
        // An inline fragment, on the type itself, or on an implementation when the type is Node.
        const on = isInterfaceType(type) ? pick(g, schema.getPossibleTypes(type)) : type;
        out.push({ kind: 'inline', on: on === type && chance(g, 0.5) ? undefined : on.name, selections: selectionFor(on, depth + 1, true), directives: directives() });
        continue;
      }
      if (roll < 16 && depth < 5 && budget > 0) {
        const on = isInterfaceType(type) ? pick(g, schema.getPossibleTypes(type)) : type;
        const name = `F${counter++}`;
        const fragment: Fragment = { name, on: on.name, selections: [] };
        doc.fragments.push(fragment);
        fragment.selections = selectionFor(on, depth + 1, true);
        out.push({ kind: 'spread', name, directives: directives() });
        // The same fragment spread again, elsewhere in the set.
        if (chance(g, 0.2)) out.push({ kind: 'spread', name, directives: [] });
        continue;
      }
      // Once the budget is spent a set gets one selection, but it may still go deeper: a page's
      // edges reach their node's fields that way.
      const candidates = depth >= 6 || fields.length === 0 ? leaves : fields;
      const field = candidates.length ? pickWeighted(g, candidates, weight) : undefined;
      if (!field) {
        out.push({ kind: 'field', name: '__typename', args: [], directives: [] });
        continue;
      }
      const args = argsFor(type, field);
      const named = getNamedType(field.type);
      const selections = isLeafType(named) ? undefined : selectionFor(named, depth + 1, inFragment);
      // Fields with arguments or sub-selections merge only when they agree: a key used once per set, and
      // always aliased inside fragments, whose fields merge with the enclosing set's.
      const needsAlias = usedKeys.has(field.name) || ((inFragment || chance(g, 0.15)) && (args.length > 0 || selections !== undefined));
      const alias = needsAlias || chance(g, 0.05) ? `a${counter++}` : undefined;
      usedKeys.add(alias ?? field.name);
      out.push({ kind: 'field', alias, name: field.name, args, selections, directives: directives() });
    }
    if (isInterfaceType(type) && !out.some((s) => s.kind === 'field')) out.push({ kind: 'field', name: 'id', args: [], directives: [] });
    return out;
  };

  doc.selections = selectionFor(schema.getQueryType()!, 0, false);
  // A page of VMs, with random arguments and a random selection of each VM, a quarter of the
  // time: where per-object calls multiply, and where a random walk from the root seldom gets.
  if (chance(g, 0.25)) {
    const organization = schema.getType('Organization') as GraphQLObjectType;
    const page: Selection = {
      kind: 'field',
      name: 'edges',
      args: [],
      directives: [],
      selections: [{ kind: 'field', name: 'node', args: [], directives: [], selections: selectionFor(schema.getType('VirtualMachine')!, 3, false) }],
    };
    const vms: Selection = { kind: 'field', alias: `a${counter++}`, name: 'virtualMachines', args: connectionArgs(organization.getFields().virtualMachines!), directives: [], selections: [page] };
    const subDomain = pick(g, ['acme', 'globex']);
    doc.selections.push({ kind: 'field', alias: `a${counter++}`, name: 'organization', args: [{ name: 'subDomain', value: valueOf('String', subDomain) }], directives: [], selections: [vms] });
  }
  return doc;
}

/**
 * Paths into lists of VMs and organizations are where per-object calls multiply: without
 * weights, a connection, its edges, their node and a field needing a record are rarely picked
 * in a row.
 */
function weight(field: GraphQLField<unknown, unknown>): number {
  const named = getNamedType(field.type).name;
  if (field.name === 'organization' || field.name === 'virtualMachines') return 8;
  if (named.endsWith('Connection') || field.name === 'edges' || field.name === 'node' || field.name === 'nodes') return 4;
  if (field.extensions?.[CALL_PER_OBJECT] || field.extensions?.[CALL_OF_PARENT]) return 3;
  if (named === 'Organization' || named === 'Viewer' || named === 'VirtualMachine') return 3;
  return 1;
}

function pickWeighted<T>(g: Gen, items: readonly T[], weightOf: (item: T) => number): T {
  const total = items.reduce((sum, item) => sum + weightOf(item), 0);
  let at = below(g, total);
  for (const item of items) if ((at -= weightOf(item)) < 0) return item;
  return items[items.length - 1]!;
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  return JSON.stringify(value);
}

// ---- counting ----

/** Calls for one object's own record; everything else is a list or a page of one. */
const OWN_RECORD = /^\/core\/v1\/(?:(?:virtual_machines|virtual_machine_packages|countries|zones|gpu_types)\/[^/]+|(?:organizations|data_centers)\/[^/]+|users\/current)$/;

const isList = (type: GraphQLType): boolean => (isNonNullType(type) ? isList(type.ofType) : isListType(type));

/**
 * How many own-record calls a document may make that the limit does not price: one for each
 * selection of an object that has a record of its own (a Node, the viewer) with no list above it, and for an object under Katapult's small
 * unpaginated catalogues only (zones, data centers: priced once, whatever they hold, see
 * `multiplier`), one per item the catalogue holds. Nothing for an object under a list the limit
 * multiplies (a connection's edges, `nodes`, a PRICED_LIST_SIZE list): each of those calls is
 * priced. Counted over every spread and ignoring @skip, so an upper bound.
 */
const hasOwnRecord = (type: GraphQLNamedType) => type.name === 'Viewer' || ((isObjectType(type) || isInterfaceType(type)) && (type.name === 'Node' || type.getInterfaces().some((i) => i.name === 'Node')));

function unpricedOwnRecords(doc: Doc, catalogueSize: (type: GraphQLNamedType) => number): number {
  const byName = new Map(doc.fragments.map((f) => [f.name, f]));
  const walk = (selections: Selection[], type: GraphQLNamedType, above: 'none' | 'catalogue'): number => {
    let n = 0;
    for (const s of selections) {
      if (s.kind === 'inline') n += walk(s.selections, s.on ? schema.getType(s.on)! : type, above);
      else if (s.kind === 'spread') n += walk(byName.get(s.name)!.selections, schema.getType(byName.get(s.name)!.on)!, above);
      else if (s.selections && (isObjectType(type) || isInterfaceType(type))) {
        const field = type.getFields()[s.name]!;
        const named = getNamedType(field.type);
        let here = above;
        if (isList(field.type)) {
          const multiplied = s.name === 'edges' || field.args.some((a) => a.name === 'ids') || field.extensions?.[PRICED_LIST_SIZE] !== undefined;
          if (multiplied) continue;
          here = 'catalogue';
        }
        // A lookup argument (`virtualMachinePackages(organization:)`) reads that object's record too.
        const lookup = field.args.some((a) => a.name === 'organization') && here === 'none' ? 1 : 0;
        n += lookup + (hasOwnRecord(named) ? (here === 'none' ? 1 : catalogueSize(named)) : 0) + walk(s.selections, named, here);
      }
    }
    return n;
  };
  return walk(doc.selections, schema.getQueryType()!, 'none');
}

interface Run {
  doc: Doc;
  text: string;
  variables: Record<string, unknown>;
  cost: number;
  withinLimits: boolean;
  accepted: boolean;
  response: GatewayResponse;
  calls: string[];
}

function describeRun(run: Run, extra: string): string {
  return `${extra}\ncost ${run.cost}, ${run.calls.length} calls:\n  ${run.calls.join('\n  ')}\n${run.text}\nvariables ${JSON.stringify(run.variables)}\nanswer ${run.response.text.slice(0, 800)}`;
}

async function runOnColdGateway(doc: Doc, written?: string): Promise<Run> {
  const { text, variables } = written === undefined ? printDoc(doc) : { text: written, variables: {} };
  const measure = measureOperation(schema, parse(text), null, variables, PAGE_SIZES);
  const cost = measure.cost;
  const withinLimits = cost <= MAX_COST && measure.aliases <= MAX_ALIASES && measure.depth <= MAX_DEPTH;
  const gateway: TestGateway = createTestGateway();
  try {
    const sim: Simulator = gateway.sim;
    // An operation priced far below its calls runs into the token's rate limit and waits for the
    // next window: that is the failure this looks for, so it must fail, not hang.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ANSWER_WITHIN_MS)));
    const answered = await Promise.race([gateway.query(text, { token: doc.token, variables, headers: { [DEADLINE_HEADER]: String(ANSWER_WITHIN_MS / 2) } }), late]);
    clearTimeout(timer);
    if (!answered) throw new Error(`no answer within ${ANSWER_WITHIN_MS} ms, after ${sim.requests.length} Katapult calls for a cost of ${cost}:\n${text}\nvariables ${JSON.stringify(variables)}`);
    const response = answered;
    const calls = sim.requests.map((r) => (r.query ? `${r.path}?${r.query}` : r.path));
    const accepted = !(response.body.errors ?? []).some((e) => e.extensions?.code === 'QUERY_TOO_COMPLEX' || e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED');
    return { doc, text, variables, cost, withinLimits, accepted, response, calls };
  } finally {
    await gateway.close();
  }
}

// ---- the properties ----

let pools: Pools;
beforeAll(async () => {
  pools = await readPools();
});

const codes = new Map<string, number>();
afterAll(() => {
  // Kept for whoever reads the output: how much of what was generated ran.
  console.log('answers by error code', Object.fromEntries(codes));
});

describe('query cost against Katapult calls made', () => {
  it('prices a country field its list does not carry as the country\'s own call, under a catalogue or a connection', async () => {
    // Each reads `/countries/country` for every country it reaches: once they cost 3 (4 calls) and 13 (5 calls).
    // A catalogue is priced once, whatever it holds (R1); a connection per country it returns (R2).
    for (const [document, countryCalls, perCountry] of [
      ['{ dataCenters { country { eu } } }', 3, false],
      ['{ countries(first: 4) { edges { node { isoCode2 } } } }', 4, true],
    ] as const) {
      const run = await runOnColdGateway({ variables: [], selections: [], fragments: [], token: DEMO_TOKENS.globex }, document);
      expect(run.response.body.errors).toBeUndefined();
      expect(run.calls.filter((c) => c.startsWith('/core/v1/countries/country?'))).toHaveLength(countryCalls);
      expect(run.calls.length, document).toBeLessThanOrEqual(run.cost);
      if (perCountry) expect(CALL_PER_OBJECT_COST * countryCalls, document).toBeLessThanOrEqual(run.cost);
    }
  });

  it('prices an organization field a user\'s list does not carry as the organization\'s own call', async () => {
    // The user's list names each organization; `suspended` reads each one's record. It once cost 12, whatever the list held.
    const document = '{ viewer { organizations { name suspended } } }';
    const run = await runOnColdGateway({ variables: [], selections: [], fragments: [], token: DEMO_TOKENS.user }, document);
    expect(run.response.body.errors).toBeUndefined();
    const recordCalls = run.calls.filter((c) => /^\/core\/v1\/organizations\/[^/?]+/.test(c)).length;
    expect(recordCalls).toBeGreaterThanOrEqual(2);
    expect(CALL_PER_OBJECT_COST * recordCalls, document).toBeLessThanOrEqual(run.cost);
  });

  it('prices every accepted random document at least at the calls it makes, and answers with data or coded errors', async () => {
    const arbitrary = fc.gen().map((g) => generate(g, pools));
    await fc.assert(
      fc.asyncProperty(arbitrary, async (doc) => {
        const run = await runOnColdGateway(doc);
        const { body, status } = run.response;
        for (const error of body.errors ?? []) codes.set(String(error.extensions?.code), (codes.get(String(error.extensions?.code)) ?? 0) + 1);
        if (!body.errors) codes.set('none', (codes.get('none') ?? 0) + 1);

        // 1. data or coded errors, never an internal one.
        expect(status, describeRun(run, 'status')).toBeLessThan(500);
        for (const error of body.errors ?? []) {
          expect(typeof error.extensions?.code, describeRun(run, `uncoded error: ${error.message}`)).toBe('string');
          expect(error.extensions?.code, describeRun(run, `internal error: ${error.message}`)).not.toBe('INTERNAL_SERVER_ERROR');
        }
        const invalid = (body.errors ?? []).some((e) => e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED');
        expect(invalid, describeRun(run, 'the generator made an invalid document')).toBe(false);

        // The limit's decision is the measure's.
        expect(run.accepted, describeRun(run, 'accepted')).toBe(run.withinLimits);
        if (!run.accepted) {
          expect(run.calls, describeRun(run, 'a refused operation made calls')).toEqual([]);
          return;
        }

        // 2. R1 and R2 (see the top of this file).
        expect(run.calls.length, describeRun(run, 'R1: more calls than the cost')).toBeLessThanOrEqual(run.cost);
        const own = run.calls.filter((c) => OWN_RECORD.test(c.split('?')[0]!)).length;
        const free = unpricedOwnRecords(doc, pools.catalogueSize);
        expect(CALL_PER_OBJECT_COST * Math.max(0, own - free), describeRun(run, `R2: ${own} own-record calls, ${free} unpriced`)).toBeLessThanOrEqual(run.cost);
      }),
      // Each run is a cold gateway: shrinking would run hundreds more, and the document printed is readable as it is.
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);

  it('prices a document the same however its fragments are named, written or ordered, and with variables or literals', () => {
    const arbitrary = fc.tuple(
      fc.gen().map((g) => generate(g, pools)),
      fc.integer(),
    );
    fc.assert(
      fc.property(arbitrary, ([doc, shuffleSeed]) => {
        const cost = (options: PrintOptions) => {
          const { text, variables } = printDoc(doc, options);
          return measureOperation(schema, parse(text), null, variables, PAGE_SIZES).cost;
        };
        const original = cost({});
        const context = printDoc(doc).text;
        expect(cost({ fragmentName: (n) => `Renamed_${n}_x` }), `renamed fragments\n${context}`).toBe(original);
        expect(cost({ spreads: 'inline' }), `spreads as inline fragments\n${context}`).toBe(original);
        expect(cost({ spreads: 'flatten' }), `spreads' fields inlined\n${context}`).toBeLessThanOrEqual(original);
        expect(cost({ literals: true }), `variables as literals\n${context}`).toBe(original);
        let state = shuffleSeed;
        const random = () => ((state = (Math.imul(state, 1_103_515_245) + 12_345) | 0) >>> 0) / 2 ** 32;
        const shuffled = <T>(items: T[]) => {
          const copy = [...items];
          for (let i = copy.length - 1; i > 0; i--) {
            const j = Math.floor(random() * (i + 1));
            [copy[i], copy[j]] = [copy[j]!, copy[i]!];
          }
          return copy;
        };
        expect(cost({ order: shuffled }), `reordered\n${context}`).toBe(original);

        // The remembered measure of the gateway agrees with a fresh one, whatever was asked before.
        const measurer = createOperationMeasurer(PAGE_SIZES);
        const { text, variables } = printDoc(doc);
        const document = parse(text);
        const literalDoc = parse(printDoc(doc, { literals: true }).text);
        expect(measurer(schema, document, null, {}).cost).toBe(measureOperation(schema, document, null, {}, PAGE_SIZES).cost);
        expect(measurer(schema, document, null, variables).cost, `remembered measure\n${text}`).toBe(original);
        expect(measurer(schema, literalDoc, null, {}).cost).toBe(original);
      }),
      { seed: SEED, numRuns: 400, endOnFailure: true },
    );
  });
});
