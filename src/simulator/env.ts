import type { SimulatorOptions } from './index.js';

/** Simulator options plus where to listen, as read from the environment. */
export interface SimulatorEnvOptions extends SimulatorOptions {
  /** `SIMULATOR_PORT`. @default 4010 */
  port: number;
  /** `SIMULATOR_HOST`. @default '127.0.0.1' */
  host: string;
}

type Parser<T> = { expected: string; parse(raw: string): T | undefined };

const integer = (min: number, max: number, expected: string): Parser<number> => ({
  expected,
  parse(raw) {
    if (!/^-?\d+$/.test(raw)) return undefined;
    const n = Number(raw);
    return n >= min && n <= max ? n : undefined;
  },
});

const ratio: Parser<number> = {
  expected: 'a number from 0 to 1, e.g. 0.05',
  parse(raw) {
    if (!/^\d*\.?\d+$/.test(raw)) return undefined;
    const n = Number(raw);
    return n >= 0 && n <= 1 ? n : undefined;
  },
};

const boolean: Parser<boolean> = {
  expected: 'true or false',
  parse: (raw) => ({ true: true, false: false })[raw.toLowerCase() as 'true' | 'false'],
};

const text: Parser<string> = { expected: 'a host name or IP address', parse: (raw) => raw };

const VARIABLES = {
  port: ['SIMULATOR_PORT', integer(0, 65535, 'an integer from 0 to 65535')],
  host: ['SIMULATOR_HOST', text],
  latencyMs: ['SIMULATOR_LATENCY_MS', integer(0, 600_000, 'a whole number of milliseconds from 0 to 600000')],
  failureRatio: ['SIMULATOR_FAILURE_RATIO', ratio],
  resetRatio: ['SIMULATOR_RESET_RATIO', ratio],
  malformedRatio: ['SIMULATOR_MALFORMED_RATIO', ratio],
  rateLimitPerMinute: ['SIMULATOR_RATE_LIMIT', integer(0, 1_000_000_000, 'a whole number of requests per window, e.g. 1000')],
  rateLimitWindowMs: ['SIMULATOR_RATE_LIMIT_WINDOW_MS', integer(1, 86_400_000, 'a whole number of milliseconds from 1 to 86400000, e.g. 60000')],
  rateLimitHeaders: ['SIMULATOR_RATE_LIMIT_HEADERS', boolean],
  hypervisor: ['SIMULATOR_HYPERVISOR', boolean],
  seed: ['SIMULATOR_SEED', integer(-2147483648, 4294967295, 'an integer, e.g. 20260101')],
} as const;

/**
 * Reads the simulator's settings from environment variables. Unset or empty variables take
 * their defaults; every bad one is reported in a single error that quotes the value and the
 * expected form, so a misconfigured start fails once with the whole list.
 */
export function simulatorOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): SimulatorEnvOptions {
  const problems: string[] = [];
  const out: Record<string, unknown> = { port: 4010, host: '127.0.0.1' };
  for (const [key, [name, parser]] of Object.entries(VARIABLES) as Array<[string, readonly [string, Parser<unknown>]]>) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') continue;
    const value = parser.parse(raw);
    if (value === undefined) problems.push(`${name}=${JSON.stringify(raw)}: expected ${parser.expected}`);
    else out[key] = value;
  }
  if (problems.length > 0) throw new Error(`Invalid simulator environment:\n  ${problems.join('\n  ')}`);
  return Object.freeze(out) as unknown as SimulatorEnvOptions;
}
