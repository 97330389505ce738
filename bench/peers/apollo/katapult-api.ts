import { createHash } from 'node:crypto';
import { RESTDataSource, type AugmentedRequest, type DataSourceConfig } from '@apollo/datasource-rest';

/** Time-to-live of cached Katapult responses, in seconds: the gateway's defaults. */
export const TTL_SECONDS = { vmList: 20, catalogue: 600 } as const;

export interface VirtualMachineListItem {
  id: string;
  name: string;
  hostname: string;
  fqdn: string;
  zone: { id: string; name: string; permalink: string | null; data_center: { id: string; name: string; permalink: string } };
  package: { name: string } | null;
  ip_addresses: Array<{ address: string }>;
}

export interface Pagination {
  current_page: number;
  total_pages: number | null;
  total: number | null;
  per_page: number;
  large_set: boolean;
}

export interface DataCenter {
  id: string;
  name: string;
  permalink: string;
  country: { id: string; name: string } | null;
}

export interface VirtualMachinePackage {
  id: string;
  name: string;
  permalink: string;
  cpu_cores: number;
  memory_in_gb: number;
}

export type OrganizationLookup = { id: string } | { sub_domain: string };

const lookupParams = (lookup: OrganizationLookup): Record<string, string> =>
  'id' in lookup ? { 'organization[id]': lookup.id } : { 'organization[sub_domain]': lookup.sub_domain };

/**
 * Katapult's REST API as an Apollo data source, one instance per GraphQL request: GETs are
 * de-duplicated within the request and cached across requests in the server's cache for the
 * same TTLs the gateway uses. The caller's token is forwarded and is part of every cache key,
 * so one customer's answers are never served to another.
 */
export class KatapultAPI extends RESTDataSource {
  override baseURL: string;
  private readonly token: string;
  private readonly tokenHash: string;

  constructor(options: { baseURL: string; token: string; cache: DataSourceConfig['cache'] }) {
    super({ cache: options.cache });
    this.baseURL = options.baseURL.endsWith('/') ? options.baseURL : `${options.baseURL}/`;
    this.token = options.token;
    this.tokenHash = createHash('sha256').update(options.token).digest('hex').slice(0, 16);
  }

  protected override willSendRequest(_path: string, request: AugmentedRequest): void {
    request.headers['authorization'] = `Bearer ${this.token}`;
  }

  protected override cacheKeyFor(url: URL): string {
    return `${this.tokenHash} ${url.toString()}`;
  }

  virtualMachines(organization: OrganizationLookup, page: number, perPage: number, annotations: ReadonlyArray<{ key: string; value?: string | null }>) {
    const params = new URLSearchParams(lookupParams(organization));
    for (const filter of annotations) {
      params.append('annotations[][key]', filter.key);
      if (filter.value != null) params.append('annotations[][value]', filter.value);
    }
    params.set('page', String(page));
    params.set('per_page', String(perPage));
    return this.get<{ pagination: Pagination; virtual_machines: VirtualMachineListItem[] }>('organizations/organization/virtual_machines', {
      params,
      cacheOptions: { ttl: TTL_SECONDS.vmList },
    });
  }

  dataCenters() {
    return this.get<{ data_centers: DataCenter[] }>('data_centers', { cacheOptions: { ttl: TTL_SECONDS.catalogue } });
  }

  packages(organization: OrganizationLookup) {
    return this.get<{ pagination: Pagination; virtual_machine_packages: VirtualMachinePackage[] }>('virtual_machine_packages', {
      params: { ...lookupParams(organization), per_page: '200' },
      cacheOptions: { ttl: TTL_SECONDS.catalogue },
    });
  }

  organization(organization: OrganizationLookup) {
    return this.get<{ organization: { id: string; name: string; sub_domain: string } }>('organizations/organization', {
      params: lookupParams(organization),
      cacheOptions: { ttl: 60 },
    });
  }

  organizations() {
    return this.get<{ organizations: Array<{ id: string; name: string; sub_domain: string }> }>('organizations', { cacheOptions: { ttl: 60 } });
  }
}
