import { useGraphQlJit } from '@envelop/graphql-jit';
import { getLocation, getOperationAST, GraphQLError, visit, type ASTNode, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

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
  /** Compiled documents kept. @default 1000 */
  maxCompiled?: number;
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
 * they are seen first, and graphql-jit after; and its errors get their locations back.
 */
function normalise(result: ExecutionResult | AsyncIterable<unknown>, setResult: (result: ExecutionResult) => void, args: ExecutionArgs): void {
  if (Symbol.asyncIterator in result || result.errors === undefined) return;
  const { errors, ...rest } = result;
  setResult({ errors: variableErrorsOf(result, args) ?? errors.map((error) => withNodes(error, args.document)), ...rest });
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

/**
 * graphql-jit for the documents that repeat, graphql-js for the rest. Runs are counted per
 * parsed document (yoga's parser cache hands out one object per query text), so a document
 * that drops out of that cache starts counting again. The counts are held weakly.
 */
export function useTieredJit(options: TieredJitOptions): Plugin {
  const runs = new WeakMap<DocumentNode, number>();
  const { after } = options;
  const jit = useGraphQlJit(
    {},
    {
      // Bounded, so a stream of distinct hot documents cannot grow memory.
      cache: new LRUCache({ max: options.maxCompiled ?? 1000 }),
      enableIf:
        after === 0
          ? undefined
          : ({ document }) => {
              const seen = runs.get(document) ?? 0;
              if (seen >= after) return true;
              runs.set(document, seen + 1);
              return false;
            },
    },
  ) as Plugin;
  const onExecute = jit.onExecute!;
  return {
    ...jit,
    onExecute(payload) {
      onExecute(payload);
      return { onExecuteDone: ({ result, setResult }) => normalise(result as ExecutionResult, setResult as (result: ExecutionResult) => void, payload.args as ExecutionArgs) };
    },
  };
}
