import {
  getNamedType,
  getOperationAST,
  GraphQLError,
  isObjectType,
  isInterfaceType,
  Kind,
  parse,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { MAX_PAGES_TO_END } from '../data/pagination.js';
import { CALL_OF_PARENT, CALL_PER_OBJECT, DISTINCT_OBJECTS, PRICED_LIST_SIZE } from '../schema/builder.js';
import type { InboundRejectReason } from './metrics.js';

export interface QueryLimitsOptions {
  /** Deepest nesting of fields allowed (root fields are depth 1). */
  maxDepth: number;
  /** Highest cost allowed (see `measureOperation`). */
  maxCost: number;
  /** Aliased fields allowed in one operation. */
  maxAliases: number;
  /** Lexical tokens allowed in a document; parsing stops past it. */
  maxTokens: number;
  /** Page sizes of connection fields (see `PageSizes`). */
  pageSizes: PageSizes;
  /** Told about every rejection (for metrics). @default none */
  onRejected?(reason: InboundRejectReason): void;
}

export interface OperationMeasure {
  depth: number;
  cost: number;
  aliases: number;
  /** `__schema` fields that will run: distinct response keys (aliases), since graphql merges the same key into one. */
  schemaReads: number;
}

/**
 * `__schema` fields allowed in one operation. Its answer is the whole schema (60 KB here) for a
 * few bytes of query, and its lists are the schema's, not the client's, so the cost limit does
 * not see that size; every tool that introspects asks once.
 */
export const MAX_SCHEMA_READS = 1;

type Variables = Record<string, unknown> | null | undefined;

/** The measure of an operation that will not run (none chosen, or a type the schema lacks). */
const NO_OPERATION: OperationMeasure = Object.freeze({ depth: 0, cost: 0, aliases: 0, schemaReads: 0 });

/** Page sizes of connection fields: assumed when neither `first` nor `last` is given, and the largest allowed. */
export interface PageSizes {
  defaultSize: number;
  maxSize: number;
}

/**
 * The request's variables with the operation's defaults for those it leaves out, as execution
 * will see them: `($first: Int = 100)` asks for 100 whether or not the client sends it.
 */
function withDefaults(operation: OperationDefinitionNode, variables: Variables): Variables {
  let out: Record<string, unknown> | undefined;
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (!definition.defaultValue || (variables && Object.hasOwn(variables, name))) continue;
    out ??= { ...variables };
    out[name] = valueFromASTUntyped(definition.defaultValue);
  }
  return out ?? variables;
}

/**
 * What of a variable's value a price depends on: a count (`first`, `last`), a list's length
 * (`ids`), or only whether it is given (`before`). Two requests whose variables read the same
 * this way cost the same, whatever else their values are (two cursors, two lists of ids).
 */
type Reading = 'count' | 'length' | 'given';

const READINGS: Record<Reading, (value: unknown) => number | boolean | null> = {
  count: (value) => (typeof value === 'number' && Number.isFinite(value) ? Math.max(0, value) : null),
  length: (value) => (Array.isArray(value) ? value.length : null),
  given: (value) => (value ?? null) !== null,
};

/** A variable the measure read, and how. */
interface VariableRead {
  name: string;
  reading: Reading;
}

/** Reads variables for the measure, noting each read so that the measure can be reused for requests that read the same. */
class VariableReader {
  readonly reads: VariableRead[] = [];
  constructor(private readonly variables: Variables) {}

  read(name: string, reading: Reading): number | boolean | null {
    if (!this.reads.some((r) => r.name === name && r.reading === reading)) this.reads.push({ name, reading });
    return READINGS[reading](this.variables?.[name]);
  }
}

function numberArgument(field: FieldNode, name: string, variables: VariableReader): number | null {
  const node = field.arguments?.find((a) => a.name.value === name)?.value;
  if (node?.kind === Kind.VARIABLE) return variables.read(node.name.value, 'count') as number | null;
  return node?.kind === Kind.INT ? READINGS.count(Number(node.value)) as number | null : null;
}

function listLength(node: ValueNode | undefined, variables: VariableReader): number | null {
  if (node?.kind === Kind.LIST) return node.values.length;
  return node?.kind === Kind.VARIABLE ? (variables.read(node.name.value, 'length') as number | null) : null;
}

/**
 * How many times a field's subtree runs. A connection returns up to `first`/`last` edges
 * (the default page size when neither is given), so everything under it is paid that many
 * times: 100 VMs with 5 fields each cost 500, not 5. `nodes(ids:)` pays once per id (and
 * CALL_PER_OBJECT_COST for each id's own Katapult call, see `measureOperation`). A list
 * marked PRICED_LIST_SIZE (organizations, each with lists of its own) pays that many times.
 * Other lists are Katapult's small unpaginated catalogues, read whole from the cache, and count once.
 */
function multiplier(definition: GraphQLField<unknown, unknown>, node: FieldNode, variables: VariableReader, pageSizes: PageSizes): number {
  const args = definition.args;
  if (getNamedType(definition.type).name.endsWith('Connection') && args.some((a) => a.name === 'first' || a.name === 'last')) {
    // A bigger page than the largest is refused by the connection itself, as the client's
    // mistake (BAD_USER_INPUT), so it is not priced as if it could run.
    return Math.min(numberArgument(node, 'first', variables) ?? numberArgument(node, 'last', variables) ?? pageSizes.defaultSize, pageSizes.maxSize);
  }
  if (args.some((a) => a.name === 'ids')) return listLength(node.arguments?.find((a) => a.name.value === 'ids')?.value, variables) ?? 1;
  const priced = definition.extensions?.[PRICED_LIST_SIZE];
  return typeof priced === 'number' ? priced : 1;
}

/**
 * What one Katapult call per object adds to the cost of reading that object: a list of 100 VMs
 * that reads a field their list does not carry costs 100 calls, so 20 per VM on top of its
 * fields keeps the default limit (20,000) under about a thousand such calls per query,
 * Katapult's documented budget for a minute.
 */
export const CALL_PER_OBJECT_COST = 20;

/**
 * A connection read from its end (`last` without `before`) may first have to find that end: on
 * a list Katapult does not count, one call per page past row 1,000 (see `MAX_PAGES_TO_END`).
 * It is charged those calls as if each were an object's own call, whatever the list turns out to be.
 */
export const FIND_END_COST = MAX_PAGES_TO_END * CALL_PER_OBJECT_COST;

function readsFromEnd(definition: GraphQLField<unknown, unknown>, node: FieldNode, variables: VariableReader): boolean {
  if (!getNamedType(definition.type).name.endsWith('Connection')) return false;
  const given = (name: string) => {
    const value = node.arguments?.find((a) => a.name.value === name)?.value;
    if (!value || value.kind === Kind.NULL) return false;
    return value.kind !== Kind.VARIABLE || (variables.read(value.name.value, 'given') as boolean);
  };
  return given('last') && !given('before');
}

/**
 * What a fragment (spread or inline) costs besides its fields. Not nothing: a fragment that
 * spreads another twice, nested forty deep, is a 2 KB document of 2⁴⁰ paths. graphql-js runs
 * each field once, but whatever walks the selection (graphql-jit, look-ahead) walks every path;
 * priced at 1 a spread, such a document costs 2⁴⁰ and is refused.
 */
const SPREAD_COST = 1;

/**
 * While measuring: `callPerObject`, whether the selection reads a field that needs the object's
 * own Katapult call; `parentCall`, whether it reads a field out of the record of the object it
 * belongs to (CALL_OF_PARENT), which makes that call the parent's.
 */
type SetMeasure = Omit<OperationMeasure, 'schemaReads'> & { callPerObject: boolean; parentCall: boolean };

/**
 * Depth, cost and alias count of the operation that will run. Cost is one per field and per
 * fragment (SPREAD_COST), with a field's subtree multiplied as `multiplier` says, plus
 * CALL_PER_OBJECT_COST once for each object whose selection (fragments included) reads a field
 * marked CALL_PER_OBJECT, or a child's field marked CALL_OF_PARENT, or that `nodes(ids:)` looks
 * up, plus FIND_END_COST for each connection read from its end.
 * Fragments are measured once each (memoised), so a document that spreads fragments into
 * each other cannot make this slow. Variables are the request's values, with the operation's
 * defaults for those it leaves out: limits apply to what will actually be asked for.
 */
export function measureOperation(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, requestVariables: Variables, pageSizes: PageSizes): OperationMeasure {
  const operation = getOperationAST(document, operationName);
  if (!operation) return NO_OPERATION;
  return measureWith(schema, document, operation, new VariableReader(withDefaults(operation, requestVariables)), pageSizes);
}

function measureWith(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: VariableReader, pageSizes: PageSizes): OperationMeasure {
  const root = schema.getRootType(operation.operation);
  if (!root) return NO_OPERATION;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const memo = new Map<string, SetMeasure>();
  // Fields marked DISTINCT_OBJECTS whose objects make calls, with how many objects they reach at most.
  const sharedCalls = new Map<GraphQLField<unknown, unknown>, number>();

  const fieldOf = (type: GraphQLNamedType, name: string): GraphQLField<unknown, unknown> | undefined => {
    if (name === '__typename') return TypeNameMetaFieldDef;
    if (type === root && name === '__schema') return SchemaMetaFieldDef;
    if (type === root && name === '__type') return TypeMetaFieldDef;
    return isObjectType(type) || isInterfaceType(type) ? type.getFields()[name] : undefined;
  };

  const nothing = (): SetMeasure => ({ depth: 0, cost: 0, aliases: 0, callPerObject: false, parentCall: false });
  // `__schema` only exists on the root type, where fields of one response key merge.
  const schemaKeys = new Set<string>();
  const measureSet = (set: SelectionSetNode, type: GraphQLNamedType): SetMeasure => {
    const total = nothing();
    const add = (inner: SetMeasure, cost: number, depth: number) => {
      total.cost += cost;
      total.depth = Math.max(total.depth, depth);
      total.aliases += inner.aliases;
    };
    // A fragment (inline or named) selects more of the same object: its calls are the object's,
    // charged once, by the field that returns it.
    const addFragment = (inner: SetMeasure) => {
      add(inner, SPREAD_COST + inner.cost, inner.depth);
      total.callPerObject ||= inner.callPerObject;
      total.parentCall ||= inner.parentCall;
    };
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const definition = fieldOf(type, selection.name.value);
        if (definition?.extensions?.[CALL_PER_OBJECT]) total.callPerObject = true;
        if (definition?.extensions?.[CALL_OF_PARENT]) total.parentCall = true;
        const inner = selection.selectionSet && definition ? measureSet(selection.selectionSet, getNamedType(definition.type)) : nothing();
        const times = definition ? multiplier(definition, selection, variables, pageSizes) : 1;
        // Children read out of this object's record (its addresses' details): the call is this object's.
        if (inner.parentCall) total.callPerObject = true;
        // `nodes(ids:)` looks each id up with a call of its own, whatever is selected.
        const callEach = inner.callPerObject || (definition?.args.some((a) => a.name === 'ids') ?? false);
        const distinct = definition?.extensions?.[DISTINCT_OBJECTS] as number | undefined;
        if (callEach && distinct !== undefined) sharedCalls.set(definition!, distinct);
        const each = inner.cost + (callEach && distinct === undefined ? CALL_PER_OBJECT_COST : 0);
        // A type's `ofType` is the one type a list or non-null wraps: its chains are as long as the
        // schema's wrappers, not the client's choice, so they add no depth. graphql's standard
        // introspection query (what GraphiQL and schema tools send) nests it nine deep.
        const level = type.name === '__Type' && selection.name.value === 'ofType' ? 0 : 1;
        const findEnd = definition && readsFromEnd(definition, selection, variables) ? FIND_END_COST : 0;
        add(inner, selection.name.value === '__typename' ? 0 : 1 + times * each + findEnd, level + inner.depth);
        if (selection.alias) total.aliases++;
        if (definition === SchemaMetaFieldDef) schemaKeys.add(selection.alias?.value ?? selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const narrowed = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        addFragment(narrowed ? measureSet(selection.selectionSet, narrowed) : nothing());
      } else {
        const name = selection.name.value;
        let inner = memo.get(name);
        if (!inner) {
          const fragment = fragments.get(name);
          const on = fragment ? schema.getType(fragment.typeCondition.name.value) : undefined;
          inner = fragment && on ? measureSet(fragment.selectionSet, on) : nothing();
          memo.set(name, inner);
        }
        addFragment(inner);
      }
    }
    return total;
  };
  const { depth, cost, aliases } = measureSet(operation.selectionSet, root);
  // One request reads each object once, however many parents (and aliases) reach it.
  let shared = 0;
  for (const objects of sharedCalls.values()) shared += objects * CALL_PER_OBJECT_COST;
  return { depth, cost: cost + shared, aliases, schemaReads: schemaKeys.size };
}

/** Measures kept for one operation of a document, at most: one for each page size a client asks for, and more. */
export const MEASURES_PER_OPERATION = 64;

interface OperationMeasures {
  schema: GraphQLSchema;
  operation: OperationDefinitionNode | null;
  /**
   * One group per set of variables read: which ones a measure reads can depend on their values
   * (`before` is read only when `last` is given). Within a group, measures by the values read.
   */
  groups: Array<{ reads: VariableRead[]; measures: Map<string, OperationMeasure> }>;
  size: number;
}

const readKey = (reads: readonly VariableRead[]) => reads.map((r) => `${r.name}:${r.reading}`).join(',');
const valuesKey = (reads: readonly VariableRead[], variables: Variables) => reads.map((r) => String(READINGS[r.reading](variables?.[r.name]))).join(',');

/**
 * `measureOperation`, remembered. Its result depends only on the document, the operation and
 * what the measure reads of the variables (see `Reading`), so a dashboard's query sent again,
 * by any token, is not walked again, and a walk in windows of 25 is measured once.
 * Documents are held weakly: they come from the parse cache, one object per text, and go with it.
 */
export function createOperationMeasurer(pageSizes: PageSizes): (schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Variables) => OperationMeasure {
  // By operation name as given: no name (null) picks a lone operation, '' names none.
  const documents = new WeakMap<DocumentNode, Map<string | null, OperationMeasures>>();
  return (schema, document, operationName, requestVariables) => {
    let operations = documents.get(document);
    if (!operations) documents.set(document, (operations = new Map()));
    const name = operationName ?? null;
    let entry = operations.get(name);
    if (!entry || entry.schema !== schema) {
      entry = { schema, operation: getOperationAST(document, operationName) ?? null, groups: [], size: 0 };
      operations.set(name, entry);
    }
    const { operation } = entry;
    if (!operation) return NO_OPERATION;
    const variables = withDefaults(operation, requestVariables);
    for (const group of entry.groups) {
      const measure = group.measures.get(valuesKey(group.reads, variables));
      if (measure) return measure;
    }
    const reader = new VariableReader(variables);
    const measure = measureWith(schema, document, operation, reader, pageSizes);
    // A client paging with every size there is would otherwise grow this without end.
    if (entry.size >= MEASURES_PER_OPERATION) {
      entry.groups = [];
      entry.size = 0;
    }
    const key = readKey(reader.reads);
    let group = entry.groups.find((g) => readKey(g.reads) === key);
    if (!group) entry.groups.push((group = { reads: reader.reads, measures: new Map() }));
    group.measures.set(valuesKey(reader.reads, variables), measure);
    entry.size++;
    return measure;
  };
}

const tooComplex = (message: string) =>
  // `spec: true` gives these the status of any other invalid document: 200 for
  // application/json, 400 for application/graphql-response+json.
  new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX', http: { status: 400, spec: true } } });

/** Whether an error is this plugin's refusal. */
export function isQueryLimitRejection(error: unknown): boolean {
  return error instanceof GraphQLError && error.extensions.code === 'QUERY_TOO_COMPLEX';
}

// graphql-js 16 words it "Document contains more that N tokens"; accept the corrected spelling too.
const TOKEN_LIMIT_MESSAGE = /contains more tha[nt] \d+ tokens/;

/**
 * Refuses documents that are too big to parse cheaply (token count, while parsing) or too
 * expensive to run (depth, aliases, cost with the request's variables, just before
 * execution). A refused request never reaches a resolver, so it costs no Katapult call.
 */
export function useQueryLimits(options: QueryLimitsOptions): Plugin {
  const { maxDepth, maxCost, maxAliases, maxTokens, pageSizes } = options;
  const measure = createOperationMeasurer(pageSizes);
  const reject = (reason: InboundRejectReason, message: string) => {
    options.onRejected?.(reason);
    return tooComplex(message);
  };
  return {
    onParse({ setParseFn }) {
      setParseFn((source, parseOptions) => {
        try {
          return parse(source, { ...parseOptions, maxTokens });
        } catch (error) {
          if (error instanceof GraphQLError && TOKEN_LIMIT_MESSAGE.test(error.message)) {
            throw reject('tokens', `The document has more than ${maxTokens} tokens, the limit; send a shorter query`);
          }
          // graphql-js parses nested lists and objects by recursion: about two thousand `[` in a
          // row (4 KB, well within the token limit) run it out of stack.
          if (error instanceof RangeError) throw reject('depth', 'The document nests lists or objects too deeply to parse');
          throw error;
        }
      });
    },
    onExecute({ args, setResultAndStopExecution }) {
      const measured = measure(args.schema, args.document, args.operationName, args.variableValues as Variables);
      let error: GraphQLError | null = null;
      if (measured.depth > maxDepth) {
        error = reject('depth', `The query nests fields ${measured.depth} levels deep; the limit is ${maxDepth}`);
      } else if (measured.aliases > maxAliases) {
        error = reject('aliases', `The query uses ${measured.aliases} aliases; the limit is ${maxAliases}`);
      } else if (measured.schemaReads > MAX_SCHEMA_READS) {
        error = reject('cost', `The query asks for __schema ${measured.schemaReads} times; ask for it once`);
      } else if (measured.cost > maxCost) {
        error = reject('cost', `The query costs ${measured.cost}, over the limit of ${maxCost}; ask for smaller pages (first/last) or fewer nested fields`);
      }
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
