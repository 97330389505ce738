import type { MaybePromise } from '../../data/katapult-source.js';
import { notFound } from '../../data/katapult-data.js';
import type { PackageModel } from '../../data/models.js';
import { chain, recover } from '../../data/pagination.js';
import type { VirtualMachinePackageDto } from '../../upstream/dto.js';
import { UpstreamApiError } from '../../upstream/errors.js';
import { builder, type GraphQLContext } from '../builder.js';
import { selectedFields } from '../lookahead.js';
import { PackageGroupRef, PackageIconRef, VirtualMachinePackageRef } from './refs.js';

/**
 * Refusals of a package read that the VM's own record can stand in for: the package list and
 * the package's record need virtual_machine_packages:read, which a token reading VMs may lack,
 * while the VM's record (the VM scope) carries its package in full.
 */
const STANDS_IN_FOR = new Set(['scope_not_granted', 'permission_denied']);
const BY_VM_RECORD = Symbol('read the package from its VM');

function fromVmRecord(pkg: PackageModel, context: GraphQLContext): MaybePromise<VirtualMachinePackageDto> {
  return chain(context.data.virtualMachine({ id: pkg.virtualMachineId! }), (full) => {
    const own = full.virtual_machine.package;
    if (!own) throw notFound('package_not_found', 'package');
    pkg.ownRecord = true;
    return (pkg.dto = own);
  });
}

/** A package read, or the VM's record in its place when the read is refused and the package is a VM's. */
function orVmRecord<T>(pkg: PackageModel, read: () => MaybePromise<T>): MaybePromise<T | typeof BY_VM_RECORD> {
  return recover(read, (error) => {
    if (pkg.virtualMachineId !== undefined && error instanceof UpstreamApiError && STANDS_IN_FOR.has(error.code)) return BY_VM_RECORD;
    throw error;
  });
}

/**
 * A VM list names its package only; the organization's package list (one cached call for
 * every VM on the page) resolves the name, and the public list is the fallback. A package
 * neither list offers any more (retired, or private to someone else now) is still in full in
 * the VM's own record, and so is one the token may not list packages to find.
 */
function fullPackage(pkg: PackageModel, context: GraphQLContext): MaybePromise<VirtualMachinePackageDto> {
  if (pkg.dto) return pkg.dto;
  return chain(orVmRecord(pkg, () => context.data.packageByName(pkg.organization, pkg.name)), (dto) => {
    if (dto === BY_VM_RECORD) return fromVmRecord(pkg, context);
    if (dto) return (pkg.dto = dto);
    if (pkg.virtualMachineId === undefined) throw notFound('package_not_found', 'package');
    return fromVmRecord(pkg, context);
  });
}

/**
 * The package's record with what `has` looks for. Katapult's package list may send fewer
 * fields than the package's own record (Apia's list endpoint names a subset, and only the
 * icon's URL); then the package's own record is read, once per request and cached.
 */
function packageWith(pkg: PackageModel, context: GraphQLContext, has: (dto: VirtualMachinePackageDto) => boolean): MaybePromise<VirtualMachinePackageDto> {
  return chain(fullPackage(pkg, context), (dto) => {
    if (pkg.ownRecord || has(dto)) return dto;
    return chain(orVmRecord(pkg, () => context.data.package({ id: dto.id })), (own) => {
      if (own === BY_VM_RECORD) return fromVmRecord(pkg, context);
      pkg.ownRecord = true;
      return (pkg.dto = own);
    });
  });
}

/**
 * Said of every field `field` reads: nullable, since each can need the package's own record,
 * and so that a field shares its type with the field of that name on other Node types (a
 * VM's `cpuCores`), which a `node`/`nodes` selection of both needs.
 */
const OWN_RECORD_NOTE = "Null (with an error) when it has to be read from the package's own record and that cannot be read.";

const field = <K extends keyof VirtualMachinePackageDto>(key: K) => (pkg: PackageModel, _args: unknown, context: GraphQLContext) =>
  chain(packageWith(pkg, context, (dto) => key in dto), (dto) => dto[key]);

export const PackagePrivacyEnum = builder.enumType('PackagePrivacy', {
  description: 'Who can use a package. Values Katapult adds later read as UNKNOWN.',
  values: {
    PUBLIC: { value: 'public', description: 'Anyone.' },
    PRIVATE: { value: 'private', description: 'Only organizations it was made for.' },
    UNKNOWN: { value: 'unknown', description: 'A value this gateway does not know yet.' },
  },
});

builder.node(VirtualMachinePackageRef, {
  description: 'A virtual machine package: a named size (CPU, memory, storage) VMs are built from.',
  id: { resolve: (pkg, _a, c) => chain(fullPackage(pkg, c), (d) => d.id), description: 'The Katapult id (`vmpkg_…`).' },
  fields: (t) => ({
    name: t.string({ description: 'Display name, e.g. "ROCK-3".', resolve: (pkg) => pkg.name }),
    permalink: t.string({ nullable: true, description: `Stable short name. ${OWN_RECORD_NOTE}`, resolve: field('permalink') }),
    cpuCores: t.int({ nullable: true, description: `CPU cores. ${OWN_RECORD_NOTE}`, resolve: field('cpu_cores') }),
    ipv4Addresses: t.int({ nullable: true, description: `IPv4 addresses included. ${OWN_RECORD_NOTE}`, resolve: field('ipv4_addresses') }),
    memoryInGb: t.int({ nullable: true, description: `Memory in GB. ${OWN_RECORD_NOTE}`, resolve: field('memory_in_gb') }),
    storageInGb: t.int({ nullable: true, description: `Storage in GB. ${OWN_RECORD_NOTE}`, resolve: field('storage_in_gb') }),
    monthlyBandwidthAllowanceInGb: t.int({ nullable: true, description: 'Monthly bandwidth allowance in GB; null when unmetered.', resolve: field('monthly_bandwidth_allowance_in_gb') }),
    privacy: t.field({
      type: PackagePrivacyEnum,
      description: 'Who can use the package.',
      // A list may leave it out (see shape.ts): UNKNOWN then would say Katapult sent a new value.
      resolve: (pkg, _a, c) => chain(packageWith(pkg, c, (d) => 'privacy' in d), (d) => (d.privacy === 'public' || d.privacy === 'private' ? d.privacy : 'unknown')),
    }),
    useDedicatedCpus: t.boolean({ nullable: true, description: `Whether VMs of this package get dedicated CPUs. ${OWN_RECORD_NOTE}`, resolve: field('use_dedicated_cpus') }),
    icon: t.field({
      type: PackageIconRef,
      nullable: true,
      description: 'Icon shown for the package.',
      resolve: (pkg, _a, c, info) => {
        // A list's icon may carry its URL only, or some of the file's details: all of them are
        // in the package's own record.
        const wantsFile = () => [...selectedFields(info, [])].some((name) => name !== 'url' && name !== '__typename');
        const hasFile = (icon: object) => 'file_name' in icon && 'file_type' in icon && 'file_size' in icon && 'digest' in icon;
        return chain(packageWith(pkg, c, (d) => 'icon' in d && (!d.icon || hasFile(d.icon) || !wantsFile())), (d) => d.icon ?? null);
      },
    }),
    group: t.field({ type: PackageGroupRef, nullable: true, description: 'The group the package belongs to; null when Katapult does not say.', resolve: field('group') }),
  }),
});

PackageGroupRef.implement({
  description: 'A family of packages, e.g. "Standard vCPU".',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The Katapult id (`vmpkgrp_…`).' }),
    name: t.exposeString('name', { description: 'Display name.' }),
  }),
});

PackageIconRef.implement({
  description: 'An image attached to a package.',
  fields: (t) => ({
    url: t.exposeString('url', { description: 'Where to load the image.' }),
    fileName: t.exposeString('file_name', { description: 'File name.' }),
    fileType: t.exposeString('file_type', { description: 'MIME type.' }),
    fileSize: t.exposeInt('file_size', { description: 'Size in bytes.' }),
    digest: t.exposeString('digest', { description: 'Content digest.' }),
  }),
});
