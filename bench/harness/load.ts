import { startTsChild } from './children.js';
import type { AutocannonSummary, BurstOutcome, LoadJob, OverheadSamples, PoolSummary } from './load-child.js';

export type { AutocannonSummary, BurstOutcome, HttpRequestSpec, LoadJob, OverheadSample, OverheadSamples, PoolSummary } from './load-child.js';

type ResultOf<J extends LoadJob> = J extends { kind: 'autocannon' }
  ? AutocannonSummary
  : J extends { kind: 'burst' }
    ? BurstOutcome[]
    : J extends { kind: 'pool' }
      ? PoolSummary
      : OverheadSamples;

/** Runs one load job in a fresh load-generator process and returns what it printed. */
export async function runLoad<J extends LoadJob>(job: J, options: { repoRoot: string; script: string; timeoutMs: number }): Promise<ResultOf<J>> {
  const child = startTsChild(`load (${job.kind})`, options.script, [], { cwd: options.repoRoot, stdin: true });
  let stdout = '';
  child.process.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.process.stdin?.end(JSON.stringify(job));
  const timer = setTimeout(() => void child.stop(500), options.timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`the load generator failed (${code}):\n${child.output().slice(-2000)}`);
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as ResultOf<J>;
}
