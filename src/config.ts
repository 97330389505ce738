import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from './logger.js';

/**
 * Every setting the gateway reads, in one place. `loadConfig(env)` is pure: it reads only
 * the object it is given, validates everything at once, and throws a single
 * `ConfigError` naming every bad variable with what was expected. `.env.example` lists the
 * same variables with the same defaults (a test keeps them in step).
 *
 * Behaviour is switched by explicit variables only; NODE_ENV affects log formatting alone.
 */

/**
 * `secret`: a rejected value is described by its length, never echoed (errors reach logs);
 * `shown`: how a rejected value is echoed, when part of it must not be.
 */
type Spec<T> = { schema: z.ZodType<T>; expected: string; fallback: T | (() => T); secret?: boolean; shown?: (raw: string) => string };

/** Whether a value read as a URL (as fetch reads it) carries a user name or password. */
function hasCredentials(value: string): boolean {
  try {
    const url = new URL(value.trim());
    return url.username !== '' || url.password !== '';
  } catch {
    return false;
  }
}

/**
 * A URL as shown in an error, its user name and password replaced, read as fetch reads them
 * (up to the last `@` before the host). A value that is no URL but has an `@` is not shown.
 */
function withoutCredentials(raw: string): string {
  const value = raw.trim();
  try {
    const url = new URL(value);
    if (!hasCredentials(value)) return value;
    url.username = '';
    url.password = '';
    return url.href.replace('//', '//(credentials not shown)@');
  } catch {
    return value.includes('@') ? `(${value.length} characters with an @, not shown)` : value;
  }
}

// Decimal digits only: Number() would also take 0x1F90, 1e3 or 0b11.
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^[+-]?\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const int = (fallback: number, min: number, max?: number): Spec<number> => ({
  schema: integer(min, max),
  expected: max === undefined ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`,
  fallback,
});
const bool = (fallback: boolean): Spec<boolean> => ({
  schema: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
    .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  expected: 'true or false (or 1/0, yes/no; any case)',
  fallback,
});
const ratio = (fallback: number): Spec<number> => ({ schema: z.coerce.number().min(0).max(1), expected: 'a number from 0 to 1', fallback });
const list = (fallback: string[]): Spec<string[]> => ({
  schema: z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
  expected: 'a comma-separated list',
  fallback,
});
const text = (fallback: string | undefined): Spec<string | undefined> => ({ schema: z.string(), expected: 'a string', fallback });

const KIB = 1024;
const MIB = 1024 * KIB;

/** Random per process: fine for one replica, but every replica must share the value, so set it in production. */
const randomSecret = () => randomBytes(32).toString('base64url');

/** The largest QUEUE_WINDOW_OFFSET_MS: a Katapult clock further behind than this wants correcting, not following. */
export const MAX_QUEUE_WINDOW_OFFSET_MS = 30_000;

const specs = {
  PORT: int(4000, 0, 65535),
  HOST: { schema: z.string().min(1), expected: 'a host name or address', fallback: '127.0.0.1' } as Spec<string>,
  LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    expected: 'one of fatal, error, warn, info, debug, trace, silent',
    fallback: 'info',
  } as Spec<'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'>,
  KATAPULT_API_URL: {
    schema: z
      .string()
      .url()
      // fetch refuses a URL with credentials in it, so every call would fail.
      .refine((v) => /^https?:\/\//.test(v) && /\/core\/v1\/?$/.test(v) && !hasCredentials(v))
      .transform((v) => v.replace(/\/+$/, '')),
    expected: 'an http(s) URL ending in /core/v1, without a user name or password in it, e.g. https://api.katapult.io/core/v1',
    fallback: undefined,
    shown: withoutCredentials,
  } as Spec<string | undefined>,
  UPSTREAM_TIMEOUT_MS: int(5000, 100, 120_000),
  UPSTREAM_CONNECTIONS: int(64, 1, 1024),
  UPSTREAM_MAX_BODY_BYTES: int(16 * MIB, 64 * KIB, 1024 * MIB),

  CACHE_KEY_SECRET: { schema: z.string().min(16), expected: 'at least 16 characters', fallback: randomSecret, secret: true } as Spec<string>,
  CURSOR_SECRET: {
    schema: z
      .string()
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .refine((v) => v.length > 0 && v.every((s) => s.length >= 16)),
    expected: 'a comma-separated list of secrets of at least 16 characters, newest first',
    fallback: () => [randomSecret()],
    secret: true,
  } as Spec<string[]>,

  CACHE_MAX_BYTES: int(256 * MIB, 1 * MIB),
  CACHE_TOKEN_MAX_BYTES: int(0, 0),
  CACHE_TTL_VM_LIST_MS: int(20_000, 0),
  CACHE_TTL_VM_MS: int(20_000, 0),
  CACHE_TTL_ORGANIZATION_MS: int(60_000, 0),
  CACHE_TTL_USER_MS: int(60_000, 0),
  CACHE_TTL_CATALOGUE_MS: int(600_000, 0),
  CACHE_STALE_WHILE_REVALIDATE_MS: int(30_000, 0),
  CACHE_STALE_IF_ERROR_MS: int(300_000, 0),
  CACHE_NOT_FOUND_TTL_MS: int(5_000, 0),
  CACHE_INVALID_TOKEN_TTL_MS: int(30_000, 0),
  CACHE_EXTENSIONS: bool(false),
  RESPONSE_CACHE_MAX_BYTES: int(64 * MIB, 0),
  CACHE_TOKEN_RECHECK_MS: int(60_000, 0, 3_600_000),

  QUEUE_GLOBAL_CONCURRENCY: int(64, 1, 4096),
  QUEUE_TOKEN_CONCURRENCY: int(6, 1, 256),
  QUEUE_MAX_PER_TOKEN: int(500, 1),
  QUEUE_MAX_GLOBAL: int(10_000, 1),
  QUEUE_BUDGET_RESERVE: int(2, 0),
  QUEUE_REPLICAS: int(1, 1, 64),
  QUEUE_WINDOW_MS: int(60_000, 1000),
  QUEUE_WINDOW_OFFSET_MS: int(250, 0, MAX_QUEUE_WINDOW_OFFSET_MS),
  QUEUE_RETRY_MAX_ATTEMPTS: int(3, 1, 10),
  QUEUE_RETRY_BASE_DELAY_MS: int(100, 1),
  QUEUE_RETRY_MAX_DELAY_MS: int(2000, 1),
  QUEUE_CIRCUIT_FAILURE_THRESHOLD: int(8, 1),
  QUEUE_CIRCUIT_OPEN_MS: int(5000, 100),

  REQUEST_DEADLINE_MS: int(10_000, 100, 300_000),
  REVALIDATION_DEADLINE_MS: int(30_000, 100, 600_000),

  PAGINATION_DEFAULT_SIZE: int(20, 1, 200),
  PAGINATION_MAX_SIZE: int(100, 1, 200),
  UPSTREAM_PER_PAGE: int(200, 1, 200),

  LIMIT_DEPTH: int(12, 2, 100),
  LIMIT_COST: int(20_000, 10),
  LIMIT_ALIASES: int(30, 1),
  LIMIT_TOKENS: int(3000, 50),
  LIMIT_BODY_BYTES: int(100 * KIB, 1 * KIB, 16 * MIB),
  INBOUND_RATE_LIMIT_PER_MINUTE: int(1200, 0),
  TRUST_PROXY: bool(false),
  CORS_ORIGINS: list([]),
  GRAPHIQL_ENABLED: bool(true),
  INTROSPECTION_ENABLED: bool(true),
  APQ_ENABLED: bool(true),
  PERSISTED_OPERATIONS_FILE: text(undefined),
  PERSISTED_OPERATIONS_ONLY: bool(false),
  METRICS_ENABLED: bool(true),
  METRICS_PORT: { schema: integer(0, 65535), expected: 'an integer from 0 to 65535, or unset to serve /metrics on PORT', fallback: null } as Spec<number | null>,
  GRAPHQL_JIT: bool(true),
  GRAPHQL_JIT_AFTER: int(100, 0, 1_000_000),
  DOCUMENT_CACHE_MAX_BYTES: int(32 * MIB, 1 * MIB),
  SHUTDOWN_GRACE_MS: int(10_000, 0, 600_000),
  REQUEST_RECEIVE_TIMEOUT_MS: int(60_000, 1_000, 600_000),
  SHUTDOWN_DELAY_MS: int(0, 0, 600_000),
  HEAP_GROWTH_PERCENT: int(100, 0, 300),
  HEAP_IDLE_COMPACT_MS: int(10_000, 0, 3_600_000),
} satisfies Record<string, Spec<unknown>>;

type SpecValues = { [K in keyof typeof specs]: (typeof specs)[K] extends Spec<infer T> ? T : never };

/** Every variable `loadConfig` understands (the compose-file test checks against this). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(specs);

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type ResourceTtls = {
  vmList: number;
  vm: number;
  organizations: number;
  organization: number;
  user: number;
  packages: number;
  package: number;
  zones: number;
  dataCenters: number;
  countries: number;
  gpuTypes: number;
};

export interface GatewayConfig {
  port: number;
  host: string;
  logLevel: SpecValues['LOG_LEVEL'];
  /** Pretty logs: only when NODE_ENV is not production and stdout is a terminal (decided in main). */
  nodeEnv: string | undefined;
  upstream: {
    baseUrl: string | undefined;
    timeoutMs: number;
    connections: number;
    /** The most bytes read of one answer, counted decompressed (UPSTREAM_MAX_BODY_BYTES): a longer one is refused, not held in memory. */
    maxBodyBytes: number;
  };
  /** `generated`: the secrets not set, made up for this process alone. */
  secrets: { cacheKey: string; cursor: readonly string[]; generated: readonly ('CACHE_KEY_SECRET' | 'CURSOR_SECRET')[] };
  cache: {
    /** Everything cached, together: REST bodies, their parsed copies and finished responses (CACHE_MAX_BYTES). */
    maxBytes: number;
    /** REST bodies as Katapult sent them: what is left of maxBytes after the two parts below. */
    bodyMaxBytes: number;
    /** Parsed copies of recently read bodies, charged at their heap size: an eighth of maxBytes. */
    parsedMaxBytes: number;
    /** One token's share of bodyMaxBytes. */
    perTokenMaxBytes: number;
    ttlMs: ResourceTtls;
    staleWhileRevalidateMs: number;
    staleIfErrorMs: number;
    notFoundTtlMs: number;
    invalidTokenTtlMs: number;
    /** The longest a token is answered from cache without Katapult accepting it again (CACHE_TOKEN_RECHECK_MS; 0: for its entries' TTLs). */
    tokenRecheckMs: number;
    exposeExtensions: boolean;
    /** Finished responses: RESPONSE_CACHE_MAX_BYTES, at most a quarter of maxBytes. */
    responseCacheMaxBytes: number;
  };
  queue: {
    globalConcurrency: number;
    perTokenConcurrency: number;
    maxQueuedPerToken: number;
    maxQueuedGlobal: number;
    budgetReserve: number;
    /** QUEUE_REPLICAS: gateways spending the same tokens. */
    replicas: number;
    windowMs: number;
    /** QUEUE_WINDOW_OFFSET_MS: how long after each multiple of windowMs (by this machine's clock) a lane's window begins. */
    windowOffsetMs: number;
    retryMaxAttempts: number;
    retryBaseDelayMs: number;
    retryMaxDelayMs: number;
    circuitFailureThreshold: number;
    circuitOpenMs: number;
  };
  deadlines: { requestMs: number; revalidationMs: number };
  pagination: { defaultSize: number; maxSize: number; upstreamPerPage: number };
  limits: {
    depth: number;
    cost: number;
    aliases: number;
    tokens: number;
    bodyBytes: number;
    inboundPerMinute: number;
  };
  http: {
    trustProxy: boolean;
    corsOrigins: readonly string[];
    graphiql: boolean;
    introspection: boolean;
    apq: boolean;
    persistedOperationsFile: string | undefined;
    persistedOperationsOnly: boolean;
    metrics: boolean;
    /**
     * A port of its own for /metrics, on HOST (the GraphQL port then answers 404 there), so it
     * can stay off what is published; null serves it on PORT.
     */
    metricsPort: number | null;
    /** Compile operations to JavaScript (graphql-jit) instead of interpreting them. */
    jit: boolean;
    /** Runs of a document through graphql-js before it is compiled (0: at once). */
    jitAfter: number;
    /**
     * Parsed documents kept by their text (and parse errors, in an eighth of it); as much again
     * for documents compiled by graphql-jit (DOCUMENT_CACHE_MAX_BYTES). Outside CACHE_MAX_BYTES.
     */
    documentCacheMaxBytes: number;
    /**
     * The longest a client may take to send a request, headers and body (REQUEST_RECEIVE_TIMEOUT_MS):
     * a connection trickling bytes holds a socket and a parser, and node's own limit is 5 minutes.
     * node also counts it from when a connection opens to its first request's headers.
     */
    receiveTimeoutMs: number;
    shutdownGraceMs: number;
    /**
     * After SIGTERM, how long the gateway keeps serving with `/ready` at 503 before it stops
     * accepting: the time a load balancer needs to notice and send traffic elsewhere.
     */
    shutdownDelayMs: number;
  };
  runtime: {
    /**
     * How far V8 lets the old generation grow past what survived the last full GC before the
     * next one, in percent; 0 leaves V8's adaptive factor (up to 4×). Applied by the process
     * entry point only: it is process-wide, and a gateway built in a test must not change it.
     */
    heapGrowthPercent: number;
    /** Quiet time after which a heap that grew, or holds much unused committed space, is compacted once; 0: never. */
    idleCompactMs: number;
  };
}

function readAll(env: Readonly<Record<string, string | undefined>>): { values: SpecValues; problems: string[]; failed: Set<string> } {
  const problems: string[] = [];
  const failed = new Set<string>();
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs) as [string, Spec<unknown>][]) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') {
      values[name] = typeof spec.fallback === 'function' ? (spec.fallback as () => unknown)() : spec.fallback;
      continue;
    }
    const parsed = spec.schema.safeParse(raw.trim());
    if (parsed.success) values[name] = parsed.data;
    else {
      failed.add(name);
      problems.push(`${name}: expected ${spec.expected}, got ${spec.secret ? `a value of ${raw.length} characters (not shown)` : JSON.stringify(spec.shown ? spec.shown(raw) : raw)}`);
    }
  }
  return { values: values as SpecValues, problems, failed };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * CACHE_MAX_BYTES bounds all cached data, so the operator sizes memory with one number:
 * finished responses (at most a quarter; none when CACHE_EXTENSIONS makes every answer
 * unique), parsed copies (an eighth), and REST bodies (the rest).
 */
function cacheBudget(v: Pick<SpecValues, 'CACHE_MAX_BYTES' | 'RESPONSE_CACHE_MAX_BYTES' | 'CACHE_EXTENSIONS'>) {
  const responseCacheMaxBytes = v.CACHE_EXTENSIONS ? 0 : Math.min(v.RESPONSE_CACHE_MAX_BYTES, Math.floor(v.CACHE_MAX_BYTES / 4));
  const parsedMaxBytes = Math.floor(v.CACHE_MAX_BYTES / 8);
  return { responseCacheMaxBytes, parsedMaxBytes, bodyMaxBytes: v.CACHE_MAX_BYTES - responseCacheMaxBytes - parsedMaxBytes };
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  const { values: v, problems, failed } = readAll(env);
  const { responseCacheMaxBytes, parsedMaxBytes, bodyMaxBytes } = cacheBudget(v);
  // Checks between variables, each where every variable it reads was valid on its own, so one
  // message still lists every problem.
  const valid = (...names: (keyof typeof specs)[]) => names.every((name) => !failed.has(name));
  if (valid('UPSTREAM_PER_PAGE', 'PAGINATION_MAX_SIZE') && v.UPSTREAM_PER_PAGE < v.PAGINATION_MAX_SIZE) {
    problems.push(
      `UPSTREAM_PER_PAGE: expected at least PAGINATION_MAX_SIZE (${v.PAGINATION_MAX_SIZE}) so any window spans at most two upstream pages, got ${v.UPSTREAM_PER_PAGE}`,
    );
  }
  if (valid('PAGINATION_DEFAULT_SIZE', 'PAGINATION_MAX_SIZE') && v.PAGINATION_DEFAULT_SIZE > v.PAGINATION_MAX_SIZE) {
    problems.push(`PAGINATION_DEFAULT_SIZE: expected at most PAGINATION_MAX_SIZE (${v.PAGINATION_MAX_SIZE}), got ${v.PAGINATION_DEFAULT_SIZE}`);
  }
  if (valid('QUEUE_RETRY_BASE_DELAY_MS', 'QUEUE_RETRY_MAX_DELAY_MS') && v.QUEUE_RETRY_BASE_DELAY_MS > v.QUEUE_RETRY_MAX_DELAY_MS) {
    problems.push(`QUEUE_RETRY_BASE_DELAY_MS: expected at most QUEUE_RETRY_MAX_DELAY_MS (${v.QUEUE_RETRY_MAX_DELAY_MS}), got ${v.QUEUE_RETRY_BASE_DELAY_MS}`);
  }
  // A window that began past its middle would be closer to the next boundary than to its own.
  if (valid('QUEUE_WINDOW_OFFSET_MS', 'QUEUE_WINDOW_MS') && v.QUEUE_WINDOW_OFFSET_MS > v.QUEUE_WINDOW_MS / 2) {
    problems.push(`QUEUE_WINDOW_OFFSET_MS: expected at most half of QUEUE_WINDOW_MS (${Math.floor(v.QUEUE_WINDOW_MS / 2)}), got ${v.QUEUE_WINDOW_OFFSET_MS}`);
  }
  if (valid('CACHE_TOKEN_MAX_BYTES', 'CACHE_MAX_BYTES', 'RESPONSE_CACHE_MAX_BYTES', 'CACHE_EXTENSIONS') && v.CACHE_TOKEN_MAX_BYTES > bodyMaxBytes) {
    problems.push(
      `CACHE_TOKEN_MAX_BYTES: expected at most the part of CACHE_MAX_BYTES left for REST bodies (${bodyMaxBytes}: CACHE_MAX_BYTES less finished responses and parsed copies), got ${v.CACHE_TOKEN_MAX_BYTES}`,
    );
  }
  if (valid('METRICS_PORT', 'METRICS_ENABLED') && v.METRICS_PORT !== null && !v.METRICS_ENABLED) {
    problems.push(`METRICS_PORT: set (${v.METRICS_PORT}) while METRICS_ENABLED is false, so nothing would listen there: unset one of them`);
  }
  if (valid('METRICS_PORT', 'PORT') && v.METRICS_PORT !== null && v.METRICS_PORT !== 0 && v.METRICS_PORT === v.PORT) {
    problems.push(`METRICS_PORT: expected a port other than PORT (${v.PORT}), or unset to serve /metrics there, got ${v.METRICS_PORT}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const catalogue = v.CACHE_TTL_CATALOGUE_MS;
  return deepFreeze<GatewayConfig>({
    port: v.PORT,
    host: v.HOST,
    logLevel: v.LOG_LEVEL,
    nodeEnv: env.NODE_ENV,
    upstream: { baseUrl: v.KATAPULT_API_URL, timeoutMs: v.UPSTREAM_TIMEOUT_MS, connections: v.UPSTREAM_CONNECTIONS, maxBodyBytes: v.UPSTREAM_MAX_BODY_BYTES },
    secrets: {
      cacheKey: v.CACHE_KEY_SECRET,
      cursor: v.CURSOR_SECRET,
      generated: (['CACHE_KEY_SECRET', 'CURSOR_SECRET'] as const).filter((name) => (env[name] ?? '').trim() === ''),
    },
    cache: {
      maxBytes: v.CACHE_MAX_BYTES,
      bodyMaxBytes,
      parsedMaxBytes,
      // 0 means "one eighth of the cache, at least 1 MiB": no single token may crowd out the rest.
      perTokenMaxBytes: v.CACHE_TOKEN_MAX_BYTES || Math.min(bodyMaxBytes, Math.max(MIB, Math.floor(v.CACHE_MAX_BYTES / 8))),
      ttlMs: {
        vmList: v.CACHE_TTL_VM_LIST_MS,
        vm: v.CACHE_TTL_VM_MS,
        organizations: v.CACHE_TTL_ORGANIZATION_MS,
        organization: v.CACHE_TTL_ORGANIZATION_MS,
        user: v.CACHE_TTL_USER_MS,
        packages: catalogue,
        package: catalogue,
        zones: catalogue,
        dataCenters: catalogue,
        countries: catalogue,
        gpuTypes: catalogue,
      },
      staleWhileRevalidateMs: v.CACHE_STALE_WHILE_REVALIDATE_MS,
      staleIfErrorMs: v.CACHE_STALE_IF_ERROR_MS,
      notFoundTtlMs: v.CACHE_NOT_FOUND_TTL_MS,
      invalidTokenTtlMs: v.CACHE_INVALID_TOKEN_TTL_MS,
      tokenRecheckMs: v.CACHE_TOKEN_RECHECK_MS,
      exposeExtensions: v.CACHE_EXTENSIONS,
      responseCacheMaxBytes,
    },
    queue: {
      globalConcurrency: v.QUEUE_GLOBAL_CONCURRENCY,
      perTokenConcurrency: v.QUEUE_TOKEN_CONCURRENCY,
      maxQueuedPerToken: v.QUEUE_MAX_PER_TOKEN,
      maxQueuedGlobal: v.QUEUE_MAX_GLOBAL,
      budgetReserve: v.QUEUE_BUDGET_RESERVE,
      replicas: v.QUEUE_REPLICAS,
      windowMs: v.QUEUE_WINDOW_MS,
      windowOffsetMs: v.QUEUE_WINDOW_OFFSET_MS,
      retryMaxAttempts: v.QUEUE_RETRY_MAX_ATTEMPTS,
      retryBaseDelayMs: v.QUEUE_RETRY_BASE_DELAY_MS,
      retryMaxDelayMs: v.QUEUE_RETRY_MAX_DELAY_MS,
      circuitFailureThreshold: v.QUEUE_CIRCUIT_FAILURE_THRESHOLD,
      circuitOpenMs: v.QUEUE_CIRCUIT_OPEN_MS,
    },
    deadlines: { requestMs: v.REQUEST_DEADLINE_MS, revalidationMs: v.REVALIDATION_DEADLINE_MS },
    pagination: { defaultSize: v.PAGINATION_DEFAULT_SIZE, maxSize: v.PAGINATION_MAX_SIZE, upstreamPerPage: v.UPSTREAM_PER_PAGE },
    limits: {
      depth: v.LIMIT_DEPTH,
      cost: v.LIMIT_COST,
      aliases: v.LIMIT_ALIASES,
      tokens: v.LIMIT_TOKENS,
      bodyBytes: v.LIMIT_BODY_BYTES,
      inboundPerMinute: v.INBOUND_RATE_LIMIT_PER_MINUTE,
    },
    http: {
      trustProxy: v.TRUST_PROXY,
      corsOrigins: v.CORS_ORIGINS,
      graphiql: v.GRAPHIQL_ENABLED,
      introspection: v.INTROSPECTION_ENABLED,
      apq: v.APQ_ENABLED,
      persistedOperationsFile: v.PERSISTED_OPERATIONS_FILE,
      persistedOperationsOnly: v.PERSISTED_OPERATIONS_ONLY,
      metrics: v.METRICS_ENABLED,
      metricsPort: v.METRICS_PORT,
      jit: v.GRAPHQL_JIT,
      jitAfter: v.GRAPHQL_JIT_AFTER,
      documentCacheMaxBytes: v.DOCUMENT_CACHE_MAX_BYTES,
      receiveTimeoutMs: v.REQUEST_RECEIVE_TIMEOUT_MS,
      shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
      shutdownDelayMs: v.SHUTDOWN_DELAY_MS,
    },
    runtime: { heapGrowthPercent: v.HEAP_GROWTH_PERCENT, idleCompactMs: v.HEAP_IDLE_COMPACT_MS },
  });
}

/** How the compose file's stand-in secrets begin: a deployment must set its own. */
export const COMPOSE_PLACEHOLDER_PREFIX = 'compose-placeholder-';

/**
 * Secrets left unset are made up per process: cursors a client holds stop working when the
 * process restarts, and replicas refuse each other's. Fine for trying the gateway out; said
 * at warn level otherwise, as are the compose file's stand-ins.
 */
export function reportGeneratedSecrets(config: GatewayConfig, logger: Pick<Logger, 'info' | 'warn'>, trying: boolean): void {
  const { generated, cacheKey, cursor } = config.secrets;
  const replicas = config.queue.replicas;
  const effects = {
    CURSOR_SECRET: `cursors handed out stop working when it restarts${replicas > 1 ? `, and the ${replicas} replicas (QUEUE_REPLICAS) refuse each other's` : ''}`,
    CACHE_KEY_SECRET: `token fingerprints in the logs change when it restarts${replicas > 1 ? `, and differ between the ${replicas} replicas (QUEUE_REPLICAS)` : ''}`,
  };
  for (const name of generated) logger[trying ? 'info' : 'warn']({ unset: name }, `${name} not set: made up for this process alone, so ${effects[name]}`);
  const placeholders = [['CACHE_KEY_SECRET', [cacheKey]], ['CURSOR_SECRET', cursor]].filter(([, values]) => (values as readonly string[]).some((value) => value.startsWith(COMPOSE_PLACEHOLDER_PREFIX))).map(([name]) => name);
  if (placeholders.length > 0) logger.warn({ placeholders }, `${placeholders.join(' and ')} still hold the compose file's placeholder: set secrets of your own`);
}
