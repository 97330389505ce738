import { chain } from '../../data/pagination.js';
import { builder, callOfParent } from '../builder.js';
import { HypervisorRef } from './refs.js';
import { fullVirtualMachine } from './virtual-machine.js';

HypervisorRef.implement({
  description: 'The host a VM runs on. Katapult shows it only to some accounts.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Hypervisor id.' }),
    name: t.exposeString('name', { description: 'Hypervisor name.' }),
    // The same hypervisor must read the same wherever it is found (clients cache it by id),
    // so on a list its address comes from the VM's own record rather than reading as null.
    ipAddress: t.string({
      nullable: true,
      description: 'Management address, when shown. Not in Katapult\'s VM list: on a list, reading it costs one Katapult call per VM.',
      extensions: callOfParent,
      resolve: (h, _a, c) => ('ip_address' in h ? (h.ip_address ?? null) : chain(fullVirtualMachine(h.vm, c), (full) => full.virtual_machine.hypervisor?.ip_address ?? null)),
    }),
  }),
});

export { builder };
