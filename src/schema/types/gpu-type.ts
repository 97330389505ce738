import type { MaybePromise } from '../../data/katapult-source.js';
import { dataCenterModel, gpuTypeModel, type GpuTypeModel } from '../../data/models.js';
import { chain } from '../../data/pagination.js';
import type { GpuTypeDto, GpuTypeSummaryDto } from '../../upstream/dto.js';
import { builder, type GraphQLContext } from '../builder.js';
import { connectionOptions, edgeOptions, pagedConnection } from '../connections.js';
import { DataCenterRef, GpuTypeRef } from './refs.js';

/** The VM list names a GPU type only; `/gpu_types` describes them all in one call. */
function fullGpuType(gpu: GpuTypeModel, context: GraphQLContext): MaybePromise<GpuTypeDto | GpuTypeSummaryDto> {
  if (gpu.dto) return gpu.dto;
  return chain(context.data.gpuType(gpu.id), (dto) => (gpu.dto = dto));
}

/**
 * Nullable: each is read from `/gpu_types`, a call of its own, and shares its type with the
 * field of that name on other Node types (a VM's `memoryInGb`), as a `nodes` selection needs.
 */
const LIST_NOTE = 'Null (with an error) when the GPU type list cannot be read.';

builder.node(GpuTypeRef, {
  description: 'A type of GPU that can be attached to VMs.',
  id: { resolve: (g) => g.id, description: 'The Katapult id (`gput_…` in the simulator; Katapult\'s reference records no GPU type id).' },
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Display name.' }),
    permalink: t.exposeString('permalink', { nullable: true, description: 'Stable short name; null when Katapult leaves it unset.' }),
    manufacturer: t.string({ nullable: true, description: `Manufacturer, e.g. "NVIDIA". ${LIST_NOTE}`, resolve: (g, _a, c) => chain(fullGpuType(g, c), (d) => d.manufacturer) }),
    memoryInGb: t.int({ nullable: true, description: `GPU memory in GB. ${LIST_NOTE}`, resolve: (g, _a, c) => chain(fullGpuType(g, c), (d) => d.memory_in_gb) }),
    memoryType: t.string({ nullable: true, description: `GPU memory type, e.g. "HBM2". ${LIST_NOTE}`, resolve: (g, _a, c) => chain(fullGpuType(g, c), (d) => d.memory_type) }),
    dataCenters: t.field({
      type: [DataCenterRef],
      description: 'Data centers where this GPU type is offered; empty when Katapult names none.',
      resolve: (g, _a, c) =>
        chain(g.dto && 'data_centers' in g.dto ? g.dto : c.data.gpuType(g.id), (d) => (('data_centers' in d && d.data_centers) || []).flatMap((dc) => (dc ? [dataCenterModel(dc)] : []))),
    }),
  }),
});

const GpuTypeConnection = builder.connectionObject(
  { type: GpuTypeRef, ...connectionOptions('GpuTypeConnection', 'GPU types') },
  edgeOptions('GpuTypeEdge', 'GPU type'),
);

builder.queryField('gpuTypes', (t) =>
  t.connection(
    {
      type: GpuTypeRef,
      nullable: true,
      description: 'Every GPU type. Null (with an error) when it cannot be read.',
      resolve: (_root, args, context) =>
        pagedConnection(
          context,
          args,
          'gpuTypes',
          (page, refresh) => chain(context.data.gpuTypesPage(page, refresh), (body) => ({ items: body.gpu_types, pagination: body.pagination })),
          (item) => item.id,
          gpuTypeModel,
        ),
    },
    GpuTypeConnection,
  ),
);
