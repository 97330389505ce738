import { countryModel, dataCenterModel, zoneModel, type DataCenterModel } from '../../data/models.js';
import type { MaybePromise } from '../../data/katapult-source.js';
import { chain } from '../../data/pagination.js';
import { builder, COUNTRIES_PRICED_AS, distinctObjects, type GraphQLContext } from '../builder.js';
import { CountryRef, DataCenterRef, ZoneRef } from './refs.js';

/** The country is not in the VM list's data centers; `/data_centers` has it for all of them in one call. */
function dataCenterCountry(dc: DataCenterModel, context: GraphQLContext): MaybePromise<ReturnType<typeof countryModel> | null> {
  if (dc.country) return dc.country;
  return chain(context.data.dataCenter(dc.id), (full) => (full.country ? (dc.country = countryModel(full.country)) : null));
}

builder.node(DataCenterRef, {
  description: 'A Katapult data center (a location). Older ids start `loc_`, newer ones `dc_`.',
  id: { resolve: (dc) => dc.id, description: 'The Katapult id (`dc_…` or `loc_…`).' },
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Display name, e.g. "London".' }),
    // Nullable as in Apia's schema: a null from Katapult must not fail the data center (and every non-null field above it).
    permalink: t.exposeString('permalink', { nullable: true, description: 'Stable short name, e.g. "uk-lon-01"; Katapult may leave it unset.' }),
    country: t.field({
      type: CountryRef,
      nullable: true,
      // Every VM of a page reaches one of a few countries, each read once per request.
      extensions: distinctObjects(COUNTRIES_PRICED_AS),
      description: 'The country the data center is in.',
      resolve: (dc, _a, context) => dataCenterCountry(dc, context),
    }),
    zones: t.field({
      type: [ZoneRef],
      // Another call (/zones): its failure must not null out the data center, and through a VM's
      // non-null zone a whole page of VMs.
      nullable: true,
      description: 'Zones in this data center. Null (with an error) when Katapult\'s zone list cannot be read.',
      resolve: (dc, _a, context) => chain(context.data.zones(), (body) => body.zones.filter((z) => z.data_center.id === dc.id).map(zoneModel)),
    }),
  }),
});

builder.queryField('dataCenters', (t) =>
  t.field({
    type: [DataCenterRef],
    nullable: true,
    description: 'Every data center (Katapult does not paginate this list). Null (with an error) when it cannot be read.',
    resolve: (_root, _args, context) => chain(context.data.dataCenters(), (body) => body.data_centers.map(dataCenterModel)),
  }),
);
