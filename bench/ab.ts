import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_TOKENS, LOAD_TOKEN_PREFIX, VM_COUNTS } from '../src/simulator/index.js';
import { assertAnswer, postGraphQL } from './harness/bench-run.js';
import { freePort, installExitHandlers, killAllChildren, startChild, waitForHttp } from './harness/children.js';
import { prepareGateway } from './harness/main.js';
import { dashboard, probe } from './harness/queries.js';
import { startSimulator } from './harness/simulator.js';
import { median, percentile } from './harness/stats.js';
import { gatewayEnv, SYSTEMS } from './harness/systems.js';
import { createVariedSequence, FULL_SELECTION, SELECTION_COUNT, variedBody, variedWindows, windowsNeeded, type VariedWorkload } from './harness/varied.js';
import { COLD_ORGANIZATION } from './scenarios/cold.js';
import { listAll, THROUGHPUT_ORGANIZATION } from './scenarios/throughput.js';

/**
 * Two builds of the gateway side by side under P1b's workload (warm REST data, every request
 * body new): `npm run bench:ab -- <ref>` compares the commit <ref> (A) with the work tree (B),
 * `npm run bench:ab -- <refA> <refB>` two commits. Both run at once, each in its own process;
 * the load switches between them every slice, and the ratio is taken within each pair of
 * slices. On machines whose speed drifts by tens of per cent from one minute to the next (these
 * 2-core VMs), this shows changes that a full run's rounds cannot: two identical builds gave
 * 0.95 to 1.02 with the defaults, and 1.15 once with 20 pairs of half-second slices. Repeat a
 * run before trusting a difference of less than about 5 %.
 * AB_SLICES (pairs, default 60) and AB_SLICE_MS (default 300) set its length.
 *
 * With AB_MODE=cold it compares P4's workload instead: cold dashboards (a new token each, made
 * known first with a probe, as P4 does), one at a time, to A and to B in turn, the order
 * alternating; AB_COLD_PAIRS (default 600) are measured after AB_COLD_WARMUP (default 200)
 * unmeasured. It prints each side's median and the median of the differences B − A within
 * pairs: P4's figure moves by a millisecond or more from run to run, the paired difference
 * by much less.
 *
 * AB_A_NODE_ARGS and AB_B_NODE_ARGS (space-separated) give one side's node process options of
 * its own, to compare a runtime flag on one build: `AB_B_NODE_ARGS=--max-semi-space-size=32
 * npm run bench:ab -- HEAD HEAD`.
 */
const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');
const TOKEN = DEMO_TOKENS.acme;
const CONNECTIONS = 10;
const pairs = Number(process.env.AB_SLICES ?? 60);
const sliceMs = Number(process.env.AB_SLICE_MS ?? 300);
const mode = process.env.AB_MODE ?? 'warm';
if (mode !== 'warm' && mode !== 'cold') {
  console.error(`AB_MODE is "warm" (P1b's workload, the default) or "cold" (P4's), not "${mode}"`);
  process.exit(2);
}
const coldPairs = Number(process.env.AB_COLD_PAIRS ?? 600);
const coldWarmup = Number(process.env.AB_COLD_WARMUP ?? 200);

const [refA, refB] = process.argv.slice(2);
if (!refA) {
  console.error('usage: npm run bench:ab -- <ref A> [<ref B>]   (B defaults to the work tree)');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'gateway-ab-'));
const worktrees: string[] = [];
installExitHandlers();

/** A checkout of `ref`, or the work tree itself when `ref` is undefined. */
function checkout(side: string, ref: string | undefined): string {
  if (ref === undefined) return repoRoot;
  const dir = join(work, `tree-${side}`);
  execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: repoRoot, stdio: 'ignore' });
  worktrees.push(dir);
  // The compiler resolves the sources' imports and types from here.
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const lock = (root: string) => readFileSync(join(root, 'package-lock.json'), 'utf8');
  if (lock(dir) !== lock(repoRoot)) console.warn(`  ${side} (${ref}) has another package-lock.json: it runs with the work tree's node_modules`);
  return dir;
}

/** CPU time (ms) of a process's main thread, where /proc says it; null elsewhere. */
function mainThreadCpuMs(pid: number): number | null {
  const path = `/proc/${pid}/task/${pid}/stat`;
  if (!existsSync(path)) return null;
  const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function post(url: string, agent: http.Agent, body: string): Promise<boolean> {
  return new Promise((done, fail) => {
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'content-length': Buffer.byteLength(body) } }, (response) => {
      response.resume();
      response.on('end', () => done(response.statusCode === 200));
    });
    request.on('error', fail);
    request.end(body);
  });
}

try {
  const simulator = await startSimulator({ repoRoot, latencyMs: 20, script: join(benchDir, 'harness/simulator-child.ts') });
  const sides: Side[] = [];
  // Stopped with SIGTERM before the rest are killed, so a side run with --cpu-prof (or any
  // exit-time option) gets to write its output.
  const children: Array<{ stop(graceMs?: number): Promise<void> }> = [];
  const notes: string[] = [];
  for (const [side, ref] of [['A', refA], ['B', refB]] as const) {
    const root = checkout(side, ref);
    const buildDir = join(work, `build-${side}`);
    mkdirSync(buildDir);
    // Compiled as the full bench compiles the gateway (tsx on the sources if that fails, said in `notes`).
    const { command } = await prepareGateway(root, buildDir, notes);
    const port = await freePort();
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...gatewayEnv({ simulatorBaseUrl: simulator.baseUrl } as Parameters<typeof gatewayEnv>[0], port) };
    const nodeArgs = (process.env[`AB_${side}_NODE_ARGS`] ?? '').split(' ').filter(Boolean);
    const child = startChild(`gateway ${side}`, command.command, [...nodeArgs, ...command.args], { cwd: root, env });
    await waitForHttp(child, `http://127.0.0.1:${port}/health`);
    children.push(child);
    sides.push({ side, label: `${ref ?? 'work tree'}${nodeArgs.length ? ` with ${nodeArgs.join(' ')}` : ''}`, url: `http://127.0.0.1:${port}/graphql`, pid: child.process.pid!, agent: new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS }), counts: [] as number[], cpu: [] as number[] });
  }

  if (mode === 'cold') {
    await comparedCold(sides);
  } else {
    await comparedWarm(sides);
  }
  for (const note of notes) console.log(`note: ${note}`);
  await Promise.all(children.map((child) => child.stop(10_000)));
  await simulator.stop();
} finally {
  killAllChildren();
  for (const dir of worktrees) execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: repoRoot, stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);

interface Side {
  side: string;
  label: string;
  url: string;
  pid: number;
  agent: http.Agent;
  counts: number[];
  cpu: number[];
}

/** P4's client: a cold dashboard with a token made known first, timed as `fetch` sees it (and parsed, alike on both sides). */
async function coldQuery(url: string, token: string): Promise<number> {
  await postGraphQL(url, probe('katapult'), token);
  const started = performance.now();
  const answer = await postGraphQL(url, dashboard('katapult', COLD_ORGANIZATION), token);
  const elapsed = performance.now() - started;
  assertAnswer('a cold dashboard', answer, '"virtualMachines"');
  return elapsed;
}

async function comparedCold(sides: Side[]): Promise<void> {
  const [a, b] = sides as [Side, Side];
  const times = { A: [] as number[], B: [] as number[] };
  const differences: number[] = [];
  for (let i = 0; i < coldWarmup + coldPairs; i++) {
    // A new token per query and side, as P4 uses, so every dashboard is cold.
    const tokenFor = (side: string) => `${LOAD_TOKEN_PREFIX}ab_${side}_${i}_${process.pid}`;
    const order = i % 2 === 0 ? [a, b] : [b, a];
    const measured: Record<string, number> = {};
    for (const s of order) measured[s.side] = await coldQuery(s.url, tokenFor(s.side));
    if (i < coldWarmup) continue;
    times.A.push(measured.A!);
    times.B.push(measured.B!);
    differences.push(measured.B! - measured.A!);
  }
  for (const s of sides) console.log(`${s.side} (${s.label}): cold dashboard p50 ${median(times[s.side as 'A' | 'B']).toFixed(2)} ms over ${coldPairs}`);
  console.log(
    `B − A: median of pairs ${signedMs(median(differences))} (quartiles ${signedMs(percentile(differences, 25))} and ${signedMs(percentile(differences, 75))}); of the medians ${signedMs(median(times.B) - median(times.A))}`,
  );
}

function signedMs(ms: number): string {
  return `${ms >= 0 ? '+' : '−'}${Math.abs(ms).toFixed(2)} ms`;
}

async function comparedWarm(sides: Side[]): Promise<void> {
  // Every item's cursor (the same for both: the same cursor secret), walking the list as P1b does.
  const { cursors } = await listAll({ url: sides[0]!.url, spec: SYSTEMS.find((system) => system.id === 'gateway')! });
  const workload: VariedWorkload = {
    flavor: 'katapult',
    organization: THROUGHPUT_ORGANIZATION,
    windows: variedWindows(VM_COUNTS[THROUGHPUT_ORGANIZATION].live, windowsNeeded((pairs * sliceMs) / 1000 + 10)),
    cursors,
  };
  // Warm on both: every window (every selection's REST data), and every document once, with bodies the load never sends.
  for (const { url } of sides) {
    for (const window of workload.windows) await postGraphQL(url, variedBody(workload, FULL_SELECTION, window, 'AbWarmWindow'), TOKEN);
    for (let mask = 0; mask < SELECTION_COUNT; mask++) await postGraphQL(url, variedBody(workload, mask, { first: 1, start: 0 }), TOKEN);
  }

  const sequences = new Map(sides.map((s) => [s.side, createVariedSequence(workload)]));
  // Two slices each unmeasured (connections, JIT), then the measured pairs.
  for (let slice = 0; slice < 2 * (pairs + 2); slice++) {
    const s = sides[slice % 2]!;
    const sequence = sequences.get(s.side)!;
    const end = Date.now() + sliceMs;
    let answered = 0;
    let failed = 0;
    const cpuBefore = mainThreadCpuMs(s.pid);
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (Date.now() < end) (await post(s.url, s.agent, sequence.next())) ? answered++ : failed++;
      }),
    );
    const cpuAfter = mainThreadCpuMs(s.pid);
    if (failed) throw new Error(`${s.side}: ${failed} answers were not 200`);
    if (slice >= 4) {
      s.counts.push(answered);
      if (cpuBefore !== null && cpuAfter !== null && answered > 0) s.cpu.push((cpuAfter - cpuBefore) / answered);
    }
  }
  const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]];
  const ratios = a.counts.map((count, i) => b.counts[i]! / count);
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  for (const s of sides) {
    const cpu = s.cpu.length ? `, main-thread CPU ${median(s.cpu).toFixed(3)} ms a request (median)` : '';
    console.log(`${s.side} (${s.label}): ${median(s.counts)} answers a slice (median), ${sum(s.counts)} in all${cpu}`);
  }
  console.log(`B/A per pair: ${ratios.map((r) => r.toFixed(2)).join(' ')}`);
  console.log(
    `B/A: median of pairs ${median(ratios).toFixed(3)} (quartiles ${percentile(ratios, 25).toFixed(2)} and ${percentile(ratios, 75).toFixed(2)}), of the totals ${(sum(b.counts) / sum(a.counts)).toFixed(3)}`,
  );
}
