import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
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
  built ??= builder.toSchema({ sortSchema: false });
  return built;
}

/** The SDL committed as `schema.graphql` (sorted, so diffs are stable). */
export function printGatewaySchema(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
}
