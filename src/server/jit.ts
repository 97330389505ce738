import {
  getLocation,
  getNullableType,
  getOperationAST,
  GraphQLError,
  isListType,
  isNonNullType,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  BREAK,
  type ASTNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { makeExecute, type Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { compiledOperationBytes, documentBytes } from './document-cache.js';

export interface TieredJitOptions {
  /**
   * Executions of a document by yoga's interpreting executor (graphql-tools' port of
   * graphql-js's; "graphql-js" below) before it is compiled; 0 compiles on first use. A
   * compiled document pays its compilation (several ms) and then runs as cold generated code
   * until V8 optimises it, which takes on the order of a hundred runs; the interpreter's code
   * is shared by every document and already hot. So a document seen a few times is cheaper
   * interpreted, and only one that keeps coming back is worth compiling.
   */
  after: number;
  /** Bytes of compiled code (and of the documents it was compiled from) kept, as `document-cache.ts` estimates them. */
  maxBytes: number;
}

/**
 * The document's fields and variable definitions (what errors point at) by where they start,
 * so an error's location leads back to its node.
 */
const nodesByPlace = new WeakMap<DocumentNode, Map<string, ASTNode>>();
function nodeAt(document: DocumentNode, line: number, column: number): ASTNode | undefined {
  let nodes = nodesByPlace.get(document);
  if (!nodes) {
    const index = new Map<string, ASTNode>();
    const add = (node: ASTNode) => {
      if (!node.loc) return;
      const place = getLocation(node.loc.source, node.loc.start);
      index.set(`${place.line}:${place.column}`, node);
    };
    visit(document, { Field: add, VariableDefinition: add });
    nodesByPlace.set(document, (nodes = index));
  }
  return nodes.get(`${line}:${column}`);
}

/**
 * graphql-jit's errors (of fields, and of variables that do not fit their types) carry
 * `locations` but not the AST nodes behind them, and yoga rebuilds every error from its nodes
 * before sending it, so they went out without locations. They get their nodes back here.
 */
function withNodes(error: GraphQLError, document: DocumentNode): GraphQLError {
  if (error.nodes || !error.locations?.length) return error;
  const nodes = error.locations.map(({ line, column }) => nodeAt(document, line, column));
  if (nodes.some((node) => node === undefined)) return error;
  return new GraphQLError(error.message, { nodes: nodes as ASTNode[], path: error.path, originalError: error.originalError, extensions: error.extensions });
}

/**
 * One shape of answer whichever executor ran the document, so its bytes (and ETag) do not
 * change when it is compiled: graphql-js puts `errors` before `data`, as the spec suggests so
 * they are seen first, and graphql-jit after; and its errors get their locations back. Which
 * errors there are can still differ: where several fields under one object fail and nulling
 * it, graphql-js reports the first to fail (which depends on timing) and graphql-jit every one.
 * Matching that would mean running the interpreter again, and its failed upstream reads with it.
 */
function normalise(result: ExecutionResult | AsyncIterable<unknown>, setResult: (result: ExecutionResult) => void, args: ExecutionArgs): void {
  if (Symbol.asyncIterator in result || result.errors === undefined) return;
  const { errors, ...rest } = result;
  if (rest.data) rest.data = withoutLeftOut(rest.data);
  setResult({ errors: variableErrorsOf(result, args) ?? errors.map((error) => withNodes(error, args.document)), ...rest });
}

/**
 * graphql-jit keeps a root field that @skip or @include left out under its key, as undefined,
 * where graphql-js has no key. The bytes are the same (JSON drops it), but the status rules
 * (`error-contract.ts`) read every root key as a field that ran, and took one left out for an
 * answer: a whole-request 401 or 429 went out as a 200 once the document was compiled.
 */
function withoutLeftOut(data: Record<string, unknown>): Record<string, unknown> {
  if (!Object.values(data).includes(undefined)) return data;
  return Object.fromEntries(Object.entries(data).filter(([, value]) => value !== undefined));
}

/**
 * graphql-jit words a variable that does not fit its type differently ("…; Expected type Int;
 * Int cannot represent…"). When nothing ran for that reason, graphql-js's own coercion says it
 * again, in the words the document got before it was compiled. Only on that error path.
 */
function variableErrorsOf(result: ExecutionResult, args: ExecutionArgs): readonly GraphQLError[] | undefined {
  if (result.data !== undefined || !result.errors?.every((error) => error.path === undefined && error.message.startsWith('Variable "$'))) return undefined;
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return undefined;
  const coerced = getVariableValues(args.schema, operation.variableDefinitions ?? [], (args.variableValues ?? {}) as Record<string, unknown>, { maxErrors: 50 });
  return coerced.errors;
}

function hasNullableItems(type: GraphQLOutputType): boolean {
  const list = getNullableType(type);
  if (!isListType(list)) return false;
  return !isNonNullType(list.ofType) || hasNullableItems(list.ofType);
}

/**
 * Whether graphql-jit answers this document right. graphql-jit 0.8.9 puts a list item that
 * fails after a later item of the list has resolved at the end of the list (it pushes a null)
 * instead of at its own place: `nodes(ids:)` with three ids, the first refused, answered four
 * items. Only a list whose items may be null can hold a failed item (`nodes`, a viewer's
 * organizations), so a document that selects one, anywhere, stays with graphql-js.
 */
function compilesRight(schema: GraphQLSchema, document: DocumentNode): boolean {
  const types = new TypeInfo(schema);
  let right = true;
  visit(
    document,
    visitWithTypeInfo(types, {
      Field() {
        const field = types.getFieldDef();
        if (field && hasNullableItems(field.type)) {
          right = false;
          return BREAK;
        }
        return undefined;
      },
    }),
  );
  return right;
}

/**
 * graphql-jit for the documents that repeat, graphql-js for the rest. Runs are counted per
 * parsed document (yoga's parser cache hands out one object per query text), so a document
 * that drops out of that cache starts counting again. The counts are held weakly.
 *
 * graphql-jit compiles one operation of a document, so what it compiled is kept per document
 * and operation name: a document holding several operations (GraphiQL's, or an app's file of
 * them, each picked by `operationName`) must run the one asked for. An operation it cannot
 * compile (an operation name the document does not hold) is left to graphql-js, which answers
 * with the usual error, and so is one it would answer wrong (see `compilesRight`).
 */
export function useTieredJit(options: TieredJitOptions): Plugin & { compiledBytes(): number } {
  const runs = new WeakMap<DocumentNode, number>();
  const { after } = options;
  // Bounded by what the compiled code and the documents it keeps alive take, so a stream of
  // distinct large hot documents cannot grow memory.
  const compiled = new LRUCache<DocumentNode, { byOperation: ReadonlyMap<string, CompiledQuery | null>; bytes: number }>({
    maxSize: options.maxBytes,
    sizeCalculation: (entry, document) => documentBytes(document) + entry.bytes,
  });
  const compiledFor = (args: ExecutionArgs): CompiledQuery | null => {
    const name = args.operationName ?? '';
    const held = compiled.get(args.document);
    const known = held?.byOperation.get(name);
    if (known !== undefined) return known;
    const result = compilesRight(args.schema, args.document) ? compileQuery(args.schema, args.document, args.operationName ?? undefined) : null;
    const entry = result && isCompiledQuery(result) ? result : null;
    // A new value, so that the cache charges the document for its added operation.
    const bytes = (held?.bytes ?? 0) + (entry ? compiledOperationBytes(args.document, args.operationName) : 0);
    compiled.set(args.document, { byOperation: new Map(held?.byOperation).set(name, entry), bytes });
    return entry;
  };
  const due = (document: DocumentNode): boolean => {
    if (after === 0) return true;
    const seen = runs.get(document) ?? 0;
    if (seen >= after) return true;
    runs.set(document, seen + 1);
    return false;
  };
  return {
    compiledBytes: () => compiled.calculatedSize,
    onExecute({ args, setExecuteFn }) {
      const executionArgs = args as ExecutionArgs;
      const entry = due(executionArgs.document) ? compiledFor(executionArgs) : null;
      if (entry) setExecuteFn(makeExecute((call) => entry.query(call.rootValue, call.contextValue, call.variableValues)));
      return { onExecuteDone: ({ result, setResult }) => normalise(result as ExecutionResult, setResult as (result: ExecutionResult) => void, executionArgs) };
    },
  };
}
