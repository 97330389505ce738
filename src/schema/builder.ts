import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import { DateTimeResolver } from 'graphql-scalars';
import type { CursorCodec } from '../data/cursor.js';
import type { KatapultData } from '../data/katapult-data.js';
import type { PageSizes } from '../data/pagination.js';
import type { RequestScope } from '../data/request-scope.js';
import { idOfModel, typeForId } from './node-ids.js';

/** What every resolver receives: the per-request data layer and nothing global. */
export interface GraphQLContext {
  data: KatapultData;
  scope: RequestScope;
  cursors: CursorCodec;
  pageSizes: PageSizes;
}

/**
 * Field extension for fields that cost one Katapult call per object they are read on (a VM's
 * own record, for what its list does not carry). The query cost limit charges that call once
 * per object, however many such fields the object's selection reads.
 */
export const CALL_PER_OBJECT = 'katapultCallPerObject';
export const callPerObject = { [CALL_PER_OBJECT]: true } as const;
/**
 * Marks a field of an object that is read out of its parent's record (an address's details, a
 * hypervisor's address, both out of their VM's): the call is the parent's, charged once per
 * parent however many of its children read from it.
 */
export const CALL_OF_PARENT = 'katapultCallOfParent';
export const callOfParent = { [CALL_OF_PARENT]: true } as const;
/**
 * Marks a field whose objects are few and shared by the parents that reach them (a data
 * center's country, a VM's organization): their own-record calls are one per distinct object,
 * and at most this many in an operation, not one per parent. The query cost limit charges
 * them once for the operation instead of once for every parent.
 */
export const DISTINCT_OBJECTS = 'katapultDistinctObjects';
export const distinctObjects = (atMost: number) => ({ [DISTINCT_OBJECTS]: atMost }) as const;
/** The countries data centers are priced as being in: more than Katapult has data centers in. */
export const COUNTRIES_PRICED_AS = 10;
/**
 * Marks a list Katapult does not paginate whose items can each start Katapult calls of their own
 * (an organization's VM list): the query cost limit prices everything under it this many times.
 * How long the list is depends on the token, and is not known before the query runs.
 */
export const PRICED_LIST_SIZE = 'katapultPricedListSize';
/** The organizations a user-level token is priced as seeing: more than most users belong to. */
export const ORGANIZATIONS_PRICED_AS = 10;
export const pricedAsOrganizations = { [PRICED_LIST_SIZE]: ORGANIZATIONS_PRICED_AS } as const;

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  Scalars: { DateTime: { Input: Date; Output: Date }; ID: { Input: string; Output: string } };
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
  DefaultFieldNullability: false;
}>({
  plugins: [RelayPlugin],
  // Fields are non-null unless they say otherwise: a nullable field is a documented choice
  // (absent upstream, or a separate fetch whose failure should null only that field).
  defaultFieldNullability: false,
  relay: {
    cursorType: 'String',
    clientMutationId: 'omit',
    // Katapult ids are already type-prefixed and globally unique, so they are the global ids:
    // users can paste an id from Katapult's UI straight into `node(id:)`.
    encodeGlobalID: (_typename, id) => String(id),
    decodeGlobalID: (globalID) => ({ typename: '', id: globalID }),
    // `node`/`nodes` are defined in types/node.ts: they resolve by id prefix and return null
    // for unknown prefixes without calling Katapult.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    edgesFieldOptions: { nullable: { list: false, items: false }, description: 'The items of this page, in list order.' },
    nodeFieldOptions: { nullable: false, description: 'The item.' },
    idFieldOptions: { description: 'The Katapult id, e.g. `vm_…`; pass it to `node(id:)` to fetch this object again.' },
    cursorFieldOptions: { description: 'Opaque position of this item; pass it as `after` or `before`.' },
    pageInfoFieldOptions: { description: 'Where this page sits in the whole list.' },
    // The connection spec's reading: each flag is bounded by the cursor in its own direction of paging.
    hasNextPageFieldOptions: {
      description: 'Paging forwards (`first`, or neither): whether more items follow this page, up to `before` when it is given (false at its row). Paging backwards (`last`): whether any item follows this page.',
    },
    hasPreviousPageFieldOptions: {
      description: 'Paging backwards (`last`): whether more items precede this page, back to `after` when it is given (false at its row). Paging forwards (`first`, or neither): whether any item precedes this page.',
    },
    startCursorFieldOptions: { description: 'Cursor of the first item of this page.' },
    endCursorFieldOptions: { description: 'Cursor of the last item of this page.' },
    firstArgOptions: { description: 'Return at most this many items from the start (or from `after`).' },
    lastArgOptions: { description: 'Return at most this many items from the end (or before `before`).' },
    afterArgOptions: { description: 'Start after this cursor.' },
    beforeArgOptions: { description: 'End before this cursor.' },
    nodeTypeOptions: {
      description: 'An object with a Katapult id, fetchable with `node(id:)`.',
      // Katapult ids carry their type in the prefix, so the id alone says which type a node is;
      // a model whose prefix is not known for sure, or that `node` found by the id it was asked
      // for, says its type itself.
      resolveType: (value: unknown) => (value as { nodeType?: string }).nodeType ?? typeForId(idOfModel(value) ?? ''),
    },
    pageInfoTypeOptions: { description: 'Where a page of a connection sits in the whole list.' },
  },
});

builder.addScalarType('DateTime', DateTimeResolver, {
  description: 'A point in time, serialised as an ISO 8601 string in UTC (Katapult sends Unix seconds).',
});

builder.queryType({ description: 'Read access to Katapult through the gateway. Every field that reads Katapult data needs `Authorization: Bearer <Katapult API token>`.' });

/** Katapult timestamps are integer Unix seconds. */
export const fromUnixSeconds = (seconds: number | null | undefined): Date | null =>
  seconds === null || seconds === undefined ? null : new Date(seconds * 1000);
