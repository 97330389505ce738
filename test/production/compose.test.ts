import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE_PLACEHOLDER_PREFIX, CONFIG_VARIABLES, loadConfig, reportGeneratedSecrets } from '../../src/config.js';
import { simulatorOptionsFromEnv } from '../../src/simulator/index.js';
import { startLoopbackGateway, type LoopbackGateway } from '../helpers/gateway.js';

/**
 * No Docker engine runs in the test environment, so the container files are checked against
 * the code instead: every variable they set is one the code reads, the wiring between the
 * services agrees, and the health checks actually pass against live servers.
 */

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const read = (path: string) => readFileSync(root(path), 'utf8');

interface ComposeService {
  build?: unknown;
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | { target: number; published: string | number }>;
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string };
  stop_grace_period?: string;
  pull_policy?: string;
}

const compose = parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> };
const services = compose.services;
const simulatorService = services.simulator!;
const gatewayService = services.gateway!;

/** Compose's `${VAR:-default}` forms, resolved to their defaults so the result does not depend on this shell. */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{(\w+)(?::?[-?]([^}]*))?\}/g, (whole, _name, fallback: string | undefined) => (whole === '$$' ? '$' : (fallback ?? '')));
}

function environment(service: ComposeService): Record<string, string> {
  const raw = service.environment ?? {};
  const pairs = Array.isArray(raw) ? raw.map((entry) => entry.split(/=(.*)/s).slice(0, 2)) : Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)]);
  return Object.fromEntries(pairs.map(([name, value]) => [name, interpolate(value ?? '')]));
}

/** True when `simulatorOptionsFromEnv` reacts to the variable: it rejects a nonsense value or changes its result. */
function simulatorReads(name: string): boolean {
  const defaults = JSON.stringify(simulatorOptionsFromEnv({}));
  try {
    return JSON.stringify(simulatorOptionsFromEnv({ [name]: 'probe-not-a-valid-value' })) !== defaults;
  } catch (error) {
    return String(error).includes(name);
  }
}

function healthcheckScript(test: string[] | string | undefined): string {
  expect(Array.isArray(test), 'healthcheck.test should be an exec array, not a shell string').toBe(true);
  const [kind, program, flag, script] = test as string[];
  expect([kind, program, flag]).toEqual(['CMD', 'node', '-e']);
  return script!;
}

/** Runs a health-check script the way the container would, and resolves with its exit code. */
function runHealthcheck(script: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, ...env }, timeout: 15_000 }, (error) => {
      resolve(error ? (typeof error.code === 'number' ? error.code : -1) : 0);
    });
  });
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Instruction {
  keyword: string;
  args: string;
}

function dockerfile(): Instruction[] {
  const text = read('Dockerfile')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword = '', args = ''] = line.split(/\s+(.*)/s);
      return { keyword: keyword.toUpperCase(), args: args.trim() };
    });
}

const instructions = dockerfile();
const runtimeStage = instructions.slice(instructions.map((i) => i.keyword).lastIndexOf('FROM'));
const gatewayEnv = environment(gatewayService);
const simulatorEnv = environment(simulatorService);

describe('docker-compose.yml', () => {
  it('gives every service something to run: a build or an image', () => {
    expect(Object.keys(services).sort()).toEqual(['gateway', 'simulator']);
    for (const [name, service] of Object.entries(services)) {
      expect(service.build !== undefined || service.image !== undefined, `${name} has neither build nor image`).toBe(true);
    }
  });

  it('builds the image once: the other service uses it without building or pulling it', () => {
    const builders = Object.entries(services).filter(([, service]) => service.build !== undefined);
    expect(builders.map(([name]) => name)).toEqual(['gateway']);
    expect(simulatorService.image).toBe(gatewayService.image);
    expect(simulatorService.pull_policy).toBe('never');
  });

  it('gives the gateway time to finish in-flight requests and Katapult calls and write its last log lines before it is killed', () => {
    const seconds = /^(\d+)s$/.exec(gatewayService.stop_grace_period ?? '')?.[1];
    expect(seconds, 'stop_grace_period in seconds').toBeDefined();
    const config = loadConfig({ ...gatewayEnv });
    // After the grace period, Katapult calls already sent may take up to their timeout, and logs get up to 2 s (see exitAfterLogs).
    expect(Number(seconds) * 1000).toBeGreaterThan(config.http.shutdownGraceMs + config.http.shutdownDelayMs + config.upstream.timeoutMs + 2000);
  });

  it('sets only variables the gateway reads', () => {
    const known = new Set([...CONFIG_VARIABLES, 'NODE_ENV']);
    expect(Object.keys(gatewayEnv).filter((name) => !known.has(name))).toEqual([]);
  });

  it('sets only variables the simulator reads, with values it accepts', () => {
    expect(Object.keys(simulatorEnv).filter((name) => !simulatorReads(name))).toEqual([]);
    expect(simulatorOptionsFromEnv(simulatorEnv)).toMatchObject({ host: '0.0.0.0', port: Number(simulatorEnv.SIMULATOR_PORT) });
  });

  it("gives the gateway a configuration loadConfig accepts once the defaults are filled in", () => {
    const config = loadConfig(gatewayEnv);
    expect(config.host).toBe('0.0.0.0');
    expect(config.nodeEnv).toBe('production');
  });

  it('marks its stand-in secrets as such, so the gateway warns that they are still in use', () => {
    const env = environment(gatewayService);
    for (const name of ['CACHE_KEY_SECRET', 'CURSOR_SECRET']) expect(env[name], name).toMatch(new RegExp(`^${COMPOSE_PLACEHOLDER_PREFIX}`));
    const warnings: string[] = [];
    reportGeneratedSecrets(loadConfig(env), { info: () => undefined, warn: (_fields: unknown, message?: string) => void warnings.push(String(message)) } as never, false);
    expect(warnings).toEqual(["CACHE_KEY_SECRET and CURSOR_SECRET still hold the compose file's placeholder: set secrets of your own"]);
  });

  it('publishes the port the gateway listens on', () => {
    const { port } = loadConfig(gatewayEnv);
    expect(gatewayService.ports).toEqual([`${port}:${port}`]);
  });

  it('points the gateway at the simulator service on the port the simulator listens on', () => {
    const upstream = new URL(loadConfig(gatewayEnv).upstream.baseUrl!);
    expect(upstream.hostname).toBe('simulator');
    expect(Number(upstream.port)).toBe(simulatorOptionsFromEnv(simulatorEnv).port);
    expect(upstream.pathname).toBe('/core/v1');
  });

  it('starts the gateway only once the simulator is healthy', () => {
    expect(gatewayService.depends_on).toEqual({ simulator: { condition: 'service_healthy' } });
  });

  it('runs the simulator from its compiled entry point', () => {
    expect(simulatorService.command).toEqual(['node', 'dist/simulator/main.js']);
    expect(existsSync(root('src/simulator/main.ts'))).toBe(true);
  });
});

describe('health checks against live servers', () => {
  let gateway: LoopbackGateway;
  let simulatorPort = 0;
  let gatewayPort = 0;
  let nothingListening = 0;

  beforeAll(async () => {
    gateway = await startLoopbackGateway();
    simulatorPort = Number(new URL(gateway.upstreamUrl).port);
    gatewayPort = Number(new URL(gateway.url).port);
    nothingListening = await closedPort();
  });

  afterAll(() => gateway?.close());

  it("passes the simulator's compose check while it serves, and fails it when nothing listens", async () => {
    const script = healthcheckScript(simulatorService.healthcheck?.test);
    expect(await runHealthcheck(script, { SIMULATOR_PORT: String(simulatorPort) })).toBe(0);
    expect(await runHealthcheck(script, { SIMULATOR_PORT: String(nothingListening) })).not.toBe(0);
  });

  it("passes the gateway's compose check while it serves, and fails it when nothing listens", async () => {
    const script = healthcheckScript(gatewayService.healthcheck?.test);
    expect(await runHealthcheck(script, { PORT: String(gatewayPort) })).toBe(0);
    expect(await runHealthcheck(script, { PORT: String(nothingListening) })).not.toBe(0);
  });

  it("passes the image's HEALTHCHECK against a live gateway, using node rather than curl or wget", async () => {
    const healthcheck = runtimeStage.find((i) => i.keyword === 'HEALTHCHECK');
    expect(healthcheck?.args).not.toMatch(/\b(curl|wget)\b/);
    const command = JSON.parse(/\bCMD\s+(\[.*\])\s*$/s.exec(healthcheck?.args ?? '')?.[1] ?? 'null') as string[] | null;
    const script = healthcheckScript(command ? ['CMD', ...command] : undefined);
    expect(await runHealthcheck(script, { PORT: String(gatewayPort) })).toBe(0);
    expect(await runHealthcheck(script, { PORT: String(nothingListening) })).not.toBe(0);
  }, 30_000);
});

describe('Dockerfile', () => {
  it('compiles in a build stage and ships only production dependencies in the runtime stage', () => {
    expect(instructions.filter((i) => i.keyword === 'FROM').length).toBeGreaterThanOrEqual(2);
    expect(runtimeStage.some((i) => i.keyword === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(i.args))).toBe(true);
    expect(runtimeStage.some((i) => i.keyword === 'COPY' && /--from=\S+\s+\S*\/dist\s/.test(`${i.args} `))).toBe(true);
  });

  it('runs as a user other than root', () => {
    const user = runtimeStage.filter((i) => i.keyword === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
  });

  it('listens on all interfaces in production mode, on the port it exposes', () => {
    const env = runtimeStage.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    const port = /\bPORT=(\d+)\b/.exec(env)?.[1] ?? '4000';
    expect(runtimeStage.find((i) => i.keyword === 'EXPOSE')?.args).toBe(port);
  });

  it('starts dist/main.js, which is where npm run build compiles src/main.ts', () => {
    expect(JSON.parse(runtimeStage.filter((i) => i.keyword === 'CMD').at(-1)?.args ?? 'null')).toEqual(['node', 'dist/main.js']);
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
    const build = JSON.parse(read('tsconfig.build.json')) as { compilerOptions: { rootDir?: string; outDir?: string } };
    expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(root('src/main.ts'))).toBe(true);
  });

  it('copies into the build stage every file the build reads', () => {
    const copied = instructions.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src']));
  });
});

describe('.dockerignore', () => {
  it('keeps local installs, build output, test artifacts and git history out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((line) => line.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', 'bench']));
    expect(ignored.includes('test') || ignored.includes('test/artifacts')).toBe(true);
  });
});
