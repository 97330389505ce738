import { zoneModel } from '../../data/models.js';
import { chain } from '../../data/pagination.js';
import { builder } from '../builder.js';
import { DataCenterRef, ZoneRef } from './refs.js';

builder.node(ZoneRef, {
  description: 'A zone: a failure domain inside a data center where VMs run.',
  id: { resolve: (zone) => zone.id, description: 'The Katapult id (`zone_…`).' },
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Display name, e.g. "LON-1".' }),
    permalink: t.exposeString('permalink', { nullable: true, description: 'Stable short name.' }),
    dataCenter: t.field({ type: DataCenterRef, description: 'The data center the zone is in.', resolve: (zone) => zone.dataCenter }),
  }),
});

builder.queryField('zones', (t) =>
  t.field({
    type: [ZoneRef],
    nullable: true,
    description: 'Every zone (Katapult does not paginate this list). Null (with an error) when it cannot be read.',
    resolve: (_root, _args, context) => chain(context.data.zones(), (body) => body.zones.map(zoneModel)),
  }),
);
