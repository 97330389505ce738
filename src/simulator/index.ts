import { systemClock, type Clock } from '../clock.js';
import type { OrganizationListItemDto, VirtualMachineListItemDto, VirtualMachinePackageDto } from '../upstream/dto.js';
import { createDataset, DEFAULT_SEED, type SimulatorDataset } from './dataset.js';
import { createDispatcher, fingerprintToken, type DispatchInput, type DispatchSettings } from './dispatch.js';
import { connectionResetError } from './faults.js';
import { organizationListItem, virtualMachineListItem } from './presenters.js';
import { createRandom } from './random.js';
import { createRateLimiter } from './rate-limit.js';
import { listenSimulator, type SimulatorServer } from './server.js';
import { identify } from './tokens.js';

export { DEMO_TOKENS, LOAD_TOKEN_PREFIX } from './tokens.js';
export { DEFAULT_SEED, VM_COUNTS, type SimulatorDataset, type SimulatorPackage, type SimulatorVirtualMachine } from './dataset.js';
export { simulatorOptionsFromEnv, type SimulatorEnvOptions } from './env.js';

/**
 * An in-memory Katapult core/v1 (read endpoints only) that behaves like the real API on the
 * wire: Apia's error envelope, rate-limit headers, bracketed lookups, pagination, and the
 * faults a gateway must survive. GPU type ids use the `gput_` prefix (none was ever recorded).
 */
export interface SimulatorOptions {
  /** Time source for latency and rate-limit windows. @default the system clock */
  clock?: Clock;
  /** Seeds the generated VMs and the fault dice; the rest of the dataset is fixed. @default 20260101 */
  seed?: number;
  /** Delay before every response, in ms (uses `clock.setTimeout`). @default 0 */
  latencyMs?: number;
  /** Share (0–1) of authenticated requests answered 503 `service_unavailable`. @default 0 */
  failureRatio?: number;
  /** Share (0–1) of requests whose connection is reset with no response. @default 0 */
  resetRatio?: number;
  /** Share (0–1) of authenticated requests answered 200 with a cut-off, unparsable body. @default 0 */
  malformedRatio?: number;
  /** Requests per window for every token, replacing each token's own limit (setTokenLimit still wins). @default each token's own (1000; 200 for noVmScope) */
  rateLimitPerMinute?: number;
  /** Rate-limit window length; windows align to multiples of it since the epoch. @default 60000 */
  rateLimitWindowMs?: number;
  /** Send `X-RateLimit-Permitted`/`-Remaining` (the real API always does). @default true */
  rateLimitHeaders?: boolean;
  /** Include `hypervisor` on VMs (the real API leaves it out). @default false */
  hypervisor?: boolean;
  /** Source of the fault dice. @default a PRNG seeded from `seed` */
  random?: () => number;
}

export type SimulatorFaults = Pick<
  SimulatorOptions,
  'latencyMs' | 'failureRatio' | 'resetRatio' | 'malformedRatio' | 'rateLimitPerMinute' | 'rateLimitWindowMs' | 'rateLimitHeaders' | 'hypervisor'
>;

import type { SimulatorRequestLogEntry } from './dispatch.js';
export type { SimulatorRequestLogEntry };

export interface Simulator {
  /** fetch-compatible handler: lets tests use the simulator with no port. A reset fault rejects with a TypeError like undici's 'fetch failed' (with cause code ECONNRESET). */
  fetch: typeof fetch;
  /** Serves one request in-process; rejects like `fetch` on a reset fault. */
  handle(request: Request): Promise<Response>;
  /** Listens on 127.0.0.1 (host configurable), port 0 = ephemeral; resolves with the base URL including `/core/v1`. A reset fault destroys the socket. */
  listen(options?: { port?: number; host?: string }): Promise<{ baseUrl: string; port: number }>;
  /** Stops listening (if listening) and drops open connections. */
  close(): Promise<void>;
  /** Merges new fault settings over the current ones. */
  setFaults(faults: SimulatorFaults): void;
  /** Sets one token's requests per window; wins over `rateLimitPerMinute`. */
  setTokenLimit(token: string, perWindow: number): void;
  /** Every request served, oldest first. */
  readonly requests: readonly SimulatorRequestLogEntry[];
  /** Requests matching a token and/or a path (with or without the `/core/v1` prefix). */
  countRequests(filter?: { token?: string; path?: string }): number;
  clearRequests(): void;
  /** Read access for tests to compute expected answers. */
  readonly dataset: SimulatorDataset;
  /** Organizations a token lists at `/organizations`; empty for an unknown token. */
  visibleOrganizations(token: string): OrganizationListItemDto[];
  /** The VMs the list endpoint pages through for a token and an organization (id or sub_domain), no filters; empty when the token cannot see it. */
  visibleVirtualMachines(token: string, organization: string): VirtualMachineListItemDto[];
  /** Packages a token may look up one by one: public ones plus its organizations' private ones. */
  visiblePackages(token: string): VirtualMachinePackageDto[];
}

function checkFaults(faults: SimulatorFaults): void {
  for (const key of ['failureRatio', 'resetRatio', 'malformedRatio'] as const) {
    const v = faults[key];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`${key} must be between 0 and 1, got ${v}`);
  }
  for (const key of ['latencyMs', 'rateLimitPerMinute'] as const) {
    const v = faults[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new RangeError(`${key} must be a non-negative integer, got ${v}`);
  }
  const w = faults.rateLimitWindowMs;
  if (w !== undefined && !(Number.isInteger(w) && w > 0)) throw new RangeError(`rateLimitWindowMs must be a positive integer, got ${w}`);
}

export function createSimulator(options: SimulatorOptions = {}): Simulator {
  checkFaults(options);
  const clock = options.clock ?? systemClock;
  const seed = options.seed ?? DEFAULT_SEED;
  const dataset = createDataset(seed);
  const settings: DispatchSettings = {
    latencyMs: options.latencyMs ?? 0,
    failureRatio: options.failureRatio ?? 0,
    resetRatio: options.resetRatio ?? 0,
    malformedRatio: options.malformedRatio ?? 0,
    rateLimitPerMinute: options.rateLimitPerMinute,
    rateLimitWindowMs: options.rateLimitWindowMs ?? 60_000,
    rateLimitHeaders: options.rateLimitHeaders ?? true,
    hypervisor: options.hypervisor ?? false,
  };
  const tokenLimits = new Map<string, number>();
  const requests: SimulatorRequestLogEntry[] = [];
  let server: SimulatorServer | null = null;

  const dispatch = createDispatcher({
    dataset,
    clock,
    // A different stream from the dataset's, so fault dice never shift the generated VMs.
    random: options.random ?? createRandom(seed ^ 0x5eed),
    limiter: createRateLimiter(clock),
    settings: () => settings,
    tokenLimits,
    log: (entry) => requests.push(entry),
  });

  const handleInput = async (input: DispatchInput): Promise<Response> => {
    const outcome = await dispatch(input);
    if (outcome.kind === 'reset') throw connectionResetError();
    return outcome.response;
  };
  const handle = async (request: Request): Promise<Response> =>
    handleInput({ method: request.method, url: new URL(request.url), headers: request.headers, body: request.body ? await request.text() : '' });

  const visibleOrgIds = (token: string) => identify(token)?.organizationIds ?? [];

  return {
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => handle(new Request(input, init))) as typeof fetch,
    handle,
    async listen(listenOptions = {}) {
      if (server) throw new Error('the simulator is already listening');
      server = await listenSimulator(dispatch, { port: listenOptions.port ?? 0, host: listenOptions.host ?? '127.0.0.1' });
      return { baseUrl: server.baseUrl, port: server.port };
    },
    async close() {
      const current = server;
      server = null;
      await current?.close();
    },
    setFaults(faults) {
      checkFaults(faults);
      for (const [key, value] of Object.entries(faults)) {
        if (value !== undefined || key === 'rateLimitPerMinute') (settings as unknown as Record<string, unknown>)[key] = value;
      }
    },
    setTokenLimit(token, perWindow) {
      if (!(Number.isInteger(perWindow) && perWindow >= 0)) throw new RangeError(`perWindow must be a non-negative integer, got ${perWindow}`);
      tokenLimits.set(token, perWindow);
    },
    get requests() {
      return requests;
    },
    countRequests(filter = {}) {
      const fingerprint = filter.token === undefined ? undefined : fingerprintToken(filter.token);
      return requests.filter(
        (r) =>
          (fingerprint === undefined || r.tokenFingerprint === fingerprint) &&
          (filter.path === undefined || r.path === filter.path || r.path === `/core/v1${filter.path.startsWith('/') ? '' : '/'}${filter.path}`),
      ).length;
    },
    clearRequests() {
      requests.length = 0;
    },
    dataset,
    visibleOrganizations: (token) => dataset.organizations.filter((o) => visibleOrgIds(token).includes(o.id)).map(organizationListItem),
    visibleVirtualMachines(token, organization) {
      const org = dataset.organizations.find((o) => o.id === organization || o.sub_domain === organization);
      if (!org || org.suspended || !visibleOrgIds(token).includes(org.id)) return [];
      return dataset.liveVirtualMachines(org.id).map((vm) => virtualMachineListItem(vm, settings.hypervisor));
    },
    visiblePackages: (token) =>
      dataset.packages.filter((p) => p.organizationId === null || visibleOrgIds(token).includes(p.organizationId)).map((p) => p.package),
  };
}
