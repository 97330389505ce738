import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig, reportGeneratedSecrets } from '../src/config.js';

const MIB = 1024 * 1024;
const SECRETS = { CACHE_KEY_SECRET: 'a-cache-key-secret-of-32-chars!!', CURSOR_SECRET: 'a-cursor-secret-of-enough-length' };

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw');
}

/** `.env.example` as an environment: NAME=value lines, comments and blanks skipped. */
function envExample(): Record<string, string> {
  const text = readFileSync(fileURLToPath(new URL('../.env.example', import.meta.url)), 'utf8');
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

describe('loadConfig', () => {
  it('fills in every default from an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      logLevel: 'info',
      upstream: { baseUrl: undefined, timeoutMs: 5000, connections: 64, maxBodyBytes: 16 * MIB },
      cache: {
        maxBytes: 256 * MIB,
        responseCacheMaxBytes: 64 * MIB,
        parsedMaxBytes: 32 * MIB,
        bodyMaxBytes: 160 * MIB,
        perTokenMaxBytes: 32 * MIB,
        ttlMs: { vmList: 20_000, vm: 20_000, organization: 60_000, organizations: 60_000, user: 60_000, packages: 600_000, dataCenters: 600_000 },
        staleWhileRevalidateMs: 30_000,
        staleIfErrorMs: 300_000,
        notFoundTtlMs: 5000,
        invalidTokenTtlMs: 30_000,
        exposeExtensions: false,
      },
      queue: { globalConcurrency: 64, perTokenConcurrency: 6, budgetReserve: 2, windowMs: 60_000, retryMaxAttempts: 3, circuitFailureThreshold: 8 },
      deadlines: { requestMs: 10_000, revalidationMs: 30_000 },
      pagination: { defaultSize: 20, maxSize: 100, upstreamPerPage: 200 },
      http: { trustProxy: false, corsOrigins: [], graphiql: true, introspection: true, metrics: true, shutdownGraceMs: 10_000 },
    });
  });

  it('splits CACHE_MAX_BYTES between bodies, parsed copies and finished responses, never past it', () => {
    for (const [total, response] of [[256 * MIB, 64 * MIB], [16 * MIB, 64 * MIB], [64 * MIB, 0], [8 * MIB, 1 * MIB]] as const) {
      const { cache } = loadConfig({ CACHE_MAX_BYTES: String(total), RESPONSE_CACHE_MAX_BYTES: String(response) });
      expect(cache.bodyMaxBytes + cache.parsedMaxBytes + cache.responseCacheMaxBytes).toBe(total);
      expect(cache.responseCacheMaxBytes).toBe(Math.min(response, total / 4));
      expect(cache.parsedMaxBytes).toBe(total / 8);
      expect(cache.perTokenMaxBytes).toBeLessThanOrEqual(cache.bodyMaxBytes);
    }
    // With per-response cache counts every answer is unique: no share goes to finished responses.
    const counted = loadConfig({ CACHE_MAX_BYTES: String(64 * MIB), CACHE_EXTENSIONS: 'true' }).cache;
    expect(counted).toMatchObject({ responseCacheMaxBytes: 0, bodyMaxBytes: 56 * MIB });
    // A token's share is a share of the bodies: asking for more is refused, saying why.
    expect(() => loadConfig({ CACHE_MAX_BYTES: String(64 * MIB), CACHE_TOKEN_MAX_BYTES: String(48 * MIB) })).toThrow(/CACHE_TOKEN_MAX_BYTES: expected at most the part of CACHE_MAX_BYTES left for REST bodies \(41943040/);
    expect(loadConfig({ CACHE_MAX_BYTES: String(64 * MIB), CACHE_TOKEN_MAX_BYTES: String(40 * MIB) }).cache.perTokenMaxBytes).toBe(40 * MIB);
  });

  it('makes up random secrets when none are set, different on every load', () => {
    const a = loadConfig({});
    const b = loadConfig({});
    expect(a.secrets.cursor).toHaveLength(1);
    expect(a.secrets.cursor[0]!.length).toBeGreaterThanOrEqual(16);
    expect(a.secrets.cacheKey.length).toBeGreaterThanOrEqual(16);
    expect(a.secrets.cursor[0]).not.toBe(b.secrets.cursor[0]);
    expect(a.secrets.cacheKey).not.toBe(b.secrets.cacheKey);
  });

  it('reads only the object it is given, never process.env', () => {
    const saved = process.env.PORT;
    process.env.PORT = '9999';
    try {
      expect(loadConfig({}).port).toBe(4000);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  it('parses values: trims, treats empty as unset, splits lists, strips a trailing slash from the API URL', () => {
    const config = loadConfig({
      PORT: ' 8080 ',
      LOG_LEVEL: '',
      KATAPULT_API_URL: 'https://api.katapult.io/core/v1/',
      CURSOR_SECRET: 'newest-secret-0123456789, older-secret-0123456789 ,',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      CACHE_EXTENSIONS: 'yes',
      TRUST_PROXY: '1',
      GRAPHIQL_ENABLED: 'false',
    });
    expect(config.port).toBe(8080);
    expect(config.logLevel).toBe('info');
    expect(config.upstream.baseUrl).toBe('https://api.katapult.io/core/v1');
    expect(config.secrets.cursor).toEqual(['newest-secret-0123456789', 'older-secret-0123456789']);
    expect(config.http.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.cache.exposeExtensions).toBe(true);
    expect(config.http.trustProxy).toBe(true);
    expect(config.http.graphiql).toBe(false);
  });

  it('throws one error listing every bad variable, each with the expected form and the value given quoted', () => {
    const error = configError({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      KATAPULT_API_URL: 'https://api.katapult.io/core/v2',
      CURSOR_SECRET: 'short',
      UPSTREAM_PER_PAGE: '500',
      CACHE_EXTENSIONS: 'maybe',
      QUEUE_RETRY_MAX_ATTEMPTS: '1.5',
    });
    expect(error.problems).toEqual([
      'PORT: expected an integer from 0 to 65535, got "eighty"',
      'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'KATAPULT_API_URL: expected an http(s) URL ending in /core/v1, without a user name or password in it, e.g. https://api.katapult.io/core/v1, got "https://api.katapult.io/core/v2"',
      'CURSOR_SECRET: expected a comma-separated list of secrets of at least 16 characters, newest first, got a value of 5 characters (not shown)',
      'CACHE_EXTENSIONS: expected true or false (or 1/0, yes/no; any case), got "maybe"',
      'QUEUE_RETRY_MAX_ATTEMPTS: expected an integer from 1 to 10, got "1.5"',
      'UPSTREAM_PER_PAGE: expected an integer from 1 to 200, got "500"',
    ]);
    expect(error.message.split('\n')[0]).toBe('Invalid configuration:');
    for (const problem of error.problems) expect(error.message).toContain(`  - ${problem}`);
  });

  it('never repeats a rejected secret: it is described by its length (errors reach logs)', () => {
    const error = configError({ CURSOR_SECRET: 'prod-cursor-secret-DO-NOT-LEAK-1234,old', CACHE_KEY_SECRET: 'leaky-but-short' });
    expect(error.problems).toEqual([
      'CACHE_KEY_SECRET: expected at least 16 characters, got a value of 15 characters (not shown)',
      'CURSOR_SECRET: expected a comma-separated list of secrets of at least 16 characters, newest first, got a value of 39 characters (not shown)',
    ]);
    expect(error.message).not.toContain('DO-NOT-LEAK');
    expect(error.message).not.toContain('leaky');
  });

  it('refuses a Katapult URL with credentials in it (fetch would refuse every call), and does not repeat them', () => {
    for (const url of [
      'http://user:s3cretpw@127.0.0.1:4717/core/v1',
      'https://s3cretpw@api.katapult.io/core/v1',
      'https://user:s3cretpw@api.katapult.io/core/v2',
      ' http://user:s3cretpw@127.0.0.1/core/v1',
      // fetch reads the credentials up to the last @ before the host.
      'http://user:s3c@retpw@127.0.0.1/core/v1',
      'http:user:s3cretpw@127.0.0.1/core/v1',
    ]) {
      const error = configError({ KATAPULT_API_URL: url });
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^KATAPULT_API_URL: expected .*without a user name or password/);
      expect(error.problems[0]).toMatch(/\(credentials not shown\)@|not shown\)"$/);
      expect(error.message).not.toMatch(/s3c|retpw/);
    }
    // An @ in the path is no credential.
    expect(loadConfig({ KATAPULT_API_URL: 'https://proxy.example/a@b/core/v1' }).upstream.baseUrl).toBe('https://proxy.example/a@b/core/v1');
  });

  it('says which secrets were made up for this process, and reports them at warn level unless one is trying the gateway out', () => {
    expect(loadConfig({}).secrets.generated).toEqual(['CACHE_KEY_SECRET', 'CURSOR_SECRET']);
    expect(loadConfig({ CURSOR_SECRET: 'a-cursor-secret-of-some-length', CACHE_KEY_SECRET: ' ' }).secrets.generated).toEqual(['CACHE_KEY_SECRET']);
    const lines: Array<[string, string]> = [];
    const logger = { info: (_f: unknown, message?: string) => void lines.push(['info', String(message)]), warn: (_f: unknown, message?: string) => void lines.push(['warn', String(message)]) };
    reportGeneratedSecrets(loadConfig({ QUEUE_REPLICAS: '3', CACHE_KEY_SECRET: 'a-cache-key-secret-of-some-length' }), logger as never, false);
    expect(lines).toEqual([['warn', "CURSOR_SECRET not set: made up for this process alone, so cursors handed out stop working when it restarts, and the 3 replicas (QUEUE_REPLICAS) refuse each other's"]]);
    lines.length = 0;
    reportGeneratedSecrets(loadConfig({ CURSOR_SECRET: 'a-cursor-secret-of-some-length' }), logger as never, false);
    expect(lines).toEqual([['warn', 'CACHE_KEY_SECRET not set: made up for this process alone, so token fingerprints in the logs change when it restarts']]);
    lines.length = 0;
    reportGeneratedSecrets(loadConfig({}), logger as never, true);
    expect(lines.map(([level]) => level)).toEqual(['info', 'info']);
    lines.length = 0;
    reportGeneratedSecrets(loadConfig({ CURSOR_SECRET: 'a-cursor-secret-of-some-length', CACHE_KEY_SECRET: 'a-cache-key-secret-of-some-length' }), logger as never, false);
    expect(lines).toEqual([]);
  });

  it('serves /metrics on PORT unless METRICS_PORT names another port', () => {
    expect(loadConfig({}).http.metricsPort).toBeNull();
    expect(loadConfig({ METRICS_PORT: '9464' }).http.metricsPort).toBe(9464);
    expect(configError({ PORT: '9464', METRICS_PORT: '9464' }).problems).toEqual(['METRICS_PORT: expected a port other than PORT (9464), or unset to serve /metrics there, got 9464']);
    expect(configError({ METRICS_PORT: '9464', METRICS_ENABLED: 'false' }).problems).toEqual(['METRICS_PORT: set (9464) while METRICS_ENABLED is false, so nothing would listen there: unset one of them']);
    expect(configError({ METRICS_PORT: '70000' }).problems).toEqual(['METRICS_PORT: expected an integer from 0 to 65535, or unset to serve /metrics on PORT, got "70000"']);
  });

  it('reads integers in decimal only, and booleans in any case', () => {
    for (const port of ['0x1F90', '1e3', '0b11', '8080.0', '']) {
      if (port === '') continue;
      expect(configError({ PORT: port }).problems, port).toEqual([`PORT: expected an integer from 0 to 65535, got "${port}"`]);
    }
    expect(loadConfig({ PORT: '+8080' }).port).toBe(8080);
    for (const [raw, value] of [['TRUE', true], ['False', false], ['YES', true], ['0', false]] as const) {
      expect(loadConfig({ GRAPHIQL_ENABLED: raw }).http.graphiql, raw).toBe(value);
    }
  });

  it('lists a contradiction between valid variables next to another variable\'s own problem', () => {
    const error = configError({ PORT: '-1', PAGINATION_DEFAULT_SIZE: '150' });
    expect(error.problems.map((p) => p.split(':')[0])).toEqual(['PORT', 'PAGINATION_DEFAULT_SIZE']);
    // A contradiction involving a variable that is itself invalid is not guessed at.
    expect(configError({ PAGINATION_MAX_SIZE: 'lots', PAGINATION_DEFAULT_SIZE: '150' }).problems.map((p) => p.split(':')[0])).toEqual(['PAGINATION_MAX_SIZE']);
  });

  it('rejects an upstream page smaller than the largest window, naming both', () => {
    const error = configError({ UPSTREAM_PER_PAGE: '50', PAGINATION_MAX_SIZE: '100' });
    expect(error.problems).toEqual([
      'UPSTREAM_PER_PAGE: expected at least PAGINATION_MAX_SIZE (100) so any window spans at most two upstream pages, got 50',
    ]);
    expect(loadConfig({ UPSTREAM_PER_PAGE: '100', PAGINATION_MAX_SIZE: '100' }).pagination.upstreamPerPage).toBe(100);
  });

  it('rejects the other settings that contradict each other, all at once', () => {
    const error = configError({ PAGINATION_DEFAULT_SIZE: '150', QUEUE_RETRY_BASE_DELAY_MS: '5000', QUEUE_WINDOW_MS: '2000', QUEUE_WINDOW_OFFSET_MS: '1500', CACHE_TOKEN_MAX_BYTES: String(512 * MIB) });
    expect(error.problems).toHaveLength(4);
    expect(error.problems.map((p) => p.split(':')[0])).toEqual(['PAGINATION_DEFAULT_SIZE', 'QUEUE_RETRY_BASE_DELAY_MS', 'QUEUE_WINDOW_OFFSET_MS', 'CACHE_TOKEN_MAX_BYTES']);
    expect(error.problems[2]).toBe('QUEUE_WINDOW_OFFSET_MS: expected at most half of QUEUE_WINDOW_MS (1000), got 1500');
  });

  it('passes QUEUE_WINDOW_OFFSET_MS to the queue, 250 ms unless set', () => {
    expect(loadConfig({}).queue.windowOffsetMs).toBe(250);
    expect(loadConfig({ QUEUE_WINDOW_OFFSET_MS: '4000' }).queue.windowOffsetMs).toBe(4000);
    expect(configError({ QUEUE_WINDOW_OFFSET_MS: '-1' }).problems[0]).toMatch(/^QUEUE_WINDOW_OFFSET_MS: /);
  });

  it('caps what is read of an upstream answer at UPSTREAM_MAX_BODY_BYTES, 16 MiB unless set, at least 64 KiB', () => {
    expect(loadConfig({ UPSTREAM_MAX_BODY_BYTES: '1048576' }).upstream.maxBodyBytes).toBe(MIB);
    expect(loadConfig({ UPSTREAM_MAX_BODY_BYTES: '65536' }).upstream.maxBodyBytes).toBe(65_536);
    expect(configError({ UPSTREAM_MAX_BODY_BYTES: '65535' }).problems).toEqual(['UPSTREAM_MAX_BODY_BYTES: expected an integer from 65536 to 1073741824, got "65535"']);
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.cache.ttlMs)).toBe(true);
    expect(Object.isFrozen(config.secrets.cursor)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.pagination as { maxSize: number }).maxSize = 1;
    }).toThrow(TypeError);
  });

  it('.env.example lists every variable with its default', () => {
    const example = envExample();
    const gatewayVariables = Object.keys(example).filter((name) => !name.startsWith('SIMULATOR_'));
    expect([...gatewayVariables].sort()).toEqual([...CONFIG_VARIABLES].sort());
    // Loading the example file gives exactly the defaults.
    expect(loadConfig({ ...example, ...SECRETS })).toEqual(loadConfig(SECRETS));
  });
});
