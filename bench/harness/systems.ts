import { join } from 'node:path';
import { freePort, startChild, startTsChild, waitForHttp, type Child } from './children.js';
import type { Flavor } from './queries.js';

/**
 * The systems under test. Each runs alone in its own process, started fresh for each phase
 * that needs it and stopped afterwards; the harness only talks to it over loopback HTTP.
 */
export type SystemId = 'gateway' | 'limit' | 'apollo' | 'apollo-cache' | 'mesh' | 'mesh-cache';

export interface SystemSpec {
  id: SystemId;
  label: string;
  flavor: Flavor;
}

export const SYSTEMS: readonly SystemSpec[] = [
  { id: 'gateway', label: 'this gateway', flavor: 'katapult' },
  { id: 'limit', label: 'limit (node:http, fixed bytes)', flavor: 'katapult' },
  { id: 'apollo', label: 'Apollo Server + RESTDataSource', flavor: 'katapult' },
  { id: 'apollo-cache', label: 'Apollo + response-cache plugin', flavor: 'katapult' },
  { id: 'mesh', label: 'Mesh/Hive Gateway (as shipped)', flavor: 'mesh' },
  { id: 'mesh-cache', label: 'Mesh/Hive + response cache + dedupe', flavor: 'mesh' },
];

export interface SystemContext {
  repoRoot: string;
  benchDir: string;
  simulatorBaseUrl: string;
  /** How to start the gateway: the built entry point, or tsx on the sources. */
  gatewayCommand: { command: string; args: string[] };
  /** Node options before the gateway's own arguments (BENCH_GATEWAY_NODE_ARGS): only node's options fit there. */
  gatewayNodeArgs: readonly string[];
  /** The composed supergraph; null when Mesh could not be composed. */
  supergraphPath: string | null;
  /** The limit server's fixed answer; null until the gateway's answer has been captured. */
  limitBodyPath: string | null;
}

export interface RunningSystem {
  spec: SystemSpec;
  /** The GraphQL endpoint. */
  url: string;
  pid: number;
  child: Child;
  stop(): Promise<void>;
}

/** A clean environment: nothing from the developer's shell leaks into a system's configuration. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...extra };
}

/** What the settings below change from the gateway's defaults, for the results' notes. */
export const GATEWAY_SETTINGS_NOTE =
  'The gateway runs with LOG_LEVEL=warn, so it writes no summary line per request (the default, info, writes one; the peers write none), and with INBOUND_RATE_LIMIT_PER_MINUTE=0 (the load comes from one client address). P5 also gives it QUEUE_WINDOW_MS equal to the simulator\'s shortened window, QUEUE_MAX_PER_TOKEN of at least the burst, and a REQUEST_DEADLINE_MS long enough for the whole burst to drain at the permitted rate; with the default 10 s deadline the queries that would wait longer are answered RATE_LIMITED with a Retry-After instead (no more upstream 429s either way).';

/** The gateway's settings for every bench run; scenarios add their own on top. */
export function gatewayEnv(ctx: SystemContext, port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KATAPULT_API_URL: ctx.simulatorBaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    INBOUND_RATE_LIMIT_PER_MINUTE: '0',
    CACHE_KEY_SECRET: 'bench-cache-key-secret-0123456789',
    CURSOR_SECRET: 'bench-cursor-secret-0123456789abcdef',
    ...extra,
  };
}

export async function startSystem(spec: SystemSpec, ctx: SystemContext, extraEnv: Record<string, string> = {}): Promise<RunningSystem> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/graphql`;
  let child: Child;
  let readyUrl = url;
  switch (spec.id) {
    case 'gateway':
      child = startChild('gateway', ctx.gatewayCommand.command, [...ctx.gatewayNodeArgs, ...ctx.gatewayCommand.args], { cwd: ctx.repoRoot, env: baseEnv(gatewayEnv(ctx, port, extraEnv)) });
      readyUrl = `http://127.0.0.1:${port}/health`;
      break;
    case 'limit':
      if (!ctx.limitBodyPath) throw new Error('the limit needs the gateway\'s dashboard answer first');
      child = startTsChild('limit', join(ctx.benchDir, 'peers/limit/server.ts'), [], { cwd: ctx.repoRoot, env: baseEnv({ PORT: String(port), BODY_PATH: ctx.limitBodyPath }) });
      break;
    case 'apollo':
    case 'apollo-cache':
      child = startTsChild(spec.id, join(ctx.benchDir, 'peers/apollo/server.ts'), [], {
        cwd: ctx.repoRoot,
        env: baseEnv({ KATAPULT_API_URL: ctx.simulatorBaseUrl, PORT: String(port), APOLLO_RESPONSE_CACHE: String(spec.id === 'apollo-cache'), ...extraEnv }),
      });
      readyUrl = `http://127.0.0.1:${port}/.well-known/apollo/server-health`;
      break;
    case 'mesh':
    case 'mesh-cache':
      if (!ctx.supergraphPath) throw new Error('no supergraph was composed');
      child = startTsChild(spec.id, join(ctx.benchDir, 'peers/mesh/gateway.ts'), [], {
        cwd: ctx.repoRoot,
        env: baseEnv({ SUPERGRAPH_PATH: ctx.supergraphPath, PORT: String(port), MESH_RESPONSE_CACHE: String(spec.id === 'mesh-cache'), ...extraEnv }),
      });
      readyUrl = `http://127.0.0.1:${port}/healthcheck`;
      break;
  }
  try {
    await waitForHttp(child, readyUrl);
    // Schemas may load lazily: one trivial operation makes the first measured request an ordinary one.
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }).then((r) => r.arrayBuffer());
  } catch (error) {
    await child.stop(500);
    throw error;
  }
  // A profiled gateway (--cpu-prof) writes its profile on the way out, which can take seconds.
  const graceMs = spec.id === 'gateway' && ctx.gatewayNodeArgs.length > 0 ? 30_000 : undefined;
  return { spec, url, pid: child.pid, child, stop: () => child.stop(graceMs) };
}
