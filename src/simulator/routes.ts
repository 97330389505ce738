import type { KeyValueDto, OrganizationDto } from '../upstream/dto.js';
import { apiErrors, type NotFoundCode } from './api-error.js';
import type { ArgumentSpec, LookupValue, ParsedArguments } from './arguments.js';
import type { SimulatorDataset } from './dataset.js';
import { paginate } from './pagination.js';
import * as present from './presenters.js';
import type { SimulatorIdentity } from './tokens.js';
import type { SimulatorVirtualMachine } from './virtual-machines.js';

/** What a handler gets once auth, scopes and arguments have passed. */
export interface RouteContext {
  identity: SimulatorIdentity;
  args: ParsedArguments;
  dataset: SimulatorDataset;
  /** Whether VMs carry `hypervisor`. */
  hypervisor: boolean;
}

export interface RouteDefinition {
  /** Apia route, relative to `/core/v1/`; `:name` segments are placeholders. */
  path: string;
  /** Apia's endpoint id; argument ids in error details derive from it. */
  endpointId: string;
  /** Any one is enough; empty means any valid token. */
  scopes: readonly string[];
  args: readonly ArgumentSpec[];
  handle(ctx: RouteContext): unknown;
}

const VM_SCOPES = ['virtual_machines', 'virtual_machines:read'] as const;
const PAGINATION: ArgumentSpec = { kind: 'pagination' };
const lookup = (name: string, set: string, keys: string[], required = true, description?: string): ArgumentSpec => ({
  kind: 'lookup', name, set, keys, required, ...(description === undefined ? {} : { description }),
});

function find<T>(items: readonly T[], given: LookupValue | undefined, code: NotFoundCode): T {
  const found = given?.value == null ? undefined : items.find((item) => (item as Record<string, unknown>)[given.key] === given.value);
  if (found === undefined) throw apiErrors.notFound(code);
  return found;
}

/** Another organization is invisible (404), never forbidden; the suspension check comes after. */
function organization(ctx: RouteContext): OrganizationDto {
  const visible = ctx.dataset.organizations.filter((o) => ctx.identity.organizationIds.includes(o.id));
  const org = find(visible, ctx.args.lookups.get('organization'), 'organization_not_found');
  if (org.suspended) throw apiErrors.organizationSuspended();
  return org;
}

/** AND across filters; a filter without a value matches any value of its key. */
function matchesAnnotations(vm: SimulatorVirtualMachine, filters: readonly KeyValueDto[]): boolean {
  return filters.every((f) => vm.annotations.some((a) => a.key === f.key && (f.value === null || a.value === f.value)));
}

function visiblePackages(ctx: RouteContext) {
  return ctx.dataset.packages.filter((p) => p.organizationId === null || ctx.identity.organizationIds.includes(p.organizationId)).map((p) => p.package);
}

export const ROUTES: readonly RouteDefinition[] = [
  {
    path: 'organizations/:organization/virtual_machines',
    endpointId: 'CoreAPI/Endpoints/VirtualMachines/ListEndpoint',
    scopes: VM_SCOPES,
    args: [lookup('organization', 'OrganizationLookup', ['id', 'sub_domain']), { kind: 'annotations' }, PAGINATION],
    handle(ctx) {
      const vms = ctx.dataset.liveVirtualMachines(organization(ctx).id).filter((vm) => matchesAnnotations(vm, ctx.args.annotations));
      const page = paginate(vms, ctx.args.page, ctx.args.perPage, true);
      return { pagination: page.pagination, virtual_machines: page.items.map((vm) => present.virtualMachineListItem(vm, ctx.hypervisor)) };
    },
  },
  {
    path: 'virtual_machines/:virtual_machine',
    endpointId: 'CoreAPI/Endpoints/VirtualMachines/InfoEndpoint',
    scopes: VM_SCOPES,
    args: [lookup('virtual_machine', 'VirtualMachineLookup', ['id', 'fqdn'])],
    handle(ctx) {
      const given = ctx.args.lookups.get('virtual_machine');
      const mine = ctx.dataset.virtualMachines.filter((vm) => ctx.identity.organizationIds.includes(vm.virtualMachine.organization.id));
      const record = find(mine.map((r) => ({ id: r.virtualMachine.id, fqdn: r.virtualMachine.fqdn, record: r })), given, 'virtual_machine_not_found').record;
      if (record.trash) throw apiErrors.objectInTrash(record.trash);
      return { virtual_machine: present.virtualMachine(record, ctx.hypervisor), annotations: record.annotations.map((a) => ({ key: a.key, value: a.value })) };
    },
  },
  {
    path: 'virtual_machine_packages',
    endpointId: 'CoreAPI/Endpoints/VirtualMachinePackages/ListEndpoint',
    scopes: ['virtual_machine_packages:read'],
    args: [
      lookup('organization', 'OrganizationLookup', ['id', 'sub_domain'], false,
        'Provide an organization to only show packages available to the given organization (otherwise only public packages will be displayed)'),
      PAGINATION,
    ],
    handle(ctx) {
      const org = ctx.args.lookups.has('organization') ? organization(ctx) : null;
      const page = paginate(ctx.dataset.packagesFor(org?.id ?? null).map((p) => p.package), ctx.args.page, ctx.args.perPage, false);
      return { pagination: page.pagination, virtual_machine_packages: page.items };
    },
  },
  {
    path: 'virtual_machine_packages/:virtual_machine_package',
    endpointId: 'CoreAPI/Endpoints/VirtualMachinePackages/InfoEndpoint',
    scopes: ['virtual_machine_packages:read'],
    args: [lookup('virtual_machine_package', 'VirtualMachinePackageLookup', ['id', 'permalink'])],
    handle: (ctx) => ({ virtual_machine_package: find(visiblePackages(ctx), ctx.args.lookups.get('virtual_machine_package'), 'package_not_found') }),
  },
  {
    path: 'organizations',
    endpointId: 'CoreAPI/Endpoints/Organizations/ListEndpoint',
    scopes: ['organizations:read'],
    args: [],
    handle: (ctx) => ({
      organizations: ctx.dataset.organizations.filter((o) => ctx.identity.organizationIds.includes(o.id)).map(present.organizationListItem),
    }),
  },
  {
    path: 'organizations/:organization',
    endpointId: 'CoreAPI/Endpoints/Organizations/InfoEndpoint',
    scopes: ['organizations:read'],
    args: [lookup('organization', 'OrganizationLookup', ['id', 'sub_domain'])],
    handle: (ctx) => ({ organization: organization(ctx) }),
  },
  {
    path: 'data_centers',
    endpointId: 'CoreAPI/Endpoints/DataCenters/ListEndpoint',
    scopes: [],
    args: [],
    handle: (ctx) => ({ data_centers: ctx.dataset.dataCenters.map(present.dataCenter) }),
  },
  {
    path: 'data_centers/:data_center',
    endpointId: 'CoreAPI/Endpoints/DataCenters/InfoEndpoint',
    scopes: [],
    args: [lookup('data_center', 'DataCenterLookup', ['id', 'permalink'])],
    handle: (ctx) => ({ data_center: present.dataCenter(find(ctx.dataset.dataCenters, ctx.args.lookups.get('data_center'), 'data_center_not_found')) }),
  },
  {
    path: 'data_centers/:data_center/gpu_types',
    endpointId: 'CoreAPI/Endpoints/GPUTypes/ListForDataCenterEndpoint',
    scopes: [],
    args: [lookup('data_center', 'DataCenterLookup', ['id', 'permalink'], true, 'The data center to list GPU types for'), PAGINATION],
    handle(ctx) {
      const dc = find(ctx.dataset.dataCenters, ctx.args.lookups.get('data_center'), 'data_center_not_found');
      const gpus = ctx.dataset.gpuTypes.filter((g) => g.data_centers.some((d) => d.id === dc.id)).map(present.gpuTypeSummary);
      const page = paginate(gpus, ctx.args.page, ctx.args.perPage, false);
      return { pagination: page.pagination, gpu_types: page.items };
    },
  },
  {
    path: 'zones',
    endpointId: 'CoreAPI/Endpoints/Zones/ListEndpoint',
    scopes: [],
    args: [],
    handle: (ctx) => ({ zones: ctx.dataset.zones.map(present.zoneListItem) }),
  },
  {
    path: 'zones/:zone',
    endpointId: 'CoreAPI/Endpoints/Zones/InfoEndpoint',
    scopes: [],
    args: [lookup('zone', 'ZoneLookup', ['id', 'permalink'], true, 'The zone to find')],
    handle: (ctx) => ({ zone: find(ctx.dataset.zones, ctx.args.lookups.get('zone'), 'zone_not_found') }),
  },
  {
    path: 'countries',
    endpointId: 'CoreAPI/Endpoints/Countries/ListEndpoint',
    scopes: [],
    args: [PAGINATION],
    handle(ctx) {
      const page = paginate(ctx.dataset.countries.map(present.countryListItem), ctx.args.page, ctx.args.perPage, false);
      return { pagination: page.pagination, countries: page.items };
    },
  },
  {
    path: 'countries/:country',
    endpointId: 'CoreAPI/Endpoints/Countries/InfoEndpoint',
    scopes: [],
    args: [lookup('country', 'CountryLookup', ['id', 'iso_code2', 'iso_code3'], true, 'The country to return')],
    handle: (ctx) => ({ country: find(ctx.dataset.countries, ctx.args.lookups.get('country'), 'country_not_found') }),
  },
  {
    path: 'gpu_types',
    endpointId: 'CoreAPI/Endpoints/GPUTypes/ListEndpoint',
    scopes: [],
    args: [PAGINATION],
    handle(ctx) {
      const page = paginate(ctx.dataset.gpuTypes, ctx.args.page, ctx.args.perPage, false);
      return { pagination: page.pagination, gpu_types: page.items };
    },
  },
  {
    path: 'gpu_types/:gpu_type',
    endpointId: 'CoreAPI/Endpoints/GPUTypes/InfoEndpoint',
    scopes: [],
    args: [lookup('gpu_type', 'GPUTypeLookup', ['id', 'permalink'])],
    handle: (ctx) => ({ gpu_type: find(ctx.dataset.gpuTypes, ctx.args.lookups.get('gpu_type'), 'gpu_type_not_found') }),
  },
  {
    path: 'users/current',
    endpointId: 'CoreAPI/Endpoints/Users/CurrentEndpoint',
    scopes: [],
    args: [],
    handle(ctx) {
      if (ctx.identity.kind !== 'user') throw apiErrors.noUserAssociatedWithIdentity();
      const orgs = ctx.dataset.organizations.filter((o) => ctx.identity.organizationIds.includes(o.id));
      return { user: ctx.dataset.user, organizations: orgs.map((o) => ({ id: o.id, name: o.name, sub_domain: o.sub_domain })), api_token_id: ctx.identity.tokenId };
    },
  },
];

/** Finds the route for an Apia path (no leading slash); placeholders capture one segment each. */
export function matchRoute(apiPath: string): { route: RouteDefinition; params: Record<string, string> } | null {
  const segments = apiPath.split('/');
  for (const route of ROUTES) {
    const pattern = route.path.split('/');
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const ok = pattern.every((part, i) => {
      const segment = segments[i] ?? '';
      if (part.startsWith(':')) {
        params[part.slice(1)] = segment;
        return segment !== '';
      }
      return part === segment;
    });
    if (ok) return { route, params };
  }
  return null;
}
