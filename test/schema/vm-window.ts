/** One window of an organization's VM list, with everything the pagination tests compare. */
export const WINDOW = /* GraphQL */ `
  query Window($sub: String!, $first: Int, $after: String, $last: Int, $before: String) {
    organization(subDomain: $sub) {
      virtualMachines(first: $first, after: $after, last: $last, before: $before) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id } }
      }
    }
  }
`;

export interface Connection {
  totalCount: number | null;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  edges: Array<{ cursor: string; node: { id: string } }>;
}
