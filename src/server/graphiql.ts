export interface GraphiQLPageOptions {
  /** Where GraphiQL sends operations, as the browser sees it, e.g. `/graphql`. */
  endpoint: string;
  /** Token pre-filled in the headers editor (embedded-simulator mode). @default a placeholder asking for a Katapult token */
  demoToken?: string;
  /** Operation shown in the first tab. @default DASHBOARD_QUERY */
  defaultQuery?: string;
  /** Browser tab title. @default 'Katapult gateway' */
  title?: string;
}

/** What a dashboard's first screen asks for: one organization's VMs with where they run and how big they are. */
export const DASHBOARD_QUERY = `query Dashboard {
  organization(subDomain: "globex") {
    name
    virtualMachines(first: 10) {
      totalCount
      edges {
        node {
          name
          state
          zone {
            name
            dataCenter {
              name
              country {
                name
              }
            }
          }
          package {
            name
            cpuCores
            memoryInGb
          }
          ipAddresses {
            address
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
}
`;

/**
 * Text that would end the inline `<script>` (or `<title>`) the options are written into.
 * The page inlines them as JSON without HTML escaping, so such values are refused rather
 * than allowed to inject markup.
 */
const BREAKS_OUT_OF_SCRIPT = /<\/|<!--/;

/**
 * The GraphiQL page as one self-contained HTML document. GraphiQL, its styles and Monaco's
 * workers are inlined (workers start from blob: URLs), so the page works with no internet
 * access; yoga's built-in page would load them from a CDN instead.
 *
 * The page is about 9 MB and depends only on the options, so render it once per process and
 * serve the same string. The bundle is imported on the first render, not at start-up: loaded,
 * it holds some 30 MB of heap, which a gateway whose users never open GraphiQL (or that runs
 * with it switched off) should not carry.
 */
export async function renderGraphiQL(options: GraphiQLPageOptions): Promise<string> {
  const { endpoint, demoToken, defaultQuery = DASHBOARD_QUERY, title = 'Katapult gateway' } = options;
  for (const [name, value] of Object.entries({ endpoint, demoToken, defaultQuery, title })) {
    if (value !== undefined && BREAKS_OUT_OF_SCRIPT.test(value)) {
      throw new RangeError(`renderGraphiQL: ${name} must not contain "</" or "<!--", got ${JSON.stringify(value)}`);
    }
  }
  const { renderGraphiQL: renderYogaGraphiQL } = await import('@graphql-yoga/render-graphiql');
  const headers = JSON.stringify({ Authorization: `Bearer ${demoToken ?? '<your Katapult API token>'}` }, null, 2);
  return renderYogaGraphiQL({
    endpoint,
    title,
    defaultQuery,
    headers,
    defaultHeaders: headers,
    // A real token typed into the editor must not outlive the tab in localStorage.
    shouldPersistHeaders: false,
    // Open on the headers tab: without a token every query fails, so show where it goes.
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
  });
}
