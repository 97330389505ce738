/** What a cached Katapult REST response describes; freshness is decided per kind. */
export type ResourceKind =
  | 'vmList'
  | 'vm'
  | 'organizations'
  | 'organization'
  | 'packages'
  | 'package'
  | 'zones'
  | 'dataCenters'
  | 'countries'
  | 'gpuTypes'
  | 'user';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/**
 * How long a response stays fresh, by what it describes.
 *
 * Catalogue data (packages, zones, data centers, countries, GPU types) is edited by Katapult
 * staff, not by the user, and changes on the scale of days; ten minutes keeps it almost free
 * while still picking up a new package the same hour. VM lists and single VMs change whenever
 * the user (or Katapult) starts, stops or builds a machine, and a dashboard polling a VM's
 * state must see the change quickly, so they stay fresh for only 20 s. Organizations and the
 * user change rarely but are the user's own data, so a minute bounds how long an edit made
 * elsewhere stays invisible.
 *
 * These match the gateway's configuration defaults; stale-while-revalidate and
 * stale-if-error add their own windows on top of every kind alike.
 */
export const DEFAULT_TTL_MS: Readonly<Record<ResourceKind, number>> = Object.freeze({
  vmList: 20 * SECOND,
  vm: 20 * SECOND,
  organizations: MINUTE,
  organization: MINUTE,
  user: MINUTE,
  packages: 10 * MINUTE,
  package: 10 * MINUTE,
  zones: 10 * MINUTE,
  dataCenters: 10 * MINUTE,
  countries: 10 * MINUTE,
  gpuTypes: 10 * MINUTE,
});
