import type {
  CountryDto,
  DataCenterFullDto,
  DataCenterRefDto,
  GpuTypeDto,
  NetworkDto,
  PackageIconDto,
  VirtualMachinePackageDto,
  ZoneDto,
} from '../upstream/dto.js';

/**
 * The fixed part of the simulated world: places, networks, GPU types and the package
 * catalogue. Ids are literals so other tests can name them; nothing here depends on the seed.
 */

export const COUNTRIES: readonly CountryDto[] = [
  { id: 'ctry_u8jzPde0IgxLd6Gn', name: 'United Kingdom', iso_code2: 'GB', iso_code3: 'GBR', time_zone: 'Europe/London', eu: false },
  { id: 'ctry_cfBAepfJBd0Kh8oO', name: 'Netherlands', iso_code2: 'NL', iso_code3: 'NLD', time_zone: 'Europe/Amsterdam', eu: true },
  { id: 'ctry_OL8dKLzdocJ2isAj', name: 'United States', iso_code2: 'US', iso_code3: 'USA', time_zone: 'America/New_York', eu: false },
  { id: 'ctry_IhKtJ0RlgLKOmxgJ', name: 'Germany', iso_code2: 'DE', iso_code3: 'DEU', time_zone: null, eu: true },
];

function country(iso2: string): CountryDto {
  const found = COUNTRIES.find((c) => c.iso_code2 === iso2);
  if (!found) throw new Error(`unknown country ${iso2}`);
  return found;
}

// Old data centers carry `loc_` ids, newer ones `dc_`, as on the real API.
export const DATA_CENTERS: readonly DataCenterFullDto[] = [
  { id: 'loc_TeKdNnFRIBXuDL7D', name: 'London', permalink: 'uk-lon-01', country: country('GB') },
  { id: 'dc_xtpYlSXpfKtHF4vU', name: 'Manchester', permalink: 'uk-man-01', country: country('GB') },
  { id: 'dc_CsMehGAkWvj7FAc9', name: 'Amsterdam', permalink: 'nl-ams-01', country: country('NL') },
  { id: 'loc_QeWJKY40uvSwMFLZ', name: 'New York', permalink: 'us-nyc-01', country: country('US') },
];

function dataCenter(permalink: string): DataCenterFullDto {
  const found = DATA_CENTERS.find((d) => d.permalink === permalink);
  if (!found) throw new Error(`unknown data center ${permalink}`);
  return found;
}

export const ZONES: readonly ZoneDto[] = [
  { id: 'zone_De1f8rESQedUStPK', name: 'LON-1', permalink: 'lon-zone-1', data_center: dataCenter('uk-lon-01') },
  { id: 'zone_R0CsTy4Qwb8DwkNh', name: 'LON-2', permalink: 'lon-zone-2', data_center: dataCenter('uk-lon-01') },
  { id: 'zone_FdnXsiVpzz63FfkC', name: 'MAN-1', permalink: 'man-zone-1', data_center: dataCenter('uk-man-01') },
  { id: 'zone_zJr4i0B3JrTAwR4y', name: 'AMS-1', permalink: 'ams-zone-1', data_center: dataCenter('nl-ams-01') },
  // A zone without a permalink keeps the nullable field honest.
  { id: 'zone_9ojfljoQoaF1Llqs', name: 'NYC-1', permalink: null, data_center: dataCenter('us-nyc-01') },
];

/** The public network of each data center, keyed by data center id; each has its own /24. */
export const NETWORKS: ReadonlyMap<string, { network: NetworkDto; prefix: string }> = new Map(
  (
    [
      ['netw_ajAIxNKu8iS2G8NP', 'uk-lon-01', '185.44.248'],
      ['netw_RVdD53X83RZJzzzz', 'uk-man-01', '185.44.240'],
      ['netw_gEOzdmenCkhvMdga', 'nl-ams-01', '31.193.40'],
      ['netw_KjIg8xNbe3nNyjOq', 'us-nyc-01', '104.36.16'],
    ] as const
  ).map(([id, permalink, prefix]) => {
    const dc = dataCenter(permalink);
    const network: NetworkDto = { id, name: 'Public Network', permalink: `${permalink}-public`, default: true, data_center: dc };
    return [dc.id, { network, prefix }];
  }),
);

function gpuDataCenters(...permalinks: string[]) {
  return permalinks.map((p) => {
    const dc = dataCenter(p);
    return { id: dc.id, name: dc.name, permalink: dc.permalink };
  });
}

/** The simulator always names a GPU type's data centers (Katapult may send null; see GpuTypeDto). */
export interface SimulatedGpuType extends GpuTypeDto {
  data_centers: DataCenterRefDto[];
}

export const GPU_TYPES: readonly SimulatedGpuType[] = [
  { id: 'gput_9wMxEhh2FDEEtfjg', name: 'NVIDIA L40S', manufacturer: 'NVIDIA', memory_in_gb: 48, memory_type: 'GDDR6', permalink: 'nvidia-l40s', data_centers: gpuDataCenters('uk-lon-01', 'nl-ams-01') },
  { id: 'gput_VvVqE1SkHbn88Hxj', name: 'NVIDIA H100', manufacturer: 'NVIDIA', memory_in_gb: 80, memory_type: 'HBM3', permalink: 'nvidia-h100', data_centers: gpuDataCenters('uk-lon-01') },
  { id: 'gput_SI6bWHtP3fS2qHx6', name: 'AMD Instinct MI210', manufacturer: 'AMD', memory_in_gb: 64, memory_type: 'HBM2e', permalink: 'amd-mi210', data_centers: gpuDataCenters('us-nyc-01') },
];

const STANDARD = { id: 'vmpkgrp_kwXoIIXGvOoNZYW2', name: 'Standard vCPU' };
const DEDICATED = { id: 'vmpkgrp_mZp0zVZomHFwUbbY', name: 'Dedicated vCPU' };
const GPU = { id: 'vmpkgrp_rEqmSM9wCZ7Uw9xf', name: 'GPU' };
const CUSTOM = { id: 'vmpkgrp_ogoEmvnEN5N1aE6P', name: 'Custom' };

function icon(name: string, token: string, digest: string, size: number): PackageIconDto {
  return { url: `https://my.katapult.io/attachment/${token}/${name}.svg`, file_name: `${name}.svg`, file_type: 'image/svg+xml', file_size: size, digest, token };
}
const ROCK_ICON = icon('rock', 'pJ4nC7sW2eQx9LmB', '3f1c9a0b7d2e4f5a6b8c9d0e1f2a3b4c', 2411);
const BOULDER_ICON = icon('boulder', 'tR8vK3dZ6hYw1NqF', '9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b', 3178);

// [id, name, cpu, memory GB, storage GB, monthly bandwidth GB | null]
const ROCKS: ReadonlyArray<readonly [string, string, number, number, number, number]> = [
  ['vmpkg_C3J27XDCG2LmlZGE', 'ROCK-1', 1, 1, 10, 1024],
  ['vmpkg_ONYlgCtjfIZ4SOcM', 'ROCK-3', 1, 3, 25, 2048],
  ['vmpkg_z9CPVNPkNa1Hedcm', 'ROCK-6', 2, 6, 50, 3072],
  ['vmpkg_4pMbXDuCL1mHoOsF', 'ROCK-12', 4, 12, 100, 4096],
  ['vmpkg_aQfDPrAJ71fTquWo', 'ROCK-24', 6, 24, 200, 5120],
  ['vmpkg_GsbeKXgzg2sye9b2', 'ROCK-32', 8, 32, 250, 6144],
  ['vmpkg_Rann76dEyTzAeKOm', 'ROCK-48', 10, 48, 350, 7168],
  ['vmpkg_XRrvftva9AW7hipT', 'ROCK-64', 12, 64, 450, 8192],
  ['vmpkg_gadDZFlRJmCGmUXi', 'ROCK-96', 16, 96, 650, 10240],
  ['vmpkg_APyhzAnar3ZLt4bn', 'ROCK-128', 20, 128, 850, 12288],
  ['vmpkg_lz2MPKgcjnCqaXNv', 'ROCK-192', 28, 192, 1200, 16384],
  ['vmpkg_1syeefnLOpaMxxND', 'ROCK-288', 40, 288, 1800, 20480],
];
const BOULDERS: ReadonlyArray<readonly [string, number]> = [
  ['vmpkg_i9LE1Ki3ylOjt6o0', 20],
  ['vmpkg_NpUmkVO8JmR8y4EM', 40],
  ['vmpkg_fAdggcG9qpVTzqA0', 60],
  ['vmpkg_5MFsHl7UeioEJP2N', 80],
  ['vmpkg_Nern66nVberACpdc', 100],
  ['vmpkg_lsxHKifxi5CvQUSH', 120],
  ['vmpkg_L8iLc7bE6wSt9cbM', 140],
  ['vmpkg_OeEeUtuieeCIxVc5', 160],
];

/** A catalogue entry: `organizationId` null means public, otherwise visible to that organization only. */
export interface SimulatorPackage {
  readonly package: VirtualMachinePackageDto;
  readonly organizationId: string | null;
}

export function createPackages(acmeId: string, globexId: string): SimulatorPackage[] {
  const rocks = ROCKS.map(([id, name, cpu, memory, storage, bandwidth], i): VirtualMachinePackageDto => ({
    id, name, permalink: name.toLowerCase(), cpu_cores: cpu, ipv4_addresses: 1, memory_in_gb: memory, storage_in_gb: storage,
    monthly_bandwidth_allowance_in_gb: bandwidth, privacy: 'public', icon: i < 3 ? ROCK_ICON : null, use_dedicated_cpus: false, group: STANDARD,
  }));
  // Dedicated packages have unmetered bandwidth, which is how the nullable field shows up.
  const boulders = BOULDERS.map(([id, size]): VirtualMachinePackageDto => ({
    id, name: `BOULDER-${size}`, permalink: `boulder-${size}`, cpu_cores: size / 10, ipv4_addresses: 1, memory_in_gb: size / 5 * 2,
    storage_in_gb: size * 4, monthly_bandwidth_allowance_in_gb: null, privacy: 'public', icon: BOULDER_ICON, use_dedicated_cpus: true, group: DEDICATED,
  }));
  const acmeGpu: VirtualMachinePackageDto = {
    id: 'vmpkg_7VVTiY96vwfRE5e3', name: 'ACME-GPU-L40S', permalink: 'acme-gpu-l40s', cpu_cores: 16, ipv4_addresses: 1, memory_in_gb: 128,
    storage_in_gb: 1000, monthly_bandwidth_allowance_in_gb: 20480, privacy: 'private', icon: null, use_dedicated_cpus: true, group: GPU,
  };
  const globexXl: VirtualMachinePackageDto = {
    id: 'vmpkg_2A8Yb3FKaNQyyLaM', name: 'GLOBEX-XL', permalink: 'globex-xl', cpu_cores: 24, ipv4_addresses: 2, memory_in_gb: 192,
    storage_in_gb: 2000, monthly_bandwidth_allowance_in_gb: null, privacy: 'private', icon: null, use_dedicated_cpus: false, group: CUSTOM,
  };
  return [
    ...[...rocks, ...boulders].map((p) => ({ package: p, organizationId: null })),
    { package: acmeGpu, organizationId: acmeId },
    { package: globexXl, organizationId: globexId },
  ];
}
