import pino from 'pino';
import { createApp, DEADLINE_HEADER, type GatewayApp } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import type { Logger } from '../../src/logger.js';
import { createHttpServer, type GatewayHttpServer } from '../../src/server/http-server.js';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import type { FetchLike } from '../../src/upstream/http.js';

/**
 * Gateways for tests, wired the way `main.ts` wires them but with a silent logger and fixed
 * secrets: `createTestGateway` runs everything in-process (the simulator's fetch, yoga's
 * fetch, no port), `startLoopbackGateway` listens on real loopback ports as users run it.
 */

/** Fixed so cursors and cache keys are the same in every run. */
const TEST_SECRETS = {
  CURSOR_SECRET: 'test-cursor-secret-0123456789abcdef',
  CACHE_KEY_SECRET: 'test-cache-key-secret-0123456789ab',
};

/** The in-process simulator's base URL: nothing is sent anywhere, the simulator's fetch answers it. */
export const IN_PROCESS_BASE_URL = 'http://127.0.0.1/core/v1';

export interface GraphQLBody {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; path?: (string | number)[]; extensions?: Record<string, any> }>;
  extensions?: Record<string, unknown>;
}

export interface GatewayResponse {
  status: number;
  headers: Headers;
  body: GraphQLBody;
  /** The body exactly as sent, for "does not contain" checks. */
  text: string;
}

export interface QueryOptions {
  /** Sent as `Authorization: Bearer <token>`; no header when absent. */
  token?: string;
  variables?: Record<string, unknown>;
  /** Extra request headers (`cache-control`, `x-request-id`, `x-request-timeout-ms`, …). */
  headers?: Record<string, string>;
}

export interface TestGatewayOptions {
  /** Environment for `loadConfig`, over silent logging and fixed secrets. */
  env?: Record<string, string>;
  simulatorOptions?: SimulatorOptions;
  /** Shared by the gateway and (unless simulatorOptions.clock is set) the simulator. @default the system clock */
  clock?: Clock;
  /** Wraps the simulator's fetch, e.g. to answer some calls with canned bodies. */
  wrapFetch?: (simulatorFetch: FetchLike) => FetchLike;
  /** Base URL the gateway calls. @default IN_PROCESS_BASE_URL */
  upstreamBaseUrl?: string;
  /** @default a silent logger */
  logger?: Logger;
}

export interface TestGateway {
  app: GatewayApp;
  sim: Simulator;
  query(document: string, options?: QueryOptions): Promise<GatewayResponse>;
  close(): Promise<void>;
}

export const silentLogger = () => pino({ level: 'silent' });

export function testConfig(env: Record<string, string> = {}) {
  return loadConfig({ LOG_LEVEL: 'silent', ...TEST_SECRETS, ...env });
}

function requestHeaders(options: QueryOptions): Headers {
  const headers = new Headers({ 'content-type': 'application/json', accept: 'application/json' });
  if (options.token !== undefined) headers.set('authorization', `Bearer ${options.token}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
  return headers;
}

async function readResponse(response: Response): Promise<GatewayResponse> {
  const text = await response.text();
  let body: GraphQLBody;
  try {
    body = JSON.parse(text) as GraphQLBody;
  } catch {
    throw new Error(`the gateway answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body, text };
}

export function createTestGateway(options: TestGatewayOptions = {}): TestGateway {
  const sim = createSimulator({ ...(options.clock ? { clock: options.clock } : {}), ...options.simulatorOptions });
  const simulatorFetch: FetchLike = (input, init) => sim.fetch(input, init);
  const app = createApp({
    config: testConfig(options.env),
    fetch: options.wrapFetch ? options.wrapFetch(simulatorFetch) : simulatorFetch,
    upstreamBaseUrl: options.upstreamBaseUrl ?? IN_PROCESS_BASE_URL,
    logger: options.logger ?? silentLogger(),
    clock: options.clock,
  });

  async function query(document: string, queryOptions: QueryOptions = {}): Promise<GatewayResponse> {
    const headers = requestHeaders(queryOptions);
    const scope = app.createScope({
      authorization: headers.get('authorization'),
      cacheControl: headers.get('cache-control'),
      requestId: headers.get('x-request-id'),
      timeoutMs: headers.get(DEADLINE_HEADER),
    });
    const request = new Request('http://gateway/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: document, variables: queryOptions.variables ?? {} }),
    });
    return readResponse(await app.yoga.fetch(request, { scope }));
  }

  return { app, sim, query, close: () => app.close() };
}

export interface LoopbackGateway extends TestGateway {
  /** The gateway's own base URL, e.g. http://127.0.0.1:54321 (GraphQL at /graphql). */
  url: string;
  /** The simulator's base URL including /core/v1, as given to KATAPULT_API_URL. */
  upstreamUrl: string;
  server: GatewayHttpServer;
}

/**
 * The simulator and the gateway each on an ephemeral loopback port, the gateway pointed at
 * the simulator through KATAPULT_API_URL, and queries sent over HTTP.
 */
export async function startLoopbackGateway(options: Omit<TestGatewayOptions, 'wrapFetch' | 'upstreamBaseUrl'> = {}): Promise<LoopbackGateway> {
  const sim = createSimulator({ ...(options.clock ? { clock: options.clock } : {}), ...options.simulatorOptions });
  const { baseUrl } = await sim.listen({ port: 0, host: '127.0.0.1' });
  const config = testConfig({ ...options.env, KATAPULT_API_URL: baseUrl, HOST: '127.0.0.1', PORT: '0' });
  const app = createApp({ config, logger: silentLogger(), clock: options.clock });
  const server = createHttpServer({ app });
  const { url } = await server.listen(config.port, config.host);

  async function query(document: string, queryOptions: QueryOptions = {}): Promise<GatewayResponse> {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: requestHeaders(queryOptions),
      body: JSON.stringify({ query: document, variables: queryOptions.variables ?? {} }),
    });
    return readResponse(response);
  }

  return {
    app,
    sim,
    url,
    upstreamUrl: baseUrl,
    server,
    query,
    async close() {
      await server.shutdown(0);
      await sim.close();
    },
  };
}

/**
 * A `wrapFetch` that edits the simulator's successful JSON answers for paths matching `path` in
 * place: for the shapes Katapult's references allow and the simulator never sends.
 */
export function rewritingAnswers(path: RegExp, edit: (body: any, url: URL) => void): (simulator: FetchLike) => FetchLike {
  return (simulator) => async (input, init) => {
    const response = await simulator(input, init);
    const url = new URL(input);
    if (!response.ok || !path.test(url.pathname)) return response;
    const body = (await response.json()) as unknown;
    edit(body, url);
    return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
  };
}

/** Every error's `extensions.code`, in order. */
export const errorCodes = (body: GraphQLBody): string[] => (body.errors ?? []).map((e) => String(e.extensions?.code));

/** Upstream requests the simulator logged for one path (with or without the /core/v1 prefix). */
export function requestsTo(sim: Simulator, path: string) {
  const full = path.startsWith('/core/v1') ? path : `/core/v1${path}`;
  return sim.requests.filter((r) => r.path === full);
}

/** How many times each distinct upstream URL (path + query) was requested. */
export function callsPerUrl(sim: Simulator): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of sim.requests) {
    const url = r.query ? `${r.path}?${r.query}` : r.path;
    counts.set(url, (counts.get(url) ?? 0) + 1);
  }
  return counts;
}
