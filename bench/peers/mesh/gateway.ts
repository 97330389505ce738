import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createGatewayRuntime, type GatewayPlugin } from '@graphql-hive/gateway-runtime';
import InMemoryLRUCache from '@graphql-mesh/cache-inmemory-lru';

/**
 * Hive Gateway serving a composed Mesh supergraph. As shipped it has no cache; with
 * `MESH_RESPONSE_CACHE=true` it caches whole responses per Authorization header for 20 s
 * (the gateway's VM-list TTL) and de-duplicates identical in-flight requests per token.
 *
 * The response cache takes the smallest `max-age` of the REST responses behind an answer, and
 * Katapult sends `max-age=0, private, must-revalidate` on everything, so enabled as documented
 * it stores nothing. The cached variant therefore rewrites that header on the way in to the
 * TTL we want, as a user wanting the cache to work would have to.
 */
const supergraphPath = process.env.SUPERGRAPH_PATH;
const port = Number(process.env.PORT ?? 4200);
const cached = process.env.MESH_RESPONSE_CACHE === 'true';
if (!supergraphPath) throw new Error('SUPERGRAPH_PATH is required');

const RESPONSE_TTL_MS = 20_000;

/** Replaces Katapult's `max-age=0` with the response-cache TTL before the cache plugin reads it. */
const useUpstreamCacheTtl = (): GatewayPlugin => ({
  onFetch({ fetchFn, setFetchFn }) {
    setFetchFn(async (...args: Parameters<typeof fetchFn>) => {
      const response = await fetchFn(...args);
      const headers = new Headers(response.headers);
      headers.set('cache-control', `private, max-age=${RESPONSE_TTL_MS / 1000}`);
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    });
  },
});

const gateway = createGatewayRuntime({
  supergraph: readFileSync(supergraphPath, 'utf8'),
  logging: 'error',
  graphqlEndpoint: '/graphql',
  ...(cached
    ? {
        cache: new InMemoryLRUCache(),
        responseCaching: { session: (request: Request) => request.headers.get('authorization'), ttl: RESPONSE_TTL_MS },
        inboundInflightRequestDeduplication: { shouldIncludeHeader: (name: string) => name.toLowerCase() === 'authorization' },
        plugins: () => [useUpstreamCacheTtl()],
      }
    : {}),
});

const server = createServer(gateway);
server.listen(port, '127.0.0.1', () => console.log(`hive gateway listening at http://127.0.0.1:${port}/graphql`));

const stop = () => {
  server.close();
  server.closeAllConnections();
  void Promise.resolve(gateway.dispose()).finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
