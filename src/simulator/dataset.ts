import type { CountryDto, DataCenterFullDto, OrganizationDto, UserDto, ZoneDto } from '../upstream/dto.js';
import { COUNTRIES, DATA_CENTERS, GPU_TYPES, ZONES, createPackages, type SimulatedGpuType, type SimulatorPackage } from './catalogue.js';
import { ACME, GLOBEX, INITECH, ORGANIZATIONS, USER, USER_ORGANIZATION_IDS } from './organizations.js';
import { createRandom } from './random.js';
import { generateVirtualMachines, type SimulatorVirtualMachine } from './virtual-machines.js';

export type { SimulatorPackage } from './catalogue.js';
export type { SimulatorVirtualMachine } from './virtual-machines.js';

/**
 * Everything the simulator serves, read-only. Places, packages, organizations and the user
 * have fixed ids; VMs are generated from the seed, so a seed always gives the same VMs.
 */
export interface SimulatorDataset {
  readonly countries: readonly CountryDto[];
  /** Data centers with their full country; the wire shows less in most places. */
  readonly dataCenters: readonly DataCenterFullDto[];
  readonly zones: readonly ZoneDto[];
  readonly gpuTypes: readonly SimulatedGpuType[];
  /** Public packages first (catalogue order), then private ones. */
  readonly packages: readonly SimulatorPackage[];
  readonly organizations: readonly OrganizationDto[];
  /** Every VM of every organization in creation order, trashed ones included. */
  readonly virtualMachines: readonly SimulatorVirtualMachine[];
  readonly user: UserDto;
  /** The organizations the user belongs to. */
  readonly userOrganizationIds: readonly string[];
  /** Live (not trashed) VMs of one organization, in list order. */
  liveVirtualMachines(organizationId: string): readonly SimulatorVirtualMachine[];
  /** Packages an organization may use (public ones, then its private ones); public only for null. */
  packagesFor(organizationId: string | null): readonly SimulatorPackage[];
}

/** VM counts per organization: acme is past the 1,000-row `large_set` threshold on purpose. */
export const VM_COUNTS = {
  acme: { live: 1250, trashed: 2 },
  globex: { live: 12, trashed: 1 },
  initech: { live: 3, trashed: 0 },
} as const;

export const DEFAULT_SEED = 20260101;

export function createDataset(seed: number = DEFAULT_SEED): SimulatorDataset {
  const random = createRandom(seed);
  const packages = createPackages(ACME.id, GLOBEX.id);
  const packagesFor = (organizationId: string | null) =>
    packages.filter((p) => p.organizationId === null || (organizationId !== null && p.organizationId === organizationId));
  const addressCounters = new Map<string, number>();

  const byOrganization = new Map<string, SimulatorVirtualMachine[]>();
  const virtualMachines: SimulatorVirtualMachine[] = [];
  for (const [organization, counts] of [
    [ACME, VM_COUNTS.acme],
    [GLOBEX, VM_COUNTS.globex],
    [INITECH, VM_COUNTS.initech],
  ] as const) {
    const vms = generateVirtualMachines(random, {
      organization,
      count: counts.live,
      trashed: counts.trashed,
      packages: packagesFor(organization.id).map((p) => p.package),
      addressCounters,
    });
    byOrganization.set(organization.id, vms.filter((vm) => vm.trash === null));
    virtualMachines.push(...vms);
  }

  return {
    countries: COUNTRIES,
    dataCenters: DATA_CENTERS,
    zones: ZONES,
    gpuTypes: GPU_TYPES,
    packages,
    organizations: ORGANIZATIONS,
    virtualMachines,
    user: USER,
    userOrganizationIds: USER_ORGANIZATION_IDS,
    liveVirtualMachines: (organizationId) => byOrganization.get(organizationId) ?? [],
    packagesFor,
  };
}
