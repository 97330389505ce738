import type { Flavor } from './queries.js';
import { createRandom } from '../../src/simulator/random.js';

/**
 * P1b's workload: warm REST data, and a request body that is never sent twice, so that no
 * finished-response cache (ours, Apollo's plugin, Hive's) can answer any of them.
 *
 * A request is one of 256 selections (every subset of eight optional parts of the VM list,
 * `id` always) over one window of acme's VMs. A window is `first` (1..100) items starting at
 * a multiple of `first` (at least one window in, so every window starts from an `after`
 * cursor): page-aligned, which is what the Apollo peer's page/per_page mapping accepts and
 * what Mesh's page/per_page expresses, so every system gets the same windows. The gateway
 * accepts any start; it reads every window out of the same seven 200-item upstream pages.
 *
 * The request sequence pairs window `n mod W` with a selection that also changes with every
 * request (a bijection of [0, W × 256) as long as W is even), so any prefix of the sequence is
 * spread over all windows and selections, and no pair comes twice until W × 256 requests.
 */
export const SELECTION_PARTS = 8;
export const SELECTION_COUNT = 1 << SELECTION_PARTS;
/** The largest window; Katapult and the gateway both cap `first`/`per_page` at 100 here. */
export const MAX_WINDOW = 100;
/** The operation name of every measured request (the warm-ups use others). */
export const VARIED_OPERATION = 'P1bVaried';

export interface VariedWindow {
  first: number;
  /** Offset of the window's first item: a positive multiple of `first`. */
  start: number;
}

/** Everything the load generator needs to produce the sequence (plain JSON: it crosses a process boundary). */
export interface VariedWorkload {
  flavor: Flavor;
  organization: string;
  windows: VariedWindow[];
  /** Katapult flavour: the cursor of every item of the list, by offset (`after` = cursors[start − 1]). */
  cursors: string[] | null;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** How many distinct page-aligned windows (start ≥ first) a list of `listSize` items has. */
export function availableWindows(listSize: number): number {
  let n = 0;
  for (let first = 1; first <= MAX_WINDOW; first++) n += Math.max(0, Math.ceil(listSize / first) - 1);
  return n;
}

/**
 * How many windows a phase needs so that even a system answering `maxRequestsPerSec` never
 * comes back to a pair: W × 256 ≥ rate × seconds, W even, at least `minimum`.
 */
export function windowsNeeded(seconds: number, maxRequestsPerSec = 20_000, minimum = 400): number {
  const w = Math.max(minimum, Math.ceil((maxRequestsPerSec * seconds) / SELECTION_COUNT));
  return w + (w % 2);
}

/**
 * `count` distinct windows (an even number), the sizes taken round-robin so every size from
 * 1 to 100 is about equally represented, starts drawn at random among each size's multiples.
 */
export function variedWindows(listSize: number, count: number, seed = 20261123): VariedWindow[] {
  const random = createRandom(seed);
  const starts = new Map<number, number[]>();
  for (let first = 1; first <= MAX_WINDOW; first++) {
    const own: number[] = [];
    for (let start = first; start < listSize; start += first) own.push(start);
    starts.set(first, shuffle(own, random));
  }
  const sizes = shuffle(Array.from({ length: MAX_WINDOW }, (_, i) => i + 1), random);
  const out: VariedWindow[] = [];
  for (let progressed = true; progressed && out.length < count; ) {
    progressed = false;
    for (const first of sizes) {
      if (out.length >= count) break;
      const start = starts.get(first)!.pop();
      if (start === undefined) continue;
      out.push({ first, start });
      progressed = true;
    }
  }
  if (out.length % 2 === 1) out.pop();
  return shuffle(out, random);
}

interface Part {
  katapult: { node?: string; zone?: string; connection?: string };
  mesh: { vm?: string; zone?: string; list?: string; dataCenters?: string; packages?: string };
}

/** The optional parts; a selection is a bit mask over them. */
const PARTS: readonly Part[] = [
  { katapult: { node: 'name' }, mesh: { vm: 'name' } },
  { katapult: { node: 'hostname' }, mesh: { vm: 'hostname' } },
  { katapult: { node: 'fqdn' }, mesh: { vm: 'fqdn' } },
  { katapult: { zone: 'id name' }, mesh: { zone: 'id name' } },
  { katapult: { zone: 'dataCenter { id name country { id name } }' }, mesh: { zone: 'data_center { id name }', dataCenters: 'id name country { id name }' } },
  { katapult: { node: 'package { name cpuCores memoryInGb }' }, mesh: { vm: 'package { name }', packages: 'name cpu_cores memory_in_gb' } },
  { katapult: { node: 'ipAddresses { address }' }, mesh: { vm: 'ip_addresses { address }' } },
  { katapult: { connection: 'totalCount pageInfo { hasNextPage endCursor }' }, mesh: { list: 'pagination { total total_pages current_page }' } },
];

const ORG = (name: string) => `organization_LEFT_SQUARE_BRACE_sub_domain_RIGHT_SQUARE_BRACE_: "${name}"`;
const on = (type: string, selection: string) => `... on ${type} { ${selection} }`;
const pick = <K extends string>(mask: number, side: (p: Part) => Partial<Record<K, string>>, key: K) =>
  PARTS.flatMap((p, bit) => (mask & (1 << bit) && side(p)[key] ? [side(p)[key]!] : []));

/** The measured document for one selection. */
export function variedDocument(flavor: Flavor, organization: string, mask: number, operationName = VARIED_OPERATION): string {
  if (flavor === 'katapult') {
    const zone = pick(mask, (p) => p.katapult, 'zone');
    const node = ['id', ...pick(mask, (p) => p.katapult, 'node'), ...(zone.length ? [`zone { ${zone.join(' ')} }`] : [])];
    const connection = pick(mask, (p) => p.katapult, 'connection');
    return `query ${operationName}($first: Int!, $after: String) { organization(subDomain: "${organization}") { virtualMachines(first: $first, after: $after) { ${[...connection, `edges { node { ${node.join(' ')} } }`].join(' ')} } } }`;
  }
  const zone = pick(mask, (p) => p.mesh, 'zone');
  const vm = ['id', ...pick(mask, (p) => p.mesh, 'vm'), ...(zone.length ? [`zone { ${zone.join(' ')} }`] : [])];
  const list = [...pick(mask, (p) => p.mesh, 'list'), `virtual_machines { ${vm.join(' ')} }`];
  const dataCenters = pick(mask, (p) => p.mesh, 'dataCenters');
  const packages = pick(mask, (p) => p.mesh, 'packages');
  const fields = [
    `vms: get_organization_virtual_machines(${ORG(organization)}, per_page: $perPage, page: $page) { ${on('get_organization_virtual_machines_200_response', list.join(' '))} }`,
    ...(dataCenters.length ? [`dcs: get_data_centers { ${on('get_data_centers_200_response', `data_centers { ${dataCenters.join(' ')} }`)} }`] : []),
    ...(packages.length ? [`pkgs: get_virtual_machine_packages(${ORG(organization)}, per_page: 200) { ${on('get_virtual_machine_packages_200_response', `virtual_machine_packages { ${packages.join(' ')} }`)} }`] : []),
  ];
  return `query ${operationName}($perPage: PositiveInt!, $page: PositiveInt!) { ${fields.join(' ')} }`;
}

/** The variables that select a window, in each flavour's terms. */
export function windowVariables(workload: Pick<VariedWorkload, 'flavor' | 'cursors'>, window: VariedWindow): Record<string, unknown> {
  if (workload.flavor === 'mesh') return { perPage: window.first, page: window.start / window.first + 1 };
  const after = window.start === 0 ? null : workload.cursors?.[window.start - 1];
  if (after === undefined) throw new Error(`no cursor for offset ${window.start - 1}`);
  return { first: window.first, after };
}

/** A full request body. */
export function variedBody(workload: VariedWorkload, mask: number, window: VariedWindow, operationName = VARIED_OPERATION): string {
  return JSON.stringify({ operationName, query: variedDocument(workload.flavor, workload.organization, mask, operationName), variables: windowVariables(workload, window) });
}

/** Every part: what the window warm-up asks for, so every REST response any selection needs is cached. */
export const FULL_SELECTION = SELECTION_COUNT - 1;

/**
 * The sequence, for the load generator: `next()` never returns the same body twice within
 * `capacity` calls; past that it wraps around and counts the repeats in `overflow`.
 */
export function createVariedSequence(workload: VariedWorkload): { next(): string; readonly generated: number; readonly overflow: number; readonly capacity: number } {
  const w = workload.windows.length;
  if (w === 0 || w % 2 !== 0) throw new Error(`P1b needs an even, non-zero number of windows, got ${w}`);
  const capacity = w * SELECTION_COUNT;
  // Each document's fixed head, so a body costs one small JSON.stringify of its variables.
  const heads = Array.from({ length: SELECTION_COUNT }, (_, mask) =>
    `{"operationName":${JSON.stringify(VARIED_OPERATION)},"query":${JSON.stringify(variedDocument(workload.flavor, workload.organization, mask))},"variables":`,
  );
  const variables = workload.windows.map((window) => JSON.stringify(windowVariables(workload, window)));
  let n = 0;
  let overflow = 0;
  return {
    next() {
      if (n >= capacity) overflow++;
      const k = n % capacity;
      n++;
      const window = k % w;
      const selection = (Math.floor(k / w) * (w + 1) + window) % SELECTION_COUNT;
      return `${heads[selection]}${variables[window]}}`;
    },
    get generated() {
      return n;
    },
    get overflow() {
      return overflow;
    },
    capacity,
  };
}

/** One step of the listing walk that collects every item's cursor (and warms the list's pages). */
export function listingStep(flavor: Flavor, organization: string, size: number, position: { after: string | null; page: number }): string {
  if (flavor === 'katapult') {
    return JSON.stringify({
      operationName: 'P1bListing',
      query: `query P1bListing($first: Int!, $after: String) { organization(subDomain: "${organization}") { virtualMachines(first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { cursor node { id } } } } }`,
      variables: { first: size, after: position.after },
    });
  }
  return JSON.stringify({
    operationName: 'P1bListing',
    query: `query P1bListing($perPage: PositiveInt!, $page: PositiveInt!) { vms: get_organization_virtual_machines(${ORG(organization)}, per_page: $perPage, page: $page) { ${on('get_organization_virtual_machines_200_response', 'virtual_machines { id }')} } }`,
    variables: { perPage: size, page: position.page },
  });
}
