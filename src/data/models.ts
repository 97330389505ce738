import type {
  CountryDto,
  DataCenterDto,
  DataCenterFullDto,
  DataCenterRefDto,
  GpuTypeDto,
  GpuTypeSummaryDto,
  IpAddressDto,
  OrganizationDto,
  OrganizationListItemDto,
  VirtualMachineListItemDto,
  VirtualMachinePackageDto,
  VirtualMachineResponseDto,
  ZoneDto,
  ZoneListItemDto,
} from '../upstream/dto.js';
import type { OrganizationLookup } from './katapult-data.js';

/**
 * What the schema's objects are made of. Katapult returns the same object in several
 * shapes (a VM list item carries a partial zone and only a package name; the single VM is
 * full), so each model keeps what is in hand and the resolvers fetch the rest only when a
 * field not in hand is selected.
 */

export interface VirtualMachineModel {
  id: string;
  /** The organization the VM was listed under, as the client named it (no call needed). */
  organization: OrganizationLookup | null;
  list: VirtualMachineListItemDto | null;
  full: VirtualMachineResponseDto | null;
}

export interface OrganizationModel {
  lookup: OrganizationLookup;
  dto: Partial<OrganizationListItemDto> | OrganizationDto | null;
}

export interface CountryModel {
  id: string;
  name: string;
  full: CountryDto | null;
}

export interface DataCenterModel {
  id: string;
  name: string;
  permalink: string | null;
  country: CountryModel | null;
}

export interface ZoneModel {
  id: string;
  name: string;
  permalink: string | null;
  dataCenter: DataCenterModel;
}

export interface PackageModel {
  name: string;
  /** Where to look the package up by name when only the name is in hand. */
  organization: OrganizationLookup | null;
  dto: VirtualMachinePackageDto | null;
  /** The VM it was named by: its own record holds the package in full, even one no list offers any more. */
  virtualMachineId?: string;
  /** `dto` is the package's own record (not a list's), so a field it lacks is not worth another call. */
  ownRecord?: boolean;
}

export interface GpuTypeModel {
  /** Says the type where the id cannot: Katapult's reference records no GPU type id, so its prefix is not known for sure. */
  nodeType: 'GpuType';
  id: string;
  name: string;
  permalink: string;
  dto: GpuTypeDto | GpuTypeSummaryDto | null;
}

export interface IpAddressModel {
  address: string;
  dto: IpAddressDto | null;
  vm: VirtualMachineModel;
}

export function countryModel(dto: { id: string; name: string } | CountryDto): CountryModel {
  return { id: dto.id, name: dto.name, full: 'iso_code2' in dto ? dto : null };
}

export function dataCenterModel(dto: DataCenterDto | DataCenterRefDto | DataCenterFullDto): DataCenterModel {
  return {
    id: dto.id,
    name: dto.name,
    permalink: dto.permalink,
    country: 'country' in dto && dto.country ? countryModel(dto.country) : null,
  };
}

export function zoneModel(dto: ZoneListItemDto | ZoneDto): ZoneModel {
  return { id: dto.id, name: dto.name, permalink: dto.permalink, dataCenter: dataCenterModel(dto.data_center) };
}

/** `ownRecord`: `dto` is the package's own record, or a VM's (not a list's), and holds everything Katapult will say. */
export function packageModel(dto: VirtualMachinePackageDto, ownRecord = false): PackageModel {
  return { name: dto.name, organization: null, dto, ownRecord };
}

export function gpuTypeModel(dto: { id: string; name: string; permalink: string } | GpuTypeDto | GpuTypeSummaryDto): GpuTypeModel {
  return { nodeType: 'GpuType', id: dto.id, name: dto.name, permalink: dto.permalink, dto: 'manufacturer' in dto ? dto : null };
}

export function organizationModel(dto: Partial<OrganizationListItemDto> & { id: string }): OrganizationModel {
  return { lookup: { id: dto.id }, dto };
}

/** A VM's hypervisor: the list names it; its address is only in the VM's own record. */
export interface HypervisorModel {
  id: string;
  name: string;
  /** Absent (not null) when it came from the list. */
  ip_address?: string | null;
  vm: VirtualMachineModel;
}

export function virtualMachineFromList(item: VirtualMachineListItemDto, organization: OrganizationLookup): VirtualMachineModel {
  return { id: item.id, organization, list: item, full: null };
}

export function virtualMachineFromFull(response: VirtualMachineResponseDto): VirtualMachineModel {
  return { id: response.virtual_machine.id, organization: { id: response.virtual_machine.organization.id }, list: null, full: response };
}
