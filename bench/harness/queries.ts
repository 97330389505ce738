/**
 * The operations the bench sends. The gateway and the Apollo peer share one schema (the
 * Apollo peer implements the subset these use under the same names), so they get the same
 * text. Mesh exposes Katapult's REST operations as root fields, so its client asks for the
 * VM list, the data centers and the packages side by side and would join them itself.
 */
export type Flavor = 'katapult' | 'mesh';

const ORG = (name: string) => `organization_LEFT_SQUARE_BRACE_sub_domain_RIGHT_SQUARE_BRACE_: "${name}"`;
const ANNOTATION_KEY = 'annotations_LEFT_SQUARE_BRACE__RIGHT_SQUARE_BRACE__LEFT_SQUARE_BRACE_key_RIGHT_SQUARE_BRACE_';
const on = (type: string, selection: string) => `... on ${type} { ${selection} }`;

const body = (query: string, variables?: Record<string, unknown>) => JSON.stringify(variables ? { query, variables } : { query });

const DASHBOARD_NODE = 'id name hostname zone { id name dataCenter { id name country { id name } } } package { name cpuCores memoryInGb } ipAddresses { address }';

/** The dashboard page: an organization's first VMs with zone, data center, country, package and addresses. */
export function dashboard(flavor: Flavor, organization: string, first = 30): string {
  if (flavor === 'katapult') {
    return body(`query Dashboard { organization(subDomain: "${organization}") { subDomain virtualMachines(first: ${first}) { totalCount edges { node { ${DASHBOARD_NODE} } } } } }`);
  }
  return body(
    `query Dashboard {
      vms: get_organization_virtual_machines(${ORG(organization)}, per_page: ${first}) { ${on('get_organization_virtual_machines_200_response', 'pagination { total } virtual_machines { id name hostname zone { id name data_center { id name } } package { name } ip_addresses { address } }')} }
      dcs: get_data_centers { ${on('get_data_centers_200_response', 'data_centers { id name country { id name } }')} }
      pkgs: get_virtual_machine_packages(${ORG(organization)}, per_page: 200) { ${on('get_virtual_machine_packages_200_response', 'virtual_machine_packages { name cpu_cores memory_in_gb }')} }
    }`,
  );
}

/** Five selections of the same page, from everything the dashboard shows down to names only. */
const SELECTIONS: ReadonlyArray<{ name: string; katapult: string; mesh: { vm: string; dataCenters?: string; packages?: string } }> = [
  {
    name: 'full',
    katapult: DASHBOARD_NODE,
    mesh: {
      vm: 'id name hostname zone { id name data_center { id name } } package { name } ip_addresses { address }',
      dataCenters: 'id name country { id name }',
      packages: 'name cpu_cores memory_in_gb',
    },
  },
  { name: 'names', katapult: 'id name hostname', mesh: { vm: 'id name hostname' } },
  {
    name: 'location',
    katapult: 'id name zone { name dataCenter { name country { name } } }',
    mesh: { vm: 'id name zone { name data_center { id name } }', dataCenters: 'id name country { name }' },
  },
  { name: 'size', katapult: 'id name package { name cpuCores memoryInGb }', mesh: { vm: 'id name package { name }', packages: 'name cpu_cores memory_in_gb' } },
  { name: 'network', katapult: 'id hostname ipAddresses { address } zone { id name }', mesh: { vm: 'id hostname ip_addresses { address } zone { id name }' } },
];

/** Window sizes; each is asked for on its first and its second page. */
export const VARIED_WINDOW_SIZES = [10, 20, 25, 30, 50] as const;

/** The cursor-fetching query for the second pages (gateway and Apollo flavour). */
export function firstPageEndCursor(organization: string, first: number): string {
  return body(`query FirstPage($first: Int!) { organization(subDomain: "${organization}") { virtualMachines(first: $first) { pageInfo { endCursor } } } }`, { first });
}

/**
 * 50 distinct operations (5 selections × 5 window sizes × 2 pages). For the gateway and Apollo
 * the second pages need the end cursor of the first page of that size, fetched from the system itself.
 */
export function variedOperations(flavor: Flavor, organization: string, endCursors: ReadonlyMap<number, string>): string[] {
  const out: string[] = [];
  for (const selection of SELECTIONS) {
    for (const first of VARIED_WINDOW_SIZES) {
      for (const page of [1, 2]) {
        if (flavor === 'katapult') {
          const after = page === 1 ? null : (endCursors.get(first) ?? null);
          if (page === 2 && after === null) throw new Error(`no end cursor for first: ${first}`);
          out.push(
            body(
              `query Varied_${selection.name}($first: Int!, $after: String) { organization(subDomain: "${organization}") { virtualMachines(first: $first, after: $after) { edges { node { ${selection.katapult} } } } } }`,
              { first, after },
            ),
          );
        } else {
          const { vm, dataCenters, packages } = selection.mesh;
          const fields = [
            `vms: get_organization_virtual_machines(${ORG(organization)}, per_page: $perPage, page: $page) { ${on('get_organization_virtual_machines_200_response', `virtual_machines { ${vm} }`)} }`,
            dataCenters ? `dcs: get_data_centers { ${on('get_data_centers_200_response', `data_centers { ${dataCenters} }`)} }` : '',
            packages ? `pkgs: get_virtual_machine_packages(${ORG(organization)}, per_page: 200) { ${on('get_virtual_machine_packages_200_response', `virtual_machine_packages { ${packages} }`)} }` : '',
          ];
          out.push(body(`query Varied_${selection.name}($perPage: PositiveInt!, $page: PositiveInt!) { ${fields.join(' ')} }`, { perPage: first, page }));
        }
      }
    }
  }
  return out;
}

/** One window of a cursor walk (gateway/Apollo) or one page (Mesh, which has no cursors). */
export function traversalStep(flavor: Flavor, organization: string, size: number, position: { after: string | null; page: number }): string {
  if (flavor === 'katapult') {
    return body(
      `query Walk($after: String) { organization(subDomain: "${organization}") { virtualMachines(first: ${size}, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id } } } } }`,
      { after: position.after },
    );
  }
  return body(
    `query Walk($page: PositiveInt!) { vms: get_organization_virtual_machines(${ORG(organization)}, per_page: ${size}, page: $page) { ${on('get_organization_virtual_machines_200_response', 'virtual_machines { id }')} } }`,
    { page: position.page },
  );
}

/** A cheap call that makes a token known upstream without warming anything the dashboard reads. */
export function probe(flavor: Flavor): string {
  return flavor === 'katapult' ? body('query Probe { organizations { id } }') : body(`query Probe { get_organizations { ${on('get_organizations_200_response', 'organizations { id }')} } }`);
}

/** A query needing exactly one REST call of its own: the VM list filtered by a made-up annotation. */
export function distinctListCall(flavor: Flavor, organization: string, key: string): string {
  if (flavor === 'katapult') {
    return body(`query Burst($key: String!) { organization(subDomain: "${organization}") { virtualMachines(first: 1, annotations: [{ key: $key }]) { edges { node { id } } } } }`, { key });
  }
  return body(
    `query Burst($key: [String]) { vms: get_organization_virtual_machines(${ORG(organization)}, per_page: 1, ${ANNOTATION_KEY}: $key) { ${on('get_organization_virtual_machines_200_response', 'virtual_machines { id }')} } }`,
    { key: [key] },
  );
}

/** The organizations list, the second warm page per token in the memory scenario. */
export function organizationsList(): string {
  return body('query Organizations { organizations { id name } }');
}
