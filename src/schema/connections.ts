import type { ConnectionArgs, ConnectionResult, UpstreamPage } from '../data/pagination.js';
import { resolveConnection } from '../data/pagination.js';
import type { MaybePromise } from '../data/katapult-source.js';
import { chain, mapEdges } from '../data/pagination.js';
import type { GraphQLContext } from './builder.js';
import { builder } from './builder.js';

/**
 * Connection plumbing shared by every list field: the `totalCount` field, and a resolver
 * that turns Relay arguments into page-aligned upstream reads (see data/pagination.ts).
 */
export function connectionOptions(name: string, what: string) {
  return {
    name,
    description: `A page of ${what}, with cursors to move forwards and backwards.`,
    fields: (t: any) => ({
      totalCount: t.int({
        nullable: true,
        description: 'How many items the whole list holds; null when Katapult does not count it (lists of more than 1,000 items).',
        resolve: (connection: { totalCount: number | null }) => connection.totalCount,
      }),
    }),
  };
}

export function edgeOptions(name: string, what: string) {
  return { name, description: `One ${what} in a connection, with its cursor.` };
}

export function pagedConnection<Item, Node>(
  context: GraphQLContext,
  args: ConnectionArgs,
  binding: string,
  fetchPage: (page: number, refresh?: boolean) => MaybePromise<UpstreamPage<Item>>,
  idOf: (item: Item) => string,
  toNode: (item: Item) => Node,
): MaybePromise<ConnectionResult<Node>> {
  return chain(
    resolveConnection<Item>({ args, binding, codec: context.cursors, sizes: context.pageSizes, fetchPage, idOf }),
    (result) => ({
      ...result,
      edges: mapEdges(result.edges, toNode),
    }),
  );
}

export { builder };
