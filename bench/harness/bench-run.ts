import type { BenchConfig } from './config.js';
import { runLoad, type LoadJob } from './load.js';
import type { SimulatorHandle } from './simulator.js';
import { startSystem, type RunningSystem, type SystemContext, type SystemSpec } from './systems.js';

/** Everything a scenario needs: settings, the simulator, the systems and the load generator. */
export interface BenchRun {
  config: BenchConfig;
  context: SystemContext;
  simulator: SimulatorHandle;
  /** A suffix that makes this run's tokens unique. */
  nonce: string;
  load: <J extends LoadJob>(job: J, timeoutMs?: number) => ReturnType<typeof runLoad<J>>;
  log(message: string): void;
}

export function createBenchRun(options: Omit<BenchRun, 'load' | 'log'> & { loadScript: string }): BenchRun {
  const { loadScript, ...rest } = options;
  return {
    ...rest,
    load: (job, timeoutMs = 120_000) => runLoad(job, { repoRoot: options.context.repoRoot, script: loadScript, timeoutMs }),
    log: (message) => console.log(`  ${message}`),
  };
}

/** Starts a system, runs `use`, and always stops it. */
export async function withSystem<T>(run: BenchRun, spec: SystemSpec, use: (system: RunningSystem) => Promise<T>, extraEnv: Record<string, string> = {}): Promise<T> {
  const system = await startSystem(spec, run.context, extraEnv);
  try {
    return await use(system);
  } finally {
    await system.stop();
  }
}

/** One GraphQL POST from the harness (setup and checks only; load goes through the load generator). */
export async function postGraphQL(url: string, body: string, token: string): Promise<{ status: number; text: string; json: { data?: unknown; errors?: unknown[] } | null }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
  const text = await response.text();
  let json: { data?: unknown; errors?: unknown[] } | null = null;
  try {
    json = JSON.parse(text) as { data?: unknown; errors?: unknown[] };
  } catch {
    json = null;
  }
  return { status: response.status, text, json };
}

/** Throws unless the answer is a 200 with data, no errors and the expected text. */
export function assertAnswer(label: string, answer: Awaited<ReturnType<typeof postGraphQL>>, expect: string): void {
  if (answer.status !== 200 || !answer.json || answer.json.errors || !answer.text.includes(expect)) {
    throw new Error(`${label}: unexpected answer (HTTP ${answer.status}): ${answer.text.slice(0, 500)}`);
  }
}

/** Text every good answer contains: a non-empty VM list. */
export const EXPECT: Record<'katapult' | 'mesh', string> = { katapult: '"edges":[{', mesh: '"virtual_machines":[{' };
/** Text every good answer contains when the list may be empty. */
export const EXPECT_LIST: Record<'katapult' | 'mesh', string> = { katapult: '"edges":[', mesh: '"virtual_machines":[' };
