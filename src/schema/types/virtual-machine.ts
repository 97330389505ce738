import { nullIfNotFound } from '../../data/katapult-data.js';
import type { MaybePromise } from '../../data/katapult-source.js';
import { virtualMachineFromFull, zoneModel, gpuTypeModel, packageModel, type VirtualMachineModel } from '../../data/models.js';
import { chain } from '../../data/pagination.js';
import { InvalidInputError } from '../../data/errors.js';
import type { VirtualMachineResponseDto, VirtualMachineStateDto } from '../../upstream/dto.js';
import { builder, callPerObject, distinctObjects, fromUnixSeconds, ORGANIZATIONS_PRICED_AS, type GraphQLContext } from '../builder.js';
import { GpuTypeRef, HypervisorRef, IPAddressRef, OrganizationRef, VirtualMachinePackageRef, VirtualMachineRef, ZoneRef } from './refs.js';

/** For the fields Katapult's VM list does not carry: a client paging a long list should know the price. */
const FULL_RECORD_NOTE =
  'Not in Katapult\'s VM list: on a list, reading it costs one Katapult call per VM (each cached like any other), which the query cost limit counts as 20 per VM.';

const STATES: readonly VirtualMachineStateDto[] = [
  'stopped', 'failed', 'started', 'starting', 'allocated', 'allocating', 'resetting',
  'migrating', 'stopping', 'shutting_down', 'transferring', 'orphaned',
];

export const VirtualMachineStateEnum = builder.enumType('VirtualMachineState', {
  description: 'The power/lifecycle state of a virtual machine. States Katapult adds later read as UNKNOWN.',
  values: {
    ...Object.fromEntries(STATES.map((state) => [state.toUpperCase(), { value: state, description: `Katapult state \`${state}\`.` }])),
    UNKNOWN: { value: 'unknown', description: 'A state this gateway does not know yet.' },
  } as Record<string, { value: string; description: string }>,
});

/** The full VM, fetched once per request and remembered on the model. */
export function fullVirtualMachine(vm: VirtualMachineModel, context: GraphQLContext): MaybePromise<VirtualMachineResponseDto> {
  if (vm.full) return vm.full;
  return chain(context.data.virtualMachine({ id: vm.id }), (full) => (vm.full = full));
}

const fromFull = <T>(vm: VirtualMachineModel, context: GraphQLContext, pick: (full: VirtualMachineResponseDto) => T): MaybePromise<T> =>
  chain(fullVirtualMachine(vm, context), pick);

builder.node(VirtualMachineRef, {
  description: 'A virtual machine in a Katapult organization.',
  id: { resolve: (vm) => vm.id, description: 'The Katapult id (`vm_…`).' },
  fields: (t) => ({
    name: t.string({ description: 'Display name.', resolve: (vm, _a, c) => (vm.list ? vm.list.name : fromFull(vm, c, (f) => f.virtual_machine.name)) }),
    hostname: t.string({ description: 'Host name.', resolve: (vm, _a, c) => (vm.list ? vm.list.hostname : fromFull(vm, c, (f) => f.virtual_machine.hostname)) }),
    fqdn: t.string({ description: 'Fully qualified domain name.', resolve: (vm, _a, c) => (vm.list ? vm.list.fqdn : fromFull(vm, c, (f) => f.virtual_machine.fqdn)) }),
    createdAt: t.field({
      type: 'DateTime',
      description: 'When the VM was created.',
      resolve: (vm, _a, c) => (vm.list ? fromUnixSeconds(vm.list.created_at)! : fromFull(vm, c, (f) => fromUnixSeconds(f.virtual_machine.created_at)!)),
    }),
    description: t.string({ nullable: true, description: 'Free-text description. ' + FULL_RECORD_NOTE, extensions: callPerObject, resolve: (vm, _a, c) => fromFull(vm, c, (f) => f.virtual_machine.description) }),
    state: t.field({
      type: VirtualMachineStateEnum,
      nullable: true,
      description: 'Current state. ' + FULL_RECORD_NOTE,
      extensions: callPerObject,
      // The answer check lets a null through (the field is nullable): no state is not a new one.
      resolve: (vm, _a, c) => fromFull(vm, c, ({ virtual_machine: { state } }) => (state == null ? null : STATES.includes(state) ? state : 'unknown')),
    }),
    cpuCores: t.int({ nullable: true, description: 'Number of CPU cores. ' + FULL_RECORD_NOTE, extensions: callPerObject, resolve: (vm, _a, c) => fromFull(vm, c, (f) => f.virtual_machine.cpu_cores) }),
    memoryInGb: t.int({ nullable: true, description: 'Memory in GB. ' + FULL_RECORD_NOTE, extensions: callPerObject, resolve: (vm, _a, c) => fromFull(vm, c, (f) => f.virtual_machine.memory_in_gb) }),
    useDedicatedCpus: t.boolean({ nullable: true, description: 'Whether the CPUs are dedicated to this VM. ' + FULL_RECORD_NOTE, extensions: callPerObject, resolve: (vm, _a, c) => fromFull(vm, c, (f) => f.virtual_machine.use_dedicated_cpus) }),
    tagNames: t.stringList({ nullable: true, description: 'Names of the tags on this VM. ' + FULL_RECORD_NOTE, extensions: callPerObject, resolve: (vm, _a, c) => fromFull(vm, c, (f) => f.virtual_machine.tag_names) }),
    annotations: t.field({
      type: [AnnotationRef],
      nullable: true,
      description: 'Key/value annotations set on the VM. ' + FULL_RECORD_NOTE,
      extensions: callPerObject,
      resolve: (vm, _a, c) => fromFull(vm, c, (f) => f.annotations),
    }),
    zone: t.field({
      type: ZoneRef,
      description: 'The zone the VM runs in.',
      resolve: (vm, _a, c) => (vm.list ? zoneModel(vm.list.zone) : fromFull(vm, c, (f) => zoneModel(f.virtual_machine.zone))),
    }),
    package: t.field({
      type: VirtualMachinePackageRef,
      nullable: true,
      description: 'The package (size) the VM was built from.',
      resolve: (vm, _a, c) => {
        if (vm.list) return vm.list.package ? { name: vm.list.package.name, organization: vm.organization, dto: null, virtualMachineId: vm.id } : null;
        return fromFull(vm, c, (f) => (f.virtual_machine.package ? packageModel(f.virtual_machine.package, true) : null));
      },
    }),
    gpuType: t.field({
      type: GpuTypeRef,
      nullable: true,
      description: 'The GPU type attached, if any.',
      resolve: (vm, _a, c) => {
        if (vm.list) return vm.list.gpu_type ? gpuTypeModel(vm.list.gpu_type) : null;
        return fromFull(vm, c, (f) => (f.virtual_machine.gpu_type ? gpuTypeModel(f.virtual_machine.gpu_type) : null));
      },
    }),
    ipAddresses: t.field({
      type: [IPAddressRef],
      description: 'IP addresses allocated to the VM.',
      resolve: (vm, _a, c) => {
        if (vm.list) return vm.list.ip_addresses.map((ip) => ({ address: ip.address, dto: null, vm }));
        return fromFull(vm, c, (f) => f.virtual_machine.ip_addresses.map((ip) => ({ address: ip.address, dto: ip, vm })));
      },
    }),
    hypervisor: t.field({
      type: HypervisorRef,
      nullable: true,
      description: 'The hypervisor the VM runs on. Katapult shows it only to some accounts; usually null.',
      // Katapult puts `hypervisor` in the list for exactly the accounts it shows it to in the
      // single VM, so a list item without it means null: no per-VM call to find that out.
      resolve: (vm, _a, c) => {
        if (vm.list) return vm.list.hypervisor ? { id: vm.list.hypervisor.id, name: vm.list.hypervisor.name, vm } : null;
        return fromFull(vm, c, (f) => (f.virtual_machine.hypervisor ? { ...f.virtual_machine.hypervisor, vm } : null));
      },
    }),
    organization: t.field({
      type: OrganizationRef,
      // A page's VMs share their organization, read once per request: priced once, not per VM.
      extensions: distinctObjects(ORGANIZATIONS_PRICED_AS),
      // Nullable: on a VM from a list its fields other than the id need the organization's own
      // record, another call (and the organizations:read scope); one failure of that call must
      // not null out the VM, and with it the whole page.
      nullable: true,
      description: 'The organization that owns the VM. Null (with an error) when a field asked for needs the organization\'s own record and it cannot be read (the token may lack organizations:read).',
      resolve: (vm, _a, c) =>
        vm.full
          ? { lookup: { id: vm.full.virtual_machine.organization.id }, dto: vm.full.virtual_machine.organization }
          : vm.organization
            ? { lookup: vm.organization, dto: null }
            : fromFull(vm, c, (f) => ({ lookup: { id: f.virtual_machine.organization.id }, dto: f.virtual_machine.organization })),
    }),
  }),
});

export const AnnotationRef = builder.objectRef<{ key: string; value: string | null }>('Annotation');
AnnotationRef.implement({
  description: 'A key/value annotation on a VM.',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'Annotation key.' }),
    value: t.exposeString('value', { nullable: true, description: 'Annotation value.' }),
  }),
});

builder.queryField('virtualMachine', (t) =>
  t.field({
    type: VirtualMachineRef,
    nullable: true,
    description: 'One virtual machine, by id or by FQDN (exactly one). Null when it does not exist or is in the trash.',
    args: {
      id: t.arg.id({ description: 'Katapult id (`vm_…`).' }),
      fqdn: t.arg.string({ description: 'Fully qualified domain name.' }),
    },
    resolve: (_root, args, context) => {
      if ((args.id == null) === (args.fqdn == null)) throw new InvalidInputError('Pass exactly one of "id" or "fqdn"', 'id');
      const lookup = args.id != null ? { id: String(args.id) } : { fqdn: args.fqdn! };
      return chain(nullIfNotFound(() => context.data.virtualMachine(lookup)), (full) => (full ? virtualMachineFromFull(full) : null));
    },
  }),
);
