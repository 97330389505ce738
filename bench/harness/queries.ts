/**
 * The operations the bench sends. The gateway and the Apollo peer share one schema (the
 * Apollo peer implements the subset these use under the same names), so they get the same
 * text. Mesh exposes Katapult's REST operations as root fields, so its client asks for the
 * VM list, the data centers and the packages side by side and would join them itself.
 * P1b's generated operations are in varied.ts.
 */
export type Flavor = 'katapult' | 'mesh';

const ORG = (name: string) => `organization_LEFT_SQUARE_BRACE_sub_domain_RIGHT_SQUARE_BRACE_: "${name}"`;
const ANNOTATION_KEY = 'annotations_LEFT_SQUARE_BRACE__RIGHT_SQUARE_BRACE__LEFT_SQUARE_BRACE_key_RIGHT_SQUARE_BRACE_';
const on = (type: string, selection: string) => `... on ${type} { ${selection} }`;

const body = (query: string, variables?: Record<string, unknown>) => JSON.stringify(variables ? { query, variables } : { query });

const DASHBOARD_NODE = 'id name hostname zone { id name dataCenter { id name country { id name } } } package { name cpuCores memoryInGb } ipAddresses { address }';

/** The Katapult calls the dashboard needs cold: the VM page, the organization's package list and the data-center list. */
export const DASHBOARD_URLS = 3;

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
