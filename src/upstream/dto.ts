/**
 * Katapult core/v1 response bodies exactly as the wire sends them: snake_case keys, integer
 * Unix-second timestamps, explicit nulls. Nested "partial" objects get their own types because
 * the real API returns fewer fields than the OpenAPI file claims (the VM list's
 * `zone.data_center` has no `country`; its `package` is `{ name }` only).
 *
 * Id prefixes: `vm_ org_ zone_ loc_/dc_ ctry_ vmpkg_ vmpkgrp_ ip_ netw_ cur_`; GPU types use `gput_`
 * in the simulator (no real GPU type id was ever recorded).
 *
 * Types only: nothing here exists at runtime.
 */

export interface PaginationDto {
  current_page: number;
  /** Null when `large_set` is true (the server stopped counting). */
  total_pages: number | null;
  /** Null when `large_set` is true. */
  total: number | null;
  per_page: number;
  large_set: boolean;
}

export interface ErrorEnvelopeDto {
  error: {
    code: string;
    description: string;
    /** Always an object; `{}` when the error carries nothing. */
    detail: Record<string, unknown>;
  };
}

export interface KeyValueDto {
  key: string;
  value: string | null;
}

/** `detail.trash_object` of a 406 `object_in_trash`. */
export interface TrashObjectDto {
  id: string;
  keep_until: number;
  object_id: string;
  object_type: string;
}

export interface CountryListItemDto {
  id: string;
  name: string;
}

export interface CountryDto {
  id: string;
  name: string;
  iso_code2: string;
  iso_code3: string;
  time_zone: string | null;
  eu: boolean;
}

export interface CountryStateDto {
  id: string;
  name: string;
  code: string;
  country: CountryDto;
}

export interface CurrencyDto {
  id: string;
  name: string;
  iso_code: string;
  symbol: string;
}

/** As served by `/data_centers` and `/data_centers/data_center`: the country is partial. */
export interface DataCenterDto {
  id: string;
  name: string;
  /** Apia's schema (what Katapult's serialisers are built from) allows null; the OpenAPI document does not say so. */
  permalink: string | null;
  /** Never null in either reference, but the answer check lets a null through (the GraphQL field is nullable). */
  country: CountryListItemDto | null;
}

/** A data center nested in lists (VM list zone, `/zones`, GPU types): no country at all. */
export interface DataCenterRefDto {
  id: string;
  name: string;
  permalink: string | null;
}

/** A data center nested in a full zone: the country is full. */
export interface DataCenterFullDto {
  id: string;
  name: string;
  permalink: string | null;
  country: CountryDto;
}

export interface ZoneListItemDto {
  id: string;
  name: string;
  permalink: string | null;
  data_center: DataCenterRefDto;
}

export interface ZoneDto {
  id: string;
  name: string;
  permalink: string | null;
  data_center: DataCenterFullDto;
}

export interface GpuTypeSummaryDto {
  id: string;
  name: string;
  manufacturer: string;
  memory_in_gb: number;
  memory_type: string;
  permalink: string;
}

export interface GpuTypeDto extends GpuTypeSummaryDto {
  /** The OpenAPI document marks the items nullable, Apia's schema the array itself. */
  data_centers: (DataCenterRefDto | null)[] | null;
}

export interface PackageIconDto {
  url: string;
  file_name: string;
  file_type: string;
  file_size: number;
  digest: string;
  token: string;
}

export interface PackageGroupDto {
  id: string;
  name: string;
}

export interface VirtualMachinePackageDto {
  id: string;
  name: string;
  permalink: string;
  cpu_cores: number;
  ipv4_addresses: number;
  memory_in_gb: number;
  storage_in_gb: number;
  monthly_bandwidth_allowance_in_gb: number | null;
  privacy: 'public' | 'private';
  icon: PackageIconDto | null;
  use_dedicated_cpus: boolean;
  /** In the OpenAPI document and recorded answers; Apia's object has no such field. */
  group?: PackageGroupDto | null;
}

export interface OrganizationListItemDto {
  id: string;
  name: string;
  sub_domain: string;
  infrastructure_domain: string;
  created_at: number;
  activated_at: number | null;
  suspended: boolean;
  managed: boolean;
}

export interface OrganizationDto extends OrganizationListItemDto {
  billing_name: string | null;
  address1: string | null;
  address2: string | null;
  address3: string | null;
  address4: string | null;
  postcode: string | null;
  vat_number: string | null;
  phone_number: string | null;
  currency: CurrencyDto;
  country: CountryDto | null;
  country_state: CountryStateDto | null;
}

export interface VirtualMachineListItemDto {
  id: string;
  name: string;
  hostname: string;
  fqdn: string;
  created_at: number;
  zone: ZoneListItemDto;
  package: { name: string } | null;
  gpu_type: { id: string; name: string; permalink: string } | null;
  ip_addresses: Array<{ address: string }>;
  /** Conditional: absent from every recorded real response. */
  hypervisor?: { id: string; name: string } | null;
}

export type VirtualMachineStateDto =
  | 'stopped'
  | 'failed'
  | 'started'
  | 'starting'
  | 'allocated'
  | 'allocating'
  | 'resetting'
  | 'migrating'
  | 'stopping'
  | 'shutting_down'
  | 'transferring'
  | 'orphaned';

export interface VirtualMachineGroupDto {
  id: string;
  name: string;
  segregate: boolean;
  auto_segregate: boolean;
  created_at: number;
}

export interface OperatingSystemDto {
  id: string;
  name: string;
  badge: PackageIconDto | null;
}

export interface IsoDto {
  id: string;
  name: string;
  operating_system: OperatingSystemDto | null;
}

export interface VirtualMachineGpuDto {
  id: string | null;
  status: 'attached' | 'attaching' | 'detached' | 'detaching' | 'unknown';
  pending_action: 'attach' | 'detach' | null;
  available: boolean;
  /** The single-VM include-spec drops `data_centers` here. */
  type: GpuTypeSummaryDto;
}

export interface TagDto {
  id: string;
  name: string;
  color: string;
  created_at: number;
}

export interface NetworkDto {
  id: string;
  name: string;
  permalink: string | null;
  default: boolean;
  data_center: DataCenterFullDto;
}

export interface IpAddressDto {
  id: string;
  address: string;
  reverse_dns: string;
  vip: boolean;
  label: string | null;
  address_with_mask: string;
  network: NetworkDto;
  allocation_id: string | null;
  allocation_type: string | null;
}

export interface VirtualMachineDto {
  id: string;
  name: string;
  hostname: string;
  fqdn: string;
  description: string | null;
  created_at: number;
  /** A secret: never pass it on to gateway clients. */
  initial_root_password: string | null;
  state: VirtualMachineStateDto;
  zone: ZoneDto;
  organization: OrganizationDto;
  group: VirtualMachineGroupDto | null;
  package: VirtualMachinePackageDto | null;
  attached_iso: IsoDto | null;
  memory_in_gb: number | null;
  cpu_cores: number | null;
  use_dedicated_cpus: boolean | null;
  gpu_type: GpuTypeSummaryDto | null;
  gpus: VirtualMachineGpuDto[];
  tags: TagDto[];
  tag_names: string[];
  ip_addresses: IpAddressDto[];
  /** Conditional: absent from every recorded real response. */
  hypervisor?: { id: string; name: string; ip_address: string } | null;
}

export interface UserDto {
  id: string;
  first_name: string;
  last_name: string;
  avatar_url: string;
}

export interface CurrentUserResponseDto {
  user: UserDto;
  organizations: Array<{ id: string; name: string; sub_domain: string }>;
  api_token_id: string | null;
}

export interface VirtualMachinesListResponseDto {
  pagination: PaginationDto;
  virtual_machines: VirtualMachineListItemDto[];
}

export interface VirtualMachineResponseDto {
  virtual_machine: VirtualMachineDto;
  annotations: KeyValueDto[];
}

export interface VirtualMachinePackagesListResponseDto {
  pagination: PaginationDto;
  virtual_machine_packages: VirtualMachinePackageDto[];
}

export interface VirtualMachinePackageResponseDto {
  virtual_machine_package: VirtualMachinePackageDto;
}

/** Not paginated. */
export interface OrganizationsListResponseDto {
  organizations: OrganizationListItemDto[];
}

export interface OrganizationResponseDto {
  organization: OrganizationDto;
}

/** Not paginated. */
export interface DataCentersListResponseDto {
  data_centers: DataCenterDto[];
}

export interface DataCenterResponseDto {
  data_center: DataCenterDto;
}

/** Not paginated. */
export interface ZonesListResponseDto {
  zones: ZoneListItemDto[];
}

export interface ZoneResponseDto {
  zone: ZoneDto;
}

export interface CountriesListResponseDto {
  pagination: PaginationDto;
  countries: CountryListItemDto[];
}

export interface CountryResponseDto {
  country: CountryDto;
}

export interface GpuTypesListResponseDto {
  pagination: PaginationDto;
  gpu_types: GpuTypeDto[];
}

/** `/data_centers/data_center/gpu_types`: the items carry no `data_centers`. */
export interface DataCenterGpuTypesListResponseDto {
  pagination: PaginationDto;
  gpu_types: GpuTypeSummaryDto[];
}

export interface GpuTypeResponseDto {
  gpu_type: GpuTypeDto;
}
