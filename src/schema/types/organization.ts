import type { GraphQLResolveInfo, SelectionSetNode } from 'graphql';
import { InvalidInputError } from '../../data/errors.js';
import { nullIfNotFound, type OrganizationLookup } from '../../data/katapult-data.js';
import { MAX_UPSTREAM_URL_LENGTH, type MaybePromise } from '../../data/katapult-source.js';
import { organizationModel, packageModel, virtualMachineFromList, type OrganizationModel } from '../../data/models.js';
import { chain, recover, type ConnectionArgs } from '../../data/pagination.js';
import type { OrganizationDto, OrganizationListItemDto } from '../../upstream/dto.js';
import { UpstreamApiError } from '../../upstream/errors.js';
import { builder, callPerObject, fromUnixSeconds, ORGANIZATIONS_PRICED_AS, pricedAsOrganizations, type GraphQLContext } from '../builder.js';
import { connectionOptions, edgeOptions, pagedConnection } from '../connections.js';
import { prefetch, selectedFields, someField } from '../lookahead.js';
import { typeForId } from '../node-ids.js';
import { OrganizationRef, VirtualMachinePackageRef, VirtualMachineRef } from './refs.js';

export const OrganizationLookupInput = builder.inputType('OrganizationLookup', {
  description: 'Names an organization by id or by sub-domain (exactly one).',
  fields: (t) => ({
    id: t.id({ description: 'Katapult id (`org_…`).' }),
    subDomain: t.string({ description: 'The organization\'s sub-domain, e.g. "acme".' }),
  }),
});

export const AnnotationFilterInput = builder.inputType('AnnotationFilter', {
  description: 'An annotation to filter VMs by, passed to Katapult as given. Katapult\'s reference does not say how several filters combine or what a key given without a value matches; the built-in simulator requires every filter to match and lets a key alone match any of its values.',
  fields: (t) => ({
    key: t.string({ required: true, description: 'Annotation key.' }),
    value: t.string({ description: 'Annotation value; may be left out (see AnnotationFilter).' }),
  }),
});

export function toOrganizationLookup(input: { id?: string | number | null; subDomain?: string | null }, argument: string): OrganizationLookup {
  const hasId = input.id !== null && input.id !== undefined;
  const hasSubDomain = input.subDomain !== null && input.subDomain !== undefined;
  if (hasId === hasSubDomain) throw new InvalidInputError(`Pass exactly one of "id" or "subDomain" in "${argument}"`, argument);
  return hasId ? { id: String(input.id) } : { sub_domain: input.subDomain! };
}

/**
 * Filters go into the Katapult URL, which may not pass MAX_UPSTREAM_URL_LENGTH; a longer list is
 * refused here, before every field given it builds keys and URLs out of it only to refuse it.
 */
const MAX_ANNOTATION_FILTERS = 20;

function annotationFilters(given: ReadonlyArray<{ key: string; value?: string | null }> | null | undefined): Array<{ key: string; value: string | null }> {
  const filters = given ?? [];
  if (filters.length > MAX_ANNOTATION_FILTERS) throw new InvalidInputError(`Pass at most ${MAX_ANNOTATION_FILTERS} annotation filters`, 'annotations');
  let characters = 0;
  for (const filter of filters) characters += filter.key.length + (filter.value?.length ?? 0);
  if (characters > MAX_UPSTREAM_URL_LENGTH) throw new InvalidInputError(`The annotation filters are too long: ${characters} characters, over ${MAX_UPSTREAM_URL_LENGTH}`, 'annotations');
  return filters.map((filter) => ({ key: filter.key, value: filter.value ?? null }));
}

const lookupKey = (lookup: OrganizationLookup) => ('id' in lookup ? `id=${lookup.id}` : `sub_domain=${lookup.sub_domain}`);
const vmBinding = (lookup: OrganizationLookup, annotations: ReadonlyArray<{ key: string; value: string | null }>) =>
  `vms:${lookupKey(lookup)}:${JSON.stringify(annotations.map((a) => [a.key, a.value]))}`;
const packagesBinding = (lookup: OrganizationLookup | null) => `packages:${lookup ? lookupKey(lookup) : 'public'}`;

type OrganizationField = keyof OrganizationDto;

/** A field from what is in hand, else from `/organizations/organization` (once per request, cached). */
function organizationField<K extends OrganizationField>(org: OrganizationModel, context: GraphQLContext, key: K): MaybePromise<OrganizationDto[K]> {
  if (org.dto && key in org.dto) return (org.dto as OrganizationDto)[key];
  return chain(context.data.organization(org.lookup), (body) => {
    org.dto = body.organization;
    return body.organization[key];
  });
}

/**
 * A field whose value Katapult's refusal to show the organization already tells (a suspended
 * organization is suspended; one not yet activated has no activation time): the refusal
 * answers it instead of failing it. Any other failure stays the field's error.
 */
function answeredByRefusal<T>(value: () => MaybePromise<T>, code: string, answer: T): MaybePromise<T> {
  return recover(value, (error) => {
    if (error instanceof UpstreamApiError && error.code === code) return answer;
    throw error;
  });
}

/** The organization's other name: its sub-domain when it was named by id, its id when named by sub-domain. */
function otherName(org: OrganizationModel, context: GraphQLContext): MaybePromise<OrganizationLookup> {
  return 'id' in org.lookup
    ? chain(organizationField(org, context, 'sub_domain'), (sub_domain) => ({ sub_domain }))
    : chain(organizationField(org, context, 'id'), (id) => ({ id }));
}

/**
 * The cursors of an organization's lists are signed for the name the organization was given,
 * and Relay pages such a list by refetching it through `node(id:)` with the cursor it got from
 * `organization(subDomain:)`. A cursor that does not verify under this name is tried under the
 * organization's other name (one organization read, cached like any other) and, if genuine
 * there, re-signed for this one. A request whose cursors verify costs nothing more; a cursor
 * from another organization is still refused.
 */
function withPortableCursors<T>(
  org: OrganizationModel,
  context: GraphQLContext,
  args: ConnectionArgs,
  bindingFor: (lookup: OrganizationLookup) => string,
  resolve: (args: ConnectionArgs) => MaybePromise<T>,
): MaybePromise<T> {
  try {
    return resolve(args);
  } catch (error) {
    if (!(error instanceof InvalidInputError) || (error.argument !== 'after' && error.argument !== 'before')) throw error;
    const retry = (other: OrganizationLookup): MaybePromise<T> => {
      const rebound = { ...args };
      for (const name of ['after', 'before'] as const) {
        const cursor = args[name];
        if (typeof cursor === 'string') rebound[name] = context.cursors.rebind(bindingFor(other), bindingFor(org.lookup), cursor) ?? cursor;
      }
      return resolve(rebound);
    };
    // The organization could not be read: the cursor stays refused as it was.
    let other: MaybePromise<OrganizationLookup>;
    try {
      other = otherName(org, context);
    } catch {
      throw error;
    }
    return other instanceof Promise
      ? other.then(retry, () => {
          throw error;
        })
      : retry(other);
  }
}

export const VirtualMachineConnection = builder.connectionObject(
  { type: VirtualMachineRef, ...connectionOptions('VirtualMachineConnection', 'virtual machines') },
  edgeOptions('VirtualMachineEdge', 'virtual machine'),
);

export const VirtualMachinePackageConnection = builder.connectionObject(
  { type: VirtualMachinePackageRef, ...connectionOptions('VirtualMachinePackageConnection', 'virtual machine packages') },
  edgeOptions('VirtualMachinePackageEdge', 'virtual machine package'),
);

/** Packages of an organization (or the public ones), page-aligned like every connection. */
export function packagesConnection(context: GraphQLContext, org: OrganizationModel | null, args: ConnectionArgs) {
  const organization = org?.lookup ?? null;
  const connection = (args: ConnectionArgs) =>
    pagedConnection(
      context,
      args,
      packagesBinding(organization),
      (page, refresh) => chain(context.data.packagesPage(organization, page, refresh), (body) => ({ items: body.virtual_machine_packages, pagination: body.pagination })),
      (item) => item.id,
      (item) => ({ ...packageModel(item), organization }),
    );
  return org ? withPortableCursors(org, context, args, packagesBinding, connection) : connection(args);
}

builder.node(OrganizationRef, {
  description: 'A Katapult organization: the owner of VMs, and the scope of an organization-level API token.',
  id: {
    description: 'The Katapult id (`org_…`).',
    resolve: (org, _a, c) => ('id' in org.lookup ? org.lookup.id : organizationField(org, c, 'id')),
  },
  fields: (t) => ({
    name: t.string({ description: 'Display name.', resolve: (o, _a, c) => organizationField(o, c, 'name') }),
    subDomain: t.string({
      description: 'Sub-domain, unique across Katapult.',
      resolve: (o, _a, c) => ('sub_domain' in o.lookup ? o.lookup.sub_domain : organizationField(o, c, 'sub_domain')),
    }),
    // A user's list of organizations carries only their ids, names and sub-domains: there each
    // field below is the organization's own record, a call per organization, which the cost limit
    // charges as one.
    infrastructureDomain: t.string({ extensions: callPerObject, description: 'Domain under which VM host names are created.', resolve: (o, _a, c) => organizationField(o, c, 'infrastructure_domain') }),
    createdAt: t.field({ type: 'DateTime', extensions: callPerObject, description: 'When the organization was created.', resolve: (o, _a, c) => chain(organizationField(o, c, 'created_at'), (s) => fromUnixSeconds(s)!) }),
    activatedAt: t.field({
      type: 'DateTime',
      nullable: true,
      extensions: callPerObject,
      description: 'When it was activated; null if never.',
      resolve: (o, _a, c) => answeredByRefusal(() => chain(organizationField(o, c, 'activated_at'), fromUnixSeconds), 'organization_not_activated', null),
    }),
    suspended: t.boolean({
      extensions: callPerObject,
      description: 'Whether it is suspended.',
      resolve: (o, _a, c) => answeredByRefusal(() => organizationField(o, c, 'suspended'), 'organization_suspended', true),
    }),
    managed: t.boolean({ extensions: callPerObject, description: 'Whether it is managed by another organization.', resolve: (o, _a, c) => organizationField(o, c, 'managed') }),
    virtualMachines: t.connection(
      {
        type: VirtualMachineRef,
        nullable: true,
        description: 'The organization\'s virtual machines, optionally filtered by annotations. Null (with an error) when the organization cannot be read.',
        args: { annotations: t.arg({ type: [AnnotationFilterInput], description: `Annotation filters, passed to Katapult (see AnnotationFilter); at most ${MAX_ANNOTATION_FILTERS}.` }) },
        resolve: (org, args, context, info) => {
          const annotations = annotationFilters(args.annotations);
          // The VM page goes out first: its answer is the one the rest of the query waits on,
          // so its work can start while the lists below are still on their way.
          const connection = withPortableCursors(
            org,
            context,
            args,
            (lookup) => vmBinding(lookup, annotations),
            (args) =>
              pagedConnection(
                context,
                args,
                vmBinding(org.lookup, annotations),
                (page, refresh) => chain(context.data.virtualMachinesPage(org.lookup, annotations, page, refresh), (body) => ({ items: body.virtual_machines, pagination: body.pagination })),
                (item) => item.id,
                (item) => virtualMachineFromList(item, org.lookup),
              ),
          );
          // The VM list names each VM's package and omits its data center's country; when the
          // query wants those, fetch the lists that hold them now, alongside the VM page (just
          // behind it when the page itself is being fetched).
          const packageFields = selectedFields(info, ['edges', 'node', 'package']);
          if ([...packageFields].some((name) => name !== 'name' && name !== '__typename')) prefetch(() => context.data.packagesPage(org.lookup, 1), connection);
          if (selectedFields(info, ['edges', 'node', 'zone', 'dataCenter']).has('country')) prefetch(() => context.data.dataCenters(), connection);
          return connection;
        },
      },
      VirtualMachineConnection,
    ),
    virtualMachinePackages: t.connection(
      {
        type: VirtualMachinePackageRef,
        nullable: true,
        description: 'Packages available to this organization (public and its private ones).',
        resolve: (org, args, context) => packagesConnection(context, org, args),
      },
      VirtualMachinePackageConnection,
    ),
  }),
});

/** Refusals of the organization lookup that some of its fields answer (see `answeredByRefusal`). */
const REFUSALS_ANSWERED_BY_FIELDS = new Set(['organization_suspended', 'organization_not_activated']);

/**
 * An organization with its record, for `organization(…)` and `node(id:)`; null when Katapult
 * says it does not exist. Katapult will not show a suspended or not yet activated organization,
 * but it exists: its fields answer one by one, `suspended` and `activatedAt` from the refusal
 * itself and the rest with the refusal as their error (the same read, once per request).
 */
export function readOrganization(context: GraphQLContext, lookup: OrganizationLookup): MaybePromise<OrganizationModel | null> {
  const record = recover(
    () => nullIfNotFound(() => context.data.organization(lookup)),
    (error) => {
      if (error instanceof UpstreamApiError && REFUSALS_ANSWERED_BY_FIELDS.has(error.code)) return 'refused' as const;
      throw error;
    },
  );
  return chain(record, (body) => (body === 'refused' ? { lookup, dto: null } : body === null ? null : { lookup, dto: body.organization }));
}

/** Field names that can be answered from a lookup alone, with no call for the organization itself. */
const LOOKUP_ONLY_FIELDS = new Set(['__typename', 'virtualMachines', 'virtualMachinePackages']);

/** Whether a field of the selection (through fragments) needs the organization's own record. */
function needsOrganizationRecord(selection: SelectionSetNode | undefined, info: GraphQLResolveInfo, lookup: OrganizationLookup): boolean {
  return someField(selection, info, (field) => {
    const name = field.name.value;
    if (LOOKUP_ONLY_FIELDS.has(name)) return false;
    if (name === 'id' && 'id' in lookup) return false;
    if (name === 'subDomain' && 'sub_domain' in lookup) return false;
    return true;
  });
}

builder.queryFields((t) => ({
  organization: t.field({
    type: OrganizationRef,
    nullable: true,
    description:
      'One organization, by id or sub-domain (exactly one). Null when Katapult says it does not exist, or when the id is not an organization\'s (`org_…`). Asking only for its connections and the name it was looked up by costs no Katapult call for the organization itself, so it is not checked then: the connections report NOT_FOUND instead.',
    args: { id: t.arg.id({ description: 'Katapult id (`org_…`).' }), subDomain: t.arg.string({ description: 'Sub-domain.' }) },
    resolve: (_root, args, context, info) => {
      const lookup = toOrganizationLookup(args, 'organization');
      // Another type's id would otherwise come back as an Organization with that id, which a
      // client's normalised cache would file over the real object.
      if ('id' in lookup && typeForId(lookup.id) !== 'Organization') return null;
      const wantsRecord = info.fieldNodes.some((node) => needsOrganizationRecord(node.selectionSet, info, lookup));
      if (!wantsRecord) return { lookup, dto: null };
      return readOrganization(context, lookup);
    },
  }),
  organizations: t.field({
    type: [OrganizationRef],
    nullable: true,
    description: `Every organization the token can see. Null (with an error) when it cannot be read. The query cost limit prices what is selected under it ${ORGANIZATIONS_PRICED_AS} times.`,
    extensions: pricedAsOrganizations,
    resolve: (_root, _args, context) =>
      chain(context.data.organizations(), (body) => body.organizations.map((o: OrganizationListItemDto) => organizationModel(o))),
  }),
  virtualMachinePackages: t.connection(
    {
      type: VirtualMachinePackageRef,
      nullable: true,
      description: 'Virtual machine packages: the public catalogue, or those available to an organization when one is given. Null (with an error) when it cannot be read.',
      args: { organization: t.arg({ type: OrganizationLookupInput, description: 'Include this organization\'s private packages.' }) },
      resolve: (_root, args, context) =>
        packagesConnection(context, args.organization ? { lookup: toOrganizationLookup(args.organization, 'organization'), dto: null } : null, args),
    },
    VirtualMachinePackageConnection,
  ),
}));
