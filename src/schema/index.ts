import { GraphQLObjectType, lexicographicSortSchema, printSchema, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { chain } from '../data/pagination.js';
import { builder } from './builder.js';
import './types/virtual-machine.js';
import './types/organization.js';
import './types/zone.js';
import './types/data-center.js';
import './types/country.js';
import './types/virtual-machine-package.js';
import './types/gpu-type.js';
import './types/ip-address.js';
import './types/hypervisor.js';
import './types/viewer.js';
import './types/node.js';

export type { GraphQLContext } from './builder.js';

/** Builds the schema once; the types register themselves with the builder on import. */
let built: GraphQLSchema | undefined;
export function buildSchema(): GraphQLSchema {
  built ??= synchronousNodeIds(builder.toSchema({ sortSchema: false }));
  return built;
}

/**
 * The relay plugin resolves every node's `id` through an `async` wrapper, so each id costs a
 * promise and a trip through the executor's promise handling even when the value is in hand:
 * a page of 100 VMs with their zones, data centers and countries made 400 of them. Our global
 * ids are the Katapult ids (`encodeGlobalID` is `String`), so the wrapper adds nothing: the
 * field resolves through the type's own `id` resolver, synchronously when that is.
 */
function synchronousNodeIds(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!(type instanceof GraphQLObjectType) || !type.getInterfaces().some((i) => i.name === 'Node')) continue;
    const own = (type.extensions as { pothosOptions?: { id?: { resolve?: GraphQLFieldResolver<unknown, unknown> } } }).pothosOptions?.id?.resolve;
    const field = type.getFields().id;
    if (!own || !field) throw new Error(`node type ${type.name} has no id resolver of its own`);
    field.resolve = (parent, args, context, info) => chain(own(parent, args, context, info) as string | Promise<string>, String);
  }
  return schema;
}

/** The SDL committed as `schema.graphql` (sorted, so diffs are stable). */
export function printGatewaySchema(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
}
