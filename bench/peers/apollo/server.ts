import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import { startStandaloneServer } from '@apollo/server/standalone';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { KatapultAPI } from './katapult-api.js';
import { resolvers, typeDefs, type Context } from './schema.js';

/**
 * Apollo Server over Katapult with RESTDataSource, as its documentation suggests writing it.
 * `APOLLO_RESPONSE_CACHE=true` adds the full-response cache plugin, keyed per token (every
 * answer is PRIVATE, 20 s like the VM list).
 */
const baseURL = process.env.KATAPULT_API_URL;
const port = Number(process.env.PORT ?? 4100);
const withResponseCache = process.env.APOLLO_RESPONSE_CACHE === 'true';
if (!baseURL) throw new Error('KATAPULT_API_URL is required');

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const tokenOf = (header: string | string[] | undefined) => BEARER.exec(Array.isArray(header) ? (header[0] ?? '') : (header ?? ''))?.[1] ?? null;

const plugins: ApolloServerPlugin<Context>[] = [ApolloServerPluginCacheControl({ defaultMaxAge: 20, calculateHttpHeaders: false })];
if (withResponseCache) {
  plugins.push(responseCachePlugin({ sessionId: async ({ request }) => tokenOf(request.http?.headers.get('authorization') ?? undefined) }));
}

const server = new ApolloServer<Context>({ typeDefs, resolvers, plugins });
const { url } = await startStandaloneServer(server, {
  listen: { port, host: '127.0.0.1' },
  context: async ({ req }) => {
    const token = tokenOf(req.headers.authorization);
    if (!token) throw new Error('Authorization: Bearer <token> is required');
    return { katapult: new KatapultAPI({ baseURL, token, cache: server.cache }) };
  },
});
console.log(`apollo listening at ${url}`);

const stop = () => void server.stop().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
