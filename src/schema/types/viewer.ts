import { nullIfNotFound } from '../../data/katapult-data.js';
import { chain } from '../../data/pagination.js';
import { UpstreamApiError } from '../../upstream/errors.js';
import { builder, ORGANIZATIONS_PRICED_AS, pricedAsOrganizations } from '../builder.js';
import { OrganizationRef, ViewerRef } from './refs.js';

ViewerRef.implement({
  description: 'The user behind a user-level API token.',
  fields: (t) => ({
    id: t.id({ description: 'The Katapult user id.', resolve: (v) => v.user.id }),
    firstName: t.string({ description: 'First name.', resolve: (v) => v.user.first_name }),
    lastName: t.string({ description: 'Last name.', resolve: (v) => v.user.last_name }),
    avatarUrl: t.string({ nullable: true, description: 'Avatar image URL.', resolve: (v) => v.user.avatar_url }),
    organizations: t.field({
      type: [OrganizationRef],
      // One organization Katapult will not show (a suspended one's details) must not take the viewer with it.
      nullable: { list: false, items: true },
      description: `Organizations the user belongs to. An item is null (with an error) when that organization cannot be read, e.g. the details of a suspended one. The query cost limit prices what is selected under it ${ORGANIZATIONS_PRICED_AS} times.`,
      extensions: pricedAsOrganizations,
      resolve: (v) => v.organizations.map((o) => ({ lookup: { id: o.id }, dto: o })),
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    nullable: true,
    description: 'The user the token belongs to; null for organization-level tokens, which have no user.',
    resolve: (_root, _args, context) =>
      chain(
        nullIfNotFound(() =>
          Promise.resolve(context.data.currentUser()).catch((error: unknown) => {
            if (error instanceof UpstreamApiError && error.code === 'no_user_associated_with_identity') return null;
            throw error;
          }),
        ),
        (body) => body ?? null,
      ),
  }),
);
