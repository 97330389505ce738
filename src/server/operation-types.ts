import { GraphQLError, type ASTVisitor, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * The spec's "Operation Type Existence" rule, which graphql 16 does not check while validating:
 * it finds a mutation on a schema without mutations only when executing, and answers it with
 * `"data": null` beside the error, which is an execution result. A request error has no data
 * entry at all; this makes one of it, as a subscription already is.
 */
function KnownOperationTypes(context: ValidationContext): ASTVisitor {
  return {
    OperationDefinition(node) {
      if (context.getSchema().getRootType(node.operation)) return;
      context.reportError(
        new GraphQLError(`The ${node.operation} operation is not supported by the schema: this gateway only reads`, {
          nodes: node,
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        }),
      );
    },
  };
}

/** Refuses, as an invalid document, an operation whose type the schema does not have. */
export function useKnownOperationTypes(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(KnownOperationTypes);
    },
  };
}
