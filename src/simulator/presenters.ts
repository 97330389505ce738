import type {
  CountryListItemDto,
  DataCenterDto,
  DataCenterFullDto,
  DataCenterRefDto,
  GpuTypeDto,
  GpuTypeSummaryDto,
  OrganizationDto,
  OrganizationListItemDto,
  VirtualMachineDto,
  VirtualMachineListItemDto,
  ZoneDto,
  ZoneListItemDto,
} from '../upstream/dto.js';
import type { SimulatorVirtualMachine } from './virtual-machines.js';

/**
 * Projections from the full records to what each endpoint's include-spec really returns.
 * Every object is built key by key so the JSON key order matches the real server's.
 */

export function dataCenterRef(dc: DataCenterRefDto): DataCenterRefDto {
  return { id: dc.id, name: dc.name, permalink: dc.permalink };
}

export function dataCenter(dc: DataCenterFullDto): DataCenterDto {
  return { id: dc.id, name: dc.name, permalink: dc.permalink, country: { id: dc.country.id, name: dc.country.name } };
}

export function zoneListItem(zone: ZoneDto): ZoneListItemDto {
  return { id: zone.id, name: zone.name, permalink: zone.permalink, data_center: dataCenterRef(zone.data_center) };
}

export function countryListItem(country: { id: string; name: string }): CountryListItemDto {
  return { id: country.id, name: country.name };
}

export function gpuTypeSummary(gpu: GpuTypeDto): GpuTypeSummaryDto {
  return { id: gpu.id, name: gpu.name, manufacturer: gpu.manufacturer, memory_in_gb: gpu.memory_in_gb, memory_type: gpu.memory_type, permalink: gpu.permalink };
}

export function organizationListItem(org: OrganizationDto): OrganizationListItemDto {
  return {
    id: org.id,
    name: org.name,
    sub_domain: org.sub_domain,
    infrastructure_domain: org.infrastructure_domain,
    created_at: org.created_at,
    activated_at: org.activated_at,
    suspended: org.suspended,
    managed: org.managed,
  };
}

/** The VM list item: `zone.data_center` without country, `package` as `{ name }` only. */
export function virtualMachineListItem(record: SimulatorVirtualMachine, withHypervisor: boolean): VirtualMachineListItemDto {
  const vm = record.virtualMachine;
  const item: VirtualMachineListItemDto = {
    id: vm.id,
    name: vm.name,
    hostname: vm.hostname,
    fqdn: vm.fqdn,
    created_at: vm.created_at,
    zone: zoneListItem(vm.zone),
    package: vm.package ? { name: vm.package.name } : null,
    gpu_type: vm.gpu_type ? { id: vm.gpu_type.id, name: vm.gpu_type.name, permalink: vm.gpu_type.permalink } : null,
    ip_addresses: vm.ip_addresses.map((ip) => ({ address: ip.address })),
  };
  if (withHypervisor) item.hypervisor = { id: record.hypervisor.id, name: record.hypervisor.name };
  return item;
}

/** The full VM; `hypervisor` is conditional on the real API and absent unless switched on. */
export function virtualMachine(record: SimulatorVirtualMachine, withHypervisor: boolean): VirtualMachineDto {
  return withHypervisor ? { ...record.virtualMachine, hypervisor: { ...record.hypervisor } } : record.virtualMachine;
}
