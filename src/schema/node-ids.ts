/**
 * Katapult ids are type-prefixed (`vm_…`, `org_…`), so an id alone says which GraphQL type it
 * names. Used by `node(id:)` and by the Node interface's type resolution.
 */
export const NODE_PREFIXES: ReadonlyArray<readonly [prefix: string, typename: string]> = [
  ['vm_', 'VirtualMachine'],
  ['org_', 'Organization'],
  ['zone_', 'Zone'],
  ['dc_', 'DataCenter'],
  ['loc_', 'DataCenter'],
  ['ctry_', 'Country'],
  ['vmpkg_', 'VirtualMachinePackage'],
  ['gput_', 'GpuType'],
];

/** Prefixes Katapult uses for objects that are not nodes here (IP addresses, networks, subnets, package groups, currencies). */
const OTHER_PREFIXES = ['ip_', 'netw_', 'sbnt_', 'vmpkgrp_', 'cur_'];

/** The shape of a Katapult id (`prefix_` and letters and digits). */
const KATAPULT_ID = /^[a-z]+_[A-Za-z0-9]+$/;

/**
 * Whether an id of no known node prefix could still be a GPU type's: Katapult's reference
 * records no GPU type id, so the `gput_` prefix the simulator uses is a guess.
 */
export function mayBeGpuTypeId(id: string): boolean {
  return typeForId(id) === null && KATAPULT_ID.test(id) && !OTHER_PREFIXES.some((prefix) => id.startsWith(prefix));
}

/** The GraphQL type a Katapult id names; null when the prefix is unknown. */
export function typeForId(id: string): string | null {
  return NODE_PREFIXES.find(([prefix]) => id.startsWith(prefix))?.[1] ?? null;
}

/** The Katapult id a node model carries (every model `node` returns has one). */
export function idOfModel(model: unknown): string | null {
  const value = model as { id?: unknown; lookup?: { id?: unknown }; dto?: { id?: unknown } | null };
  const id = value.id ?? value.lookup?.id ?? value.dto?.id;
  return typeof id === 'string' ? id : null;
}
