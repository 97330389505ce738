import { GraphQLError, type ASTVisitor, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Every introspection entry point except `__typename`, which clients use to tell types apart. */
const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

function NoIntrospection(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      if (!INTROSPECTION_FIELDS.has(node.name.value)) return;
      context.reportError(
        new GraphQLError(`Introspection is turned off on this gateway (${node.name.value} is not available); use the published schema instead`, {
          nodes: node,
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        }),
      );
    },
  };
}

/** Refuses `__schema` and `__type` queries as invalid documents, so the schema cannot be read out. */
export function useDisableIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoIntrospection);
    },
  };
}
