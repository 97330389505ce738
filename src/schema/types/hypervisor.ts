import { builder } from '../builder.js';
import { HypervisorRef } from './refs.js';

HypervisorRef.implement({
  description: 'The host a VM runs on. Katapult shows it only to some accounts.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Hypervisor id.' }),
    name: t.exposeString('name', { description: 'Hypervisor name.' }),
    ipAddress: t.string({ nullable: true, description: 'Management address, when shown.', resolve: (h) => h.ip_address ?? null }),
  }),
});

export { builder };
