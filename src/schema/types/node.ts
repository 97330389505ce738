import { InvalidInputError, MissingTokenError } from '../../data/errors.js';
import { nullIfNotFound } from '../../data/katapult-data.js';
import type { MaybePromise } from '../../data/katapult-source.js';
import { countryModel, dataCenterModel, gpuTypeModel, packageModel, virtualMachineFromFull, zoneModel } from '../../data/models.js';
import { chain, recover } from '../../data/pagination.js';
import { builder, type GraphQLContext } from '../builder.js';
import { mayBeGpuTypeId, typeForId } from '../node-ids.js';
import { readOrganization } from './organization.js';

/**
 * `node(id:)` by Katapult id prefix. Katapult has no batch lookup, so each id is one GET,
 * shared through the cache; an id with an unknown prefix is null and costs nothing.
 */
type NodeLoader = (id: string, context: GraphQLContext) => MaybePromise<unknown>;

const LOADERS: Record<string, NodeLoader> = {
  VirtualMachine: (id, c) => chain(c.data.virtualMachine({ id }), (body) => virtualMachineFromFull(body)),
  Organization: (id, c) => readOrganization(c, { id }),
  Zone: (id, c) => chain(c.data.zone(id), (zone) => zoneModel(zone)),
  DataCenter: (id, c) => chain(c.data.dataCenter(id), dataCenterModel),
  Country: (id, c) => chain(c.data.country(id), (body) => countryModel(body.country)),
  VirtualMachinePackage: (id, c) => chain(c.data.package({ id }), (dto) => packageModel(dto, true)),
  GpuType: (id, c) => chain(c.data.gpuType(id), gpuTypeModel),
};

function resolveNode(id: string, context: GraphQLContext): MaybePromise<unknown> {
  if (id.length > 128) return null;
  const typename = typeForId(id);
  const load = typename ? LOADERS[typename] : undefined;
  // The type is the one the id asked for names, not the one the id in Katapult's answer would:
  // a record whose id has no known prefix (empty, say) is still the object asked for.
  if (load) return nullIfNotFound(() => chain(load(id, context), (model) => (model !== null && typeof model === 'object' ? { ...model, nodeType: typename } : model)));
  // An id of another prefix may still name a GPU type (see mayBeGpuTypeId). The GPU type list
  // (one call, cached like the catalogue) says; no call is made for a single record. Without a
  // token the id stays unknown (null), as for any other prefix; a list Katapult fails to give is
  // the field's error, since a GPU type answered null would read as deleted.
  if (!mayBeGpuTypeId(id)) return null;
  return recover(
    () => nullIfNotFound(() => chain(context.data.gpuTypeInList(id), (found) => (found ? gpuTypeModel(found) : null))),
    (error) => {
      if (error instanceof MissingTokenError) return null;
      throw error;
    },
  );
}

const NodeInterface = builder.nodeInterfaceRef();
const MAX_NODES = 100;

builder.queryFields((t) => ({
  node: t.field({
    type: NodeInterface,
    nullable: true,
    description: 'Any object by its Katapult id. Null when it does not exist or the id is not a Katapult id.',
    args: { id: t.arg.id({ required: true, description: 'A Katapult id, e.g. `vm_…`, `org_…`, `zone_…`.' }) },
    resolve: (_root, args, context) => resolveNode(String(args.id), context) as never,
  }),
  nodes: t.field({
    type: [NodeInterface],
    nullable: { list: false, items: true },
    description: `Several objects by Katapult id (at most ${MAX_NODES}), in the same order; null for each that does not exist.`,
    args: { ids: t.arg.idList({ required: true, description: 'Katapult ids.' }) },
    resolve: (_root, args, context) => {
      if (args.ids.length > MAX_NODES) throw new InvalidInputError(`Pass at most ${MAX_NODES} ids to "nodes"`, 'ids');
      return args.ids.map((id) => resolveNode(String(id), context)) as never;
    },
  }),
}));
