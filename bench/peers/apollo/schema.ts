import { GraphQLError } from 'graphql';
import type { DataCenter, KatapultAPI, OrganizationLookup, VirtualMachineListItem } from './katapult-api.js';

/**
 * The subset of the gateway's schema the benchmark queries use, with the same type and field
 * names so the same operations run on both. Pagination maps `first`/`after` onto Katapult's
 * page/per_page: cursors carry the item's offset, and windows must start on a page boundary.
 */
export const typeDefs = /* GraphQL */ `
  enum CacheControlScope { PUBLIC PRIVATE }
  directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION

  type Query {
    organization(id: ID, subDomain: String): Organization @cacheControl(maxAge: 20, scope: PRIVATE)
    organizations: [Organization!]! @cacheControl(maxAge: 60, scope: PRIVATE)
  }

  input AnnotationFilter { key: String!, value: String }

  type Organization {
    id: ID!
    name: String!
    subDomain: String!
    virtualMachines(first: Int, after: String, annotations: [AnnotationFilter!]): VirtualMachineConnection
  }

  type PageInfo { hasNextPage: Boolean!, hasPreviousPage: Boolean!, startCursor: String, endCursor: String }
  type VirtualMachineConnection { totalCount: Int, edges: [VirtualMachineEdge!]!, pageInfo: PageInfo! }
  type VirtualMachineEdge { cursor: String!, node: VirtualMachine! }

  type VirtualMachine {
    id: ID!
    name: String!
    hostname: String!
    fqdn: String!
    zone: Zone!
    package: VirtualMachinePackage
    ipAddresses: [IPAddress!]!
  }
  type Zone { id: ID!, name: String!, permalink: String, dataCenter: DataCenter! }
  type DataCenter { id: ID!, name: String!, permalink: String!, country: Country }
  type Country { id: ID!, name: String! }
  type VirtualMachinePackage { id: ID!, name: String!, permalink: String!, cpuCores: Int!, memoryInGb: Int! }
  type IPAddress { address: String! }
`;

export interface Context {
  katapult: KatapultAPI;
}

type OrganizationParent = { lookup: OrganizationLookup; name?: string; id?: string };
type VirtualMachineParent = VirtualMachineListItem & { organization: OrganizationLookup };

const encodeCursor = (offset: number) => Buffer.from(`vm:${offset}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const match = /^vm:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new GraphQLError('Invalid cursor', { extensions: { code: 'BAD_USER_INPUT' } });
  return Number(match[1]);
}

export const resolvers = {
  Query: {
    organization(_: unknown, args: { id?: string | null; subDomain?: string | null }): OrganizationParent {
      if ((args.id == null) === (args.subDomain == null)) throw new GraphQLError('Pass exactly one of id or subDomain', { extensions: { code: 'BAD_USER_INPUT' } });
      return { lookup: args.id != null ? { id: args.id } : { sub_domain: args.subDomain! } };
    },
    async organizations(_: unknown, __: unknown, { katapult }: Context): Promise<OrganizationParent[]> {
      const body = await katapult.organizations();
      return body.organizations.map((o) => ({ lookup: { id: o.id }, id: o.id, name: o.name }));
    },
  },
  Organization: {
    async id(org: OrganizationParent, _: unknown, { katapult }: Context) {
      if (org.id) return org.id;
      return 'id' in org.lookup ? org.lookup.id : (await katapult.organization(org.lookup)).organization.id;
    },
    async name(org: OrganizationParent, _: unknown, { katapult }: Context) {
      return org.name ?? (await katapult.organization(org.lookup)).organization.name;
    },
    async subDomain(org: OrganizationParent, _: unknown, { katapult }: Context) {
      return 'sub_domain' in org.lookup ? org.lookup.sub_domain : (await katapult.organization(org.lookup)).organization.sub_domain;
    },
    async virtualMachines(
      org: OrganizationParent,
      args: { first?: number | null; after?: string | null; annotations?: Array<{ key: string; value?: string | null }> | null },
      { katapult }: Context,
    ) {
      const first = args.first ?? 20;
      if (first < 1 || first > 100) throw new GraphQLError('first must be between 1 and 100', { extensions: { code: 'BAD_USER_INPUT' } });
      const start = args.after ? decodeCursor(args.after) + 1 : 0;
      if (start % first !== 0) throw new GraphQLError('Windows must start on a multiple of first', { extensions: { code: 'BAD_USER_INPUT' } });
      const page = start / first + 1;
      const body = await katapult.virtualMachines(org.lookup, page, first, args.annotations ?? []);
      const { pagination } = body;
      const edges = body.virtual_machines.map((vm, i) => ({ cursor: encodeCursor(start + i), node: { ...vm, organization: org.lookup } }));
      return {
        totalCount: pagination.total,
        edges,
        pageInfo: {
          hasNextPage: pagination.total_pages === null ? body.virtual_machines.length === first : page < pagination.total_pages,
          hasPreviousPage: page > 1,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  },
  VirtualMachine: {
    zone: (vm: VirtualMachineParent) => vm.zone,
    ipAddresses: (vm: VirtualMachineParent) => vm.ip_addresses,
    async package(vm: VirtualMachineParent, _: unknown, { katapult }: Context) {
      if (!vm.package) return null;
      const body = await katapult.packages(vm.organization);
      return body.virtual_machine_packages.find((p) => p.name === vm.package!.name) ?? null;
    },
  },
  Zone: {
    dataCenter: (zone: VirtualMachineListItem['zone']): DataCenter => ({ ...zone.data_center, country: null }),
  },
  DataCenter: {
    async country(dc: DataCenter, _: unknown, { katapult }: Context) {
      if (dc.country) return dc.country;
      const body = await katapult.dataCenters();
      return body.data_centers.find((d) => d.id === dc.id)?.country ?? null;
    },
  },
  VirtualMachinePackage: {
    cpuCores: (p: { cpu_cores: number }) => p.cpu_cores,
    memoryInGb: (p: { memory_in_gb: number }) => p.memory_in_gb,
  },
};
