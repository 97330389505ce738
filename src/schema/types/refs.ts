import type {
  CountryModel,
  DataCenterModel,
  GpuTypeModel,
  HypervisorModel,
  IpAddressModel,
  OrganizationModel,
  PackageModel,
  VirtualMachineModel,
  ZoneModel,
} from '../../data/models.js';
import type { CurrentUserResponseDto, PackageGroupDto, PackageIconDto } from '../../upstream/dto.js';
import { builder } from '../builder.js';

/**
 * Type refs, declared before any type is implemented so the type files can point at each
 * other without import cycles (each file implements its own ref).
 */
export const VirtualMachineRef = builder.objectRef<VirtualMachineModel>('VirtualMachine');
export const OrganizationRef = builder.objectRef<OrganizationModel>('Organization');
export const ZoneRef = builder.objectRef<ZoneModel>('Zone');
export const DataCenterRef = builder.objectRef<DataCenterModel>('DataCenter');
export const CountryRef = builder.objectRef<CountryModel>('Country');
export const VirtualMachinePackageRef = builder.objectRef<PackageModel>('VirtualMachinePackage');
export const PackageGroupRef = builder.objectRef<PackageGroupDto>('PackageGroup');
export const PackageIconRef = builder.objectRef<PackageIconDto>('PackageIcon');
export const GpuTypeRef = builder.objectRef<GpuTypeModel>('GpuType');
export const IPAddressRef = builder.objectRef<IpAddressModel>('IPAddress');
export const HypervisorRef = builder.objectRef<HypervisorModel>('Hypervisor');
export const ViewerRef = builder.objectRef<CurrentUserResponseDto>('Viewer');
