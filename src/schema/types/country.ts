import type { MaybePromise } from '../../data/katapult-source.js';
import { countryModel, type CountryModel } from '../../data/models.js';
import { chain } from '../../data/pagination.js';
import type { CountryDto } from '../../upstream/dto.js';
import { builder, callPerObject, type GraphQLContext } from '../builder.js';
import { connectionOptions, edgeOptions, pagedConnection } from '../connections.js';
import { CountryRef } from './refs.js';

/** Lists give only id and name; the rest needs `/countries/country`. */
function fullCountry(country: CountryModel, context: GraphQLContext): MaybePromise<CountryDto> {
  if (country.full) return country.full;
  return chain(context.data.country(country.id), (body) => (country.full = body.country));
}

/**
 * Fields a country's own record carries and lists may not: one failed read nulls the field, not
 * the list. Each is a call per country read, so the cost limit charges it like a VM's record.
 */
const OWN_RECORD_NOTE = 'Null (with an error) when the country\'s own record is needed and cannot be read.';

builder.node(CountryRef, {
  description: 'A country, as Katapult knows it (for data centers and billing).',
  id: { resolve: (c) => c.id, description: 'The Katapult id (`ctry_…`).' },
  fields: (t) => ({
    name: t.exposeString('name', { description: 'English name.' }),
    isoCode2: t.string({ nullable: true, extensions: callPerObject, description: 'ISO 3166-1 alpha-2 code. ' + OWN_RECORD_NOTE, resolve: (c, _a, ctx) => chain(fullCountry(c, ctx), (f) => f.iso_code2) }),
    isoCode3: t.string({ nullable: true, extensions: callPerObject, description: 'ISO 3166-1 alpha-3 code. ' + OWN_RECORD_NOTE, resolve: (c, _a, ctx) => chain(fullCountry(c, ctx), (f) => f.iso_code3) }),
    timeZone: t.string({ nullable: true, extensions: callPerObject, description: 'IANA time zone, when known.', resolve: (c, _a, ctx) => chain(fullCountry(c, ctx), (f) => f.time_zone) }),
    eu: t.boolean({ nullable: true, extensions: callPerObject, description: 'Whether the country is in the European Union. ' + OWN_RECORD_NOTE, resolve: (c, _a, ctx) => chain(fullCountry(c, ctx), (f) => f.eu) }),
  }),
});

const CountryConnection = builder.connectionObject(
  { type: CountryRef, ...connectionOptions('CountryConnection', 'countries') },
  edgeOptions('CountryEdge', 'country'),
);

builder.queryField('countries', (t) =>
  t.connection(
    {
      type: CountryRef,
      nullable: true,
      description: 'Every country Katapult knows. Null (with an error) when it cannot be read.',
      resolve: (_root, args, context) =>
        pagedConnection(
          context,
          args,
          'countries',
          (page, refresh) => chain(context.data.countriesPage(page, refresh), (body) => ({ items: body.countries, pagination: body.pagination })),
          (item) => item.id,
          countryModel,
        ),
    },
    CountryConnection,
  ),
);
