import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { closedAfterEach } from '../helpers/closed-after-each.js';
import { createApp, type GatewayApp } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createHttpServer, type FastPath, type GatewayHttpServer, type OnGraphQLEnd, type OnGraphQLResult } from '../../src/server/http-server.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';

/**
 * A gateway on a loopback port in front of an in-process simulator, with its log records
 * captured as text. Scenario helpers for the production-surface tests.
 */
export interface TestGateway {
  url: string;
  endpoint: string;
  app: GatewayApp;
  simulator: Simulator;
  /** The HTTP edge itself. */
  http: GatewayHttpServer;
  /** Every log record written so far, one JSON line each. */
  logs: string[];
  /** Graceful shutdown with `graceMs` for requests in flight (default 0), then the simulator. */
  close(graceMs?: number): Promise<void>;
}

export interface TestGatewayOptions {
  env?: Record<string, string>;
  clock?: Clock;
  simulator?: Simulator;
  /** Katapult base URL; by default the simulator in-process (no port). */
  upstreamBaseUrl?: string;
  fastPath?: FastPath;
  onGraphQLResult?: OnGraphQLResult;
  onGraphQLEnd?: OnGraphQLEnd;
}

/**
 * Starts gateways that are closed after each test of the calling file; call it once, at the
 * top of the file. `defaults` apply to every gateway it starts (an `env` is merged).
 */
export function gatewaysPerTest(defaults: TestGatewayOptions = {}): (options?: TestGatewayOptions) => Promise<TestGateway> {
  return closedAfterEach((options: TestGatewayOptions = {}) => startGateway({ ...defaults, ...options, env: { ...defaults.env, ...options.env } }));
}

export async function startGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const env = { LOG_LEVEL: 'silent', ...options.env };
  const simulator = options.simulator ?? createSimulator();
  const logs: string[] = [];
  const logger = createLogger({ level: env.LOG_LEVEL, destination: { write: (line: string) => void logs.push(line) } });
  const app = createApp({
    config: loadConfig(env),
    logger,
    clock: options.clock,
    ...(options.upstreamBaseUrl ? { upstreamBaseUrl: options.upstreamBaseUrl } : { fetch: simulator.fetch, upstreamBaseUrl: 'http://sim/core/v1' }),
  });
  const server: GatewayHttpServer = createHttpServer({ app, fastPath: options.fastPath, onGraphQLResult: options.onGraphQLResult, onGraphQLEnd: options.onGraphQLEnd });
  const { url } = await server.listen(0, '127.0.0.1');
  return {
    url,
    endpoint: `${url}/graphql`,
    app,
    simulator,
    http: server,
    logs,
    async close(graceMs = 0) {
      await server.shutdown(graceMs);
      if (!options.simulator) await simulator.close();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** node:http rather than fetch: the bytes exactly as sent (no transparent decompression). */
export function raw(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A JSON POST of a GraphQL operation. */
export function post(endpoint: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<RawResponse> {
  return raw(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** A GET of a GraphQL operation, with a CSRF-preventing header unless `headers` says otherwise. */
export function get(endpoint: string, params: Record<string, unknown>, headers: Record<string, string> = {}): Promise<RawResponse> {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) search.set(name, typeof value === 'string' ? value : JSON.stringify(value));
  return raw(`${endpoint}?${search}`, { headers: { 'apollo-require-preflight': 'true', ...headers } });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The gateway's summary lines (one per GraphQL request), in order; it must log at info level. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const requestSummaries = (gateway: TestGateway): Array<Record<string, any>> =>
  gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((record) => record.msg === 'graphql request');

export const ORG_NAME_QUERY = 'query OrgName { organization(subDomain: "globex") { name } }';
