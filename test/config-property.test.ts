import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig, MAX_QUEUE_WINDOW_OFFSET_MS, type GatewayConfig } from '../src/config.js';

/*
 * Any environment either loads into values inside the documented ranges, or is refused with one
 * ConfigError that names every variable it could not use: never another exception (a TypeError
 * or a RangeError would reach the operator without saying which variable to fix). The ranges are
 * written out here from the variables' documentation, independently of the schemas.
 */

const KIB = 1024;
const MIB = 1024 * KIB;
const MAX = Number.MAX_SAFE_INTEGER;

type Int = { kind: 'int'; min: number; max: number; read: (c: GatewayConfig) => number | null };
const int = (min: number, max: number, read: Int['read']): Int => ({ kind: 'int', min, max, read });

const INTEGERS: Record<string, Int> = {
  PORT: int(0, 65535, (c) => c.port),
  UPSTREAM_TIMEOUT_MS: int(100, 120_000, (c) => c.upstream.timeoutMs),
  UPSTREAM_CONNECTIONS: int(1, 1024, (c) => c.upstream.connections),
  UPSTREAM_MAX_BODY_BYTES: int(64 * KIB, 1024 * MIB, (c) => c.upstream.maxBodyBytes),
  CACHE_MAX_BYTES: int(MIB, MAX, (c) => c.cache.maxBytes),
  CACHE_TOKEN_MAX_BYTES: int(0, MAX, (c) => c.cache.perTokenMaxBytes),
  CACHE_TTL_VM_LIST_MS: int(0, MAX, (c) => c.cache.ttlMs.vmList),
  CACHE_TTL_VM_MS: int(0, MAX, (c) => c.cache.ttlMs.vm),
  CACHE_TTL_ORGANIZATION_MS: int(0, MAX, (c) => c.cache.ttlMs.organization),
  CACHE_TTL_USER_MS: int(0, MAX, (c) => c.cache.ttlMs.user),
  CACHE_TTL_CATALOGUE_MS: int(0, MAX, (c) => c.cache.ttlMs.packages),
  CACHE_STALE_WHILE_REVALIDATE_MS: int(0, MAX, (c) => c.cache.staleWhileRevalidateMs),
  CACHE_STALE_IF_ERROR_MS: int(0, MAX, (c) => c.cache.staleIfErrorMs),
  CACHE_NOT_FOUND_TTL_MS: int(0, MAX, (c) => c.cache.notFoundTtlMs),
  CACHE_INVALID_TOKEN_TTL_MS: int(0, MAX, (c) => c.cache.invalidTokenTtlMs),
  RESPONSE_CACHE_MAX_BYTES: int(0, MAX, (c) => c.cache.responseCacheMaxBytes),
  CACHE_TOKEN_RECHECK_MS: int(0, 3_600_000, (c) => c.cache.tokenRecheckMs),
  QUEUE_GLOBAL_CONCURRENCY: int(1, 4096, (c) => c.queue.globalConcurrency),
  QUEUE_TOKEN_CONCURRENCY: int(1, 256, (c) => c.queue.perTokenConcurrency),
  QUEUE_MAX_PER_TOKEN: int(1, MAX, (c) => c.queue.maxQueuedPerToken),
  QUEUE_MAX_GLOBAL: int(1, MAX, (c) => c.queue.maxQueuedGlobal),
  QUEUE_BUDGET_RESERVE: int(0, MAX, (c) => c.queue.budgetReserve),
  QUEUE_REPLICAS: int(1, 64, (c) => c.queue.replicas),
  QUEUE_WINDOW_MS: int(1000, MAX, (c) => c.queue.windowMs),
  QUEUE_WINDOW_OFFSET_MS: int(0, MAX_QUEUE_WINDOW_OFFSET_MS, (c) => c.queue.windowOffsetMs),
  QUEUE_RETRY_MAX_ATTEMPTS: int(1, 10, (c) => c.queue.retryMaxAttempts),
  QUEUE_RETRY_BASE_DELAY_MS: int(1, MAX, (c) => c.queue.retryBaseDelayMs),
  QUEUE_RETRY_MAX_DELAY_MS: int(1, MAX, (c) => c.queue.retryMaxDelayMs),
  QUEUE_CIRCUIT_FAILURE_THRESHOLD: int(1, MAX, (c) => c.queue.circuitFailureThreshold),
  QUEUE_CIRCUIT_OPEN_MS: int(100, MAX, (c) => c.queue.circuitOpenMs),
  REQUEST_DEADLINE_MS: int(100, 300_000, (c) => c.deadlines.requestMs),
  REVALIDATION_DEADLINE_MS: int(100, 600_000, (c) => c.deadlines.revalidationMs),
  PAGINATION_DEFAULT_SIZE: int(1, 200, (c) => c.pagination.defaultSize),
  PAGINATION_MAX_SIZE: int(1, 200, (c) => c.pagination.maxSize),
  UPSTREAM_PER_PAGE: int(1, 200, (c) => c.pagination.upstreamPerPage),
  LIMIT_DEPTH: int(2, 100, (c) => c.limits.depth),
  LIMIT_COST: int(10, MAX, (c) => c.limits.cost),
  LIMIT_ALIASES: int(1, MAX, (c) => c.limits.aliases),
  LIMIT_TOKENS: int(50, MAX, (c) => c.limits.tokens),
  LIMIT_BODY_BYTES: int(KIB, 16 * MIB, (c) => c.limits.bodyBytes),
  INBOUND_RATE_LIMIT_PER_MINUTE: int(0, MAX, (c) => c.limits.inboundPerMinute),
  METRICS_PORT: int(0, 65535, (c) => c.http.metricsPort),
  GRAPHQL_JIT_AFTER: int(0, 1_000_000, (c) => c.http.jitAfter),
  DOCUMENT_CACHE_MAX_BYTES: int(MIB, MAX, (c) => c.http.documentCacheMaxBytes),
  SHUTDOWN_GRACE_MS: int(0, 600_000, (c) => c.http.shutdownGraceMs),
  REQUEST_RECEIVE_TIMEOUT_MS: int(1000, 600_000, (c) => c.http.receiveTimeoutMs),
  SHUTDOWN_DELAY_MS: int(0, 600_000, (c) => c.http.shutdownDelayMs),
  HEAP_GROWTH_PERCENT: int(0, 300, (c) => c.runtime.heapGrowthPercent),
  HEAP_IDLE_COMPACT_MS: int(0, 3_600_000, (c) => c.runtime.idleCompactMs),
};

const BOOLEANS = ['CACHE_EXTENSIONS', 'TRUST_PROXY', 'GRAPHIQL_ENABLED', 'INTROSPECTION_ENABLED', 'APQ_ENABLED', 'PERSISTED_OPERATIONS_ONLY', 'METRICS_ENABLED', 'GRAPHQL_JIT'];
const SECRETS = ['CACHE_KEY_SECRET', 'CURSOR_SECRET'];
/** Checks between variables: each may refuse values that are valid on their own, naming its first variable. */
const CROSS_CHECKED = ['UPSTREAM_PER_PAGE', 'PAGINATION_DEFAULT_SIZE', 'QUEUE_RETRY_BASE_DELAY_MS', 'QUEUE_WINDOW_OFFSET_MS', 'CACHE_TOKEN_MAX_BYTES', 'METRICS_PORT'];

const decorated = (value: string) => fc.tuple(fc.constantFrom('', ' ', '\t', '  '), fc.constantFrom('', ' ', '\n')).map(([a, b]) => `${a}${value}${b}`);
const longJunk = ['x'.repeat(5000), '9'.repeat(5000), '€'.repeat(2000)];
const numberJunk = ['abc', '1.5', '0x10', '1e3', '١٢', '٣', '１２', '12abc', '1 000', '∞', 'NaN', '--1', '+-1', '10000000000000000000000', ...longJunk];

/** Per variable: a valid value, and junk it must refuse. */
function valuesFor(name: string): { valid: fc.Arbitrary<string>; junk: fc.Arbitrary<string> } {
  const spec = INTEGERS[name];
  if (spec) {
    const inRange = fc.oneof(fc.constantFrom(spec.min, Math.min(spec.max, spec.min + 1), spec.max), fc.integer({ min: spec.min, max: spec.max }));
    const below = fc.integer({ min: 1, max: 1e9 }).map((k) => String(spec.min - k));
    const above = spec.max < MAX ? fc.integer({ min: 1, max: 1e12 }).map((k) => String(spec.max + k)) : fc.constant(String(MAX + 2));
    return {
      valid: fc.tuple(inRange, fc.constantFrom('', '+', '0', '00')).chain(([n, prefix]) => decorated(`${prefix}${n}`)),
      junk: fc.oneof(below, above, fc.constantFrom(...numberJunk)),
    };
  }
  if (BOOLEANS.includes(name)) {
    return { valid: fc.constantFrom('true', 'FALSE', 'Yes', 'no', '1', '0', 'tRuE').chain(decorated), junk: fc.constantFrom('maybe', 'on', 'off', 'ja', '２', 'true!', 'y', ...longJunk) };
  }
  switch (name) {
    case 'LOG_LEVEL':
      return { valid: fc.constantFrom('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').chain(decorated), junk: fc.constantFrom('verbose', 'INFO', 'inf', 'wärn', ...longJunk) };
    case 'KATAPULT_API_URL':
      return {
        valid: fc.constantFrom('https://api.katapult.io/core/v1', 'http://127.0.0.1:9/core/v1/', 'https://API.Katapult.io:8443/core/v1').chain(decorated),
        junk: fc.constantFrom('ftp://api.katapult.io/core/v1', 'https://api.katapult.io/core/v2', 'https://user:pw@api.katapult.io/core/v1', 'not a url', 'api.katapult.io/core/v1', 'ü'.repeat(100), ...longJunk),
      };
    case 'CACHE_KEY_SECRET':
      return { valid: fc.string({ minLength: 16, maxLength: 64 }).filter((s) => s.trim().length >= 16), junk: fc.constantFrom('short', '15-characters!!', 'ab  cd', '🔑🔑🔑') };
    case 'CURSOR_SECRET':
      return {
        valid: fc.constantFrom('a-cursor-secret-of-enough-length', ' newest-secret-of-16+ , older-secret-of-16+ ', 'sixteen-chars-ok,,'),
        junk: fc.constantFrom('short', 'a-cursor-secret-of-enough-length,short', ',,,', '🔑🔑🔑'),
      };
    default:
      // HOST, CORS_ORIGINS, PERSISTED_OPERATIONS_FILE: any text is a value.
      return { valid: fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('0.0.0.0', 'https://a.example,https://b.example', 'ホスト', 'x'.repeat(5000))), junk: fc.constant('') };
  }
}

const ANYTHING_GOES = ['HOST', 'CORS_ORIGINS', 'PERSISTED_OPERATIONS_FILE'];

type Setting = { name: string; raw: string | undefined; junk: boolean };

const setting = (name: string): fc.Arbitrary<Setting> => {
  const { valid, junk } = valuesFor(name);
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant({ name, raw: undefined, junk: false }) },
    // Empty or blank means unset.
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t\n', '\u00a0').map((raw) => ({ name, raw, junk: false })) },
    { weight: 3, arbitrary: valid.map((raw) => ({ name, raw, junk: false })) },
    { weight: ANYTHING_GOES.includes(name) ? 0 : 2, arbitrary: junk.map((raw) => ({ name, raw, junk: true })) },
  );
};

// Half the environments hold no junk at all, so loading succeeds often enough to check its ranges.
const environment = fc.tuple(fc.tuple(...CONFIG_VARIABLES.map(setting)), fc.boolean()).map(([settings, clean]) =>
  settings.map((s) => (clean && s.junk ? { name: s.name, raw: undefined, junk: false } : s)),
);

describe('loadConfig on random environments', () => {
  it('knows every variable the table describes', () => {
    for (const name of [...Object.keys(INTEGERS), ...BOOLEANS, ...SECRETS, ...ANYTHING_GOES]) expect(CONFIG_VARIABLES).toContain(name);
  });

  it('loads values inside the documented ranges, or throws one ConfigError naming each variable at fault', () => {
    let loaded = 0;
    let refused = 0;
    fc.assert(
      fc.property(environment, (settings) => {
        const env: Record<string, string> = {};
        for (const s of settings) if (s.raw !== undefined) env[s.name] = s.raw;
        const junk = settings.filter((s) => s.junk).map((s) => s.name);
        let config: GatewayConfig;
        try {
          config = loadConfig(env);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          const { problems, message } = error as ConfigError;
          refused++;
          const named = problems.map((p) => p.slice(0, p.indexOf(':')));
          for (const name of junk) expect(named).toContain(name);
          for (const name of named) expect(junk.includes(name) || CROSS_CHECKED.includes(name), name).toBe(true);
          for (const problem of problems) expect(message).toContain(problem);
          // Rejected secrets are described, never repeated (the message reaches logs).
          for (const s of settings) if (SECRETS.includes(s.name) && s.junk) expect(message).not.toContain(s.raw!.trim());
          return;
        }
        loaded++;
        expect(junk).toEqual([]);
        for (const [name, spec] of Object.entries(INTEGERS)) {
          const value = spec.read(config);
          if (name === 'METRICS_PORT' && value === null) continue;
          expect(Number.isSafeInteger(value), name).toBe(true);
          expect(value!, name).toBeGreaterThanOrEqual(spec.min);
          expect(value!, name).toBeLessThanOrEqual(spec.max);
        }
        expect(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).toContain(config.logLevel);
        expect(config.host.length).toBeGreaterThan(0);
        expect(config.secrets.cacheKey.length).toBeGreaterThanOrEqual(16);
        expect(config.secrets.cursor.length).toBeGreaterThan(0);
        for (const secret of config.secrets.cursor) expect(secret.length).toBeGreaterThanOrEqual(16);
        if (config.upstream.baseUrl !== undefined) expect(config.upstream.baseUrl).toMatch(/^https?:\/\/[^@]+\/core\/v1$/);
        expect(config.cache.bodyMaxBytes + config.cache.parsedMaxBytes + config.cache.responseCacheMaxBytes).toBeLessThanOrEqual(config.cache.maxBytes);
        expect(config.pagination.defaultSize).toBeLessThanOrEqual(config.pagination.maxSize);
        expect(config.pagination.upstreamPerPage).toBeGreaterThanOrEqual(config.pagination.maxSize);
      }),
      { seed: 4000, numRuns: 400 },
    );
    // Both outcomes must be reached, or the property says little.
    expect(loaded).toBeGreaterThan(40);
    expect(refused).toBeGreaterThan(40);
  });
});
