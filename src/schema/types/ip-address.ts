import type { IpAddressModel } from '../../data/models.js';
import { chain } from '../../data/pagination.js';
import type { IpAddressDto } from '../../upstream/dto.js';
import { builder, callOfParent, type GraphQLContext } from '../builder.js';
import { IPAddressRef } from './refs.js';
import { fullVirtualMachine } from './virtual-machine.js';

/** The VM list carries only the address; the rest comes from the VM itself (one Katapult call per VM, charged by the cost limit). */
const FROM_VM_RECORD = 'Not in Katapult\'s VM list: on a list, reading it costs one Katapult call per VM (its own record, shared with the VM\'s other such fields), which the query cost limit counts as 20 per VM.';
function fullAddress(ip: IpAddressModel, context: GraphQLContext) {
  if (ip.dto) return ip.dto;
  return chain(fullVirtualMachine(ip.vm, context), (vm) => {
    ip.dto = vm.virtual_machine.ip_addresses.find((candidate) => candidate.address === ip.address) ?? null;
    return ip.dto;
  });
}

const field = <K extends keyof IpAddressDto>(key: K) => (ip: IpAddressModel, _args: unknown, context: GraphQLContext) =>
  chain(fullAddress(ip, context), (dto) => (dto ? dto[key] : null));

IPAddressRef.implement({
  description: 'An IP address allocated to a virtual machine.',
  fields: (t) => ({
    address: t.exposeString('address', { description: 'The address, e.g. "185.44.253.225".' }),
    // A String, not an ID: Relay's compiler adds a type's `id: ID` to every selection of it, and this
    // one needs the VM's own record, so a Relay app's address list would cost a call per VM unasked.
    id: t.string({
      nullable: true,
      description: 'The Katapult id (`ip_…`). A String rather than an ID so that Relay does not select it on its own: it needs the VM\'s own record (one Katapult call per VM on a list).',
      extensions: callOfParent,
      resolve: field('id'),
    }),
    reverseDns: t.string({ nullable: true, description: 'Reverse DNS name. ' + FROM_VM_RECORD, extensions: callOfParent, resolve: field('reverse_dns') }),
    vip: t.boolean({ nullable: true, description: 'Whether it is a virtual IP. ' + FROM_VM_RECORD, extensions: callOfParent, resolve: field('vip') }),
    label: t.string({ nullable: true, description: 'Label. ' + FROM_VM_RECORD, extensions: callOfParent, resolve: field('label') }),
    addressWithMask: t.string({ nullable: true, description: 'The address in CIDR form. ' + FROM_VM_RECORD, extensions: callOfParent, resolve: field('address_with_mask') }),
  }),
});
