import type {
  CountriesListResponseDto,
  CountryResponseDto,
  CurrentUserResponseDto,
  DataCenterDto,
  DataCenterResponseDto,
  DataCentersListResponseDto,
  GpuTypeDto,
  GpuTypeResponseDto,
  GpuTypesListResponseDto,
  OrganizationResponseDto,
  OrganizationsListResponseDto,
  VirtualMachinePackageDto,
  VirtualMachinePackageResponseDto,
  VirtualMachinePackagesListResponseDto,
  VirtualMachineResponseDto,
  VirtualMachinesListResponseDto,
  ZoneListItemDto,
  ZoneResponseDto,
  ZonesListResponseDto,
} from '../upstream/dto.js';
import { UpstreamApiError, isNotFoundCode, isUpstreamError } from '../upstream/errors.js';
import { annotationParams, lookupParams, pageParams, type AnnotationFilterParam, type Lookup } from '../upstream/params.js';
import type { ResourceKind } from '../cache/index.js';
import type { KatapultSource, MaybePromise } from './katapult-source.js';
import { answeredAsAnother, chain, recover } from './pagination.js';
import type { RequestScope } from './request-scope.js';

/** How an organization was named by the client: by id or by sub-domain, exactly one. */
export type OrganizationLookup = { id: string } | { sub_domain: string };

/**
 * The per-request data layer: one method per Katapult read the schema needs, each naming its
 * endpoint, parameters and cache policy. Methods that resolve "one object of many" first try
 * a single cached call that covers many objects (the whole data-center list, the
 * organization's package list, the GPU type list) and fall back to a per-object GET only
 * when that does not find it; those are shared across requests through the cache.
 */
export interface KatapultData {
  readonly perPage: number;
  /** A page of a list; with `refresh`, read from Katapult even when the cache holds it fresh (as for `Cache-Control: no-cache`). */
  virtualMachinesPage(organization: OrganizationLookup, annotations: readonly AnnotationFilterParam[], page: number, refresh?: boolean): MaybePromise<VirtualMachinesListResponseDto>;
  virtualMachine(lookup: { id: string } | { fqdn: string }): MaybePromise<VirtualMachineResponseDto>;
  packagesPage(organization: OrganizationLookup | null, page: number, refresh?: boolean): MaybePromise<VirtualMachinePackagesListResponseDto>;
  package(lookup: { id: string } | { permalink: string }): MaybePromise<VirtualMachinePackageDto>;
  /**
   * A package named in a VM list (which carries only the name), found in the organization's list,
   * else the public one; null when neither has it, or when the first to have it has several
   * packages of that name (only the VM's own record can tell which).
   */
  packageByName(organization: OrganizationLookup | null, name: string): MaybePromise<VirtualMachinePackageDto | null>;
  organizations(): MaybePromise<OrganizationsListResponseDto>;
  organization(lookup: OrganizationLookup): MaybePromise<OrganizationResponseDto>;
  dataCenters(): MaybePromise<DataCentersListResponseDto>;
  dataCenter(id: string): MaybePromise<DataCenterDto>;
  zones(): MaybePromise<ZonesListResponseDto>;
  zone(id: string): MaybePromise<ZoneListItemDto | ZoneResponseDto['zone']>;
  countriesPage(page: number, refresh?: boolean): MaybePromise<CountriesListResponseDto>;
  country(id: string): MaybePromise<CountryResponseDto>;
  gpuTypesPage(page: number, refresh?: boolean): MaybePromise<GpuTypesListResponseDto>;
  gpuType(id: string): MaybePromise<GpuTypeDto>;
  /** A GPU type found in the GPU type list alone (no call for a single record); null when the list has none. */
  gpuTypeInList(id: string): MaybePromise<GpuTypeDto | null>;
  currentUser(): MaybePromise<CurrentUserResponseDto>;
  /**
   * The reads this request asked for before it had seen any answer (a cache hit, or a call's
   * result or error), in order. They depend on nothing Katapult said, only on the operation and
   * its variables (and on the gateway's configuration), so any token running the same operation
   * asks for the same ones: see `prefetch`. Reads for a refresh are left out.
   */
  openingReads(): readonly OpeningRead[];
  /**
   * Starts these reads now, through the cache and the queue as any read: a resolver that asks
   * for one of them later gets the same read (counted once), not a second call. A read that
   * fails is the failure of whichever resolver asks for it; one no resolver asks for fails quietly.
   * Returns whether any of them waits on Katapult (was not answered from the cache at once).
   */
  prefetch(reads: readonly OpeningRead[]): boolean;
}

/** One read in `openingReads`. */
export interface OpeningRead {
  path: string;
  kind: ResourceKind;
  params?: readonly [string, string][];
}

/** A read's identity within a request (and within an operation's opening reads): path and parameters. */
export const readKey = (path: string, params: readonly [string, string][] | undefined): string => (params ? `${path}${JSON.stringify(params)}` : path);

/** Opening reads kept per request: an operation asking for more starts the rest when its resolvers do. */
export const MAX_OPENING_READS = 16;

/** The error Katapult gives for a lookup that found nothing, for lookups the gateway answers itself from a list. */
export const notFound = (code: string, what: string) =>
  new UpstreamApiError(404, code, `No ${what} was found matching any of the criteria provided in the arguments`, {});

/** What a search of a list by a field finds when more than one item has the value. */
const SEVERAL = Symbol('several items have this value');

/** Follows a paginated list until `pick` finds an item or the list ends. */
function findInPages<L, R, T>(
  loadPage: (page: number) => MaybePromise<L & { pagination: { total_pages: number | null; current_page: number } }>,
  items: (list: L) => readonly R[],
  pick: (rows: readonly R[]) => T | undefined,
  perPage: number,
  page = 1,
): MaybePromise<T | null> {
  return chain(loadPage(page), (list) => {
    // Its rows were searched already, as the page they are.
    if (answeredAsAnother(list.pagination, page)) return null;
    const rows = items(list);
    const found = pick(rows);
    if (found) return found;
    const pages = list.pagination.total_pages;
    // Left out is no count either: the answer check lets a nullable field be absent.
    const more = pages == null ? rows.length === perPage : page < pages;
    return more && page < 50 ? findInPages(loadPage, items, pick, perPage, page + 1) : null;
  });
}

export function createKatapultData(source: KatapultSource, scope: RequestScope, perPage: number): KatapultData {
  // One GraphQL request reads the same list once per object that needs it (every VM on a
  // page asks for the package list): remember each read for the rest of the request, keyed
  // cheaply, so the cache is consulted once per URL per request.
  const reads = new Map<string, MaybePromise<unknown>>();
  // Until the request has seen an answer, what it asks for is its opening (see `openingReads`).
  let answerSeen = false;
  const see = () => void (answerSeen = true);
  let opening: OpeningRead[] | undefined;
  // Prefetched reads not asked for yet: one asked for before any answer joins the opening then.
  let prefetched: Set<string> | undefined;
  const open = (path: string, kind: ResourceKind, params: [string, string][] | undefined, refresh: boolean, read: MaybePromise<unknown>) => {
    opening ??= [];
    if (!refresh && opening.length < MAX_OPENING_READS) opening.push({ path, kind, params });
    // A resolver sees the answer when it is handed over (a hit) or when its promise settles.
    if (read instanceof Promise) read.then(see, see);
    else see();
  };
  const get = <T>(path: string, kind: ResourceKind, params?: [string, string][], refresh = false): MaybePromise<T> => {
    const key = readKey(path, params);
    let read = refresh ? undefined : (reads.get(key) as MaybePromise<T> | undefined);
    if (read === undefined) {
      try {
        read = source.get<T>(scope, { path, kind, params, refresh });
      } catch (error) {
        // An error is an answer too: what the request does after it is not part of its opening.
        see();
        throw error;
      }
      reads.set(key, read);
      if (!answerSeen) open(path, kind, params, refresh, read);
    } else if (!answerSeen && prefetched?.delete(key)) {
      open(path, kind, params, false, read);
    }
    return read;
  };

  // Lists are searched once per object that names an item of them; index each list once.
  const indexes = new WeakMap<readonly object[], Map<string, object | typeof SEVERAL>>();
  /** The row whose `field` is `value`, SEVERAL when more than one row's is. Each list is searched by one field only. */
  const rowBy = <T extends object>(rows: readonly T[], field: keyof T & string, value: string): T | typeof SEVERAL | undefined => {
    let index = indexes.get(rows) as Map<string, T | typeof SEVERAL> | undefined;
    if (!index) {
      index = new Map();
      for (const row of rows) {
        const key = String(row[field]);
        index.set(key, index.has(key) ? SEVERAL : row);
      }
      indexes.set(rows, index);
    }
    return index.get(value);
  };
  /** The one row whose `field` is `value`; undefined when none is, or several are (the caller then reads the item itself). */
  const findBy = <T extends object>(rows: readonly T[], field: keyof T & string, value: string): T | undefined => {
    const row = rowBy(rows, field, value);
    return row === SEVERAL ? undefined : row;
  };

  // Every VM on a page names its package: find each name once per request instead of
  // building and keying the list's parameters again for every VM.
  const packagesByName = new Map<string, Map<string, MaybePromise<VirtualMachinePackageDto | null>>>();
  const organizationKey = (organization: OrganizationLookup | null): string | null => {
    if (organization === null) return '';
    const { id, sub_domain: subDomain } = organization as { id?: string | null; sub_domain?: string | null };
    if (id != null && subDomain == null) return `id:${id}`;
    if (subDomain != null && id == null) return `sub_domain:${subDomain}`;
    return null;
  };

  // The organization's list first, then the public one.
  // Katapult does not say a package's name is unique, and an organization's list holds its
  // private packages beside the public ones: a name two of them share says nothing of which one a
  // VM has. Then none is picked (not the public one either), and the VM's own record tells.
  const findPackageByName = (organization: OrganizationLookup | null, name: string): MaybePromise<VirtualMachinePackageDto | null> => {
    const findIn = (list: OrganizationLookup | null) =>
      findInPages(
        (page) => data.packagesPage(list, page),
        (body) => body.virtual_machine_packages,
        (rows) => rowBy(rows, 'name', name),
        perPage,
      );
    const unique = (found: VirtualMachinePackageDto | typeof SEVERAL | null) => (found === SEVERAL ? null : found);
    return chain(findIn(organization), (found): MaybePromise<VirtualMachinePackageDto | null> => {
      if (found !== null || organization === null) return unique(found);
      return chain(findIn(null), unique);
    });
  };

  const data: KatapultData = {
    perPage,
    virtualMachinesPage: (organization, annotations, page, refresh) =>
      get(
        '/organizations/organization/virtual_machines',
        'vmList',
        [...lookupParams('organization', organization as Lookup), ...annotationParams(annotations), ...pageParams(page, perPage)],
        refresh,
      ),
    virtualMachine: (lookup) => get('/virtual_machines/virtual_machine', 'vm', lookupParams('virtual_machine', lookup as Lookup)),
    packagesPage: (organization, page, refresh) =>
      get('/virtual_machine_packages', 'packages', [...(organization ? lookupParams('organization', organization as Lookup) : []), ...pageParams(page, perPage)], refresh),
    package: (lookup) =>
      chain(
        get<VirtualMachinePackageResponseDto>('/virtual_machine_packages/virtual_machine_package', 'package', lookupParams('virtual_machine_package', lookup as Lookup)),
        (body) => body.virtual_machine_package,
      ),
    packageByName: (organization, name) => {
      const key = organizationKey(organization);
      // Not exactly one name (the types rule it out): looked up as given, not remembered.
      if (key === null) return findPackageByName(organization, name);
      let byName = packagesByName.get(key);
      if (!byName) packagesByName.set(key, (byName = new Map()));
      let found = byName.get(name);
      if (found === undefined) byName.set(name, (found = findPackageByName(organization, name)));
      return found;
    },
    organizations: () => get('/organizations', 'organizations'),
    organization: (lookup) => get('/organizations/organization', 'organization', lookupParams('organization', lookup as Lookup)),
    dataCenters: () => get('/data_centers', 'dataCenters'),
    dataCenter: (id) =>
      chain(data.dataCenters(), (list) => {
        const found = findBy(list.data_centers, 'id', id);
        if (found) return found;
        return chain(get<DataCenterResponseDto>('/data_centers/data_center', 'dataCenters', lookupParams('data_center', { id })), (body) => body.data_center);
      }),
    zones: () => get('/zones', 'zones'),
    zone: (id) =>
      chain(data.zones(), (list) => {
        const found = findBy(list.zones, 'id', id);
        if (found) return found;
        return chain(get<ZoneResponseDto>('/zones/zone', 'zones', lookupParams('zone', { id })), (body) => body.zone);
      }),
    countriesPage: (page, refresh) => get('/countries', 'countries', pageParams(page, perPage), refresh),
    country: (id) => get('/countries/country', 'countries', lookupParams('country', { id })),
    gpuTypesPage: (page, refresh) => get('/gpu_types', 'gpuTypes', pageParams(page, perPage), refresh),
    gpuTypeInList: (id) =>
      findInPages(
        (page) => data.gpuTypesPage(page),
        (list) => list.gpu_types,
        (rows) => findBy(rows, 'id', id),
        perPage,
      ),
    gpuType: (id) =>
      chain(data.gpuTypeInList(id), (found) => found ?? chain(get<GpuTypeResponseDto>('/gpu_types/gpu_type', 'gpuTypes', lookupParams('gpu_type', { id })), (body) => body.gpu_type)),
    currentUser: () => get('/users/current', 'user'),
    openingReads: () => opening ?? [],
    prefetch(wanted) {
      let waits = false;
      for (const { path, kind, params } of wanted) {
        const key = readKey(path, params);
        if (reads.has(key)) continue;
        let read: MaybePromise<unknown>;
        try {
          read = source.get(scope, { path, kind, params: params as [string, string][] | undefined });
        } catch {
          // Thrown again, to the resolver, if one asks for it.
          continue;
        }
        if (read instanceof Promise) {
          read.catch(() => {});
          waits = true;
        }
        reads.set(key, read);
        (prefetched ??= new Set()).add(key);
        scope.stats.prefetched++;
      }
      return waits;
    },
  };
  return data;
}

/** `*_not_found` and `object_in_trash`: the lookup found nothing the caller may see. */
export function isNotFoundError(error: unknown): boolean {
  return (
    isUpstreamError(error) &&
    error instanceof UpstreamApiError &&
    (isNotFoundCode(error.code) || error.code === 'object_in_trash')
  );
}

/** Lookups that find nothing become null for nullable fields; everything else propagates. */
export function nullIfNotFound<T>(read: () => MaybePromise<T>): MaybePromise<T | null> {
  return recover(read, (error) => {
    if (isNotFoundError(error)) return null;
    throw error;
  });
}

