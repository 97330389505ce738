import { writeFileSync } from 'node:fs';
import { getComposedSchemaFromConfig } from '@graphql-mesh/compose-cli';
import { DefaultLogger } from '@graphql-mesh/utils';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

/**
 * Composes a Mesh supergraph from Katapult's OpenAPI document, every operation pointed at the
 * given endpoint, with the client's Authorization header forwarded on each REST call.
 * Usage: compose.ts <openapi.json> <endpoint> <output.graphql>
 */
const [source, endpoint, output] = process.argv.slice(2);
if (!source || !endpoint || !output) throw new Error('usage: compose.ts <openapi.json> <endpoint> <output.graphql>');

const supergraph = await getComposedSchemaFromConfig(
  {
    subgraphs: [
      {
        sourceHandler: loadOpenAPISubgraph('Katapult', {
          source,
          endpoint,
          operationHeaders: { Authorization: '{context.headers.authorization}' },
        }),
      },
    ],
  },
  new DefaultLogger('mesh-compose'),
);
writeFileSync(output, supergraph);
console.log(`composed ${supergraph.length} bytes`);
