import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { runCold } from '../scenarios/cold.js';
import { runMemory } from '../scenarios/memory.js';
import { runRateLimit } from '../scenarios/rate-limit.js';
import { runThroughput, THROUGHPUT_ORGANIZATION } from '../scenarios/throughput.js';
import { createBenchRun, postGraphQL, assertAnswer, EXPECT, withSystem } from './bench-run.js';
import { installExitHandlers, killAllChildren, startChild } from './children.js';
import { loadBenchConfig, type ScenarioId } from './config.js';
import { dashboard } from './queries.js';
import { evaluateTargets, renderMarkdown, type BenchResults } from './report.js';
import { startSimulator } from './simulator.js';
import { GATEWAY_SETTINGS_NOTE, SYSTEMS, type SystemContext, type SystemSpec } from './systems.js';
import { collectVersions } from './versions.js';

/**
 * The bench: builds the gateway, starts the simulator, composes the Mesh supergraph, captures
 * the limit's fixed answer, then runs P1/P1b, P2–P4, P5 and P6 (or those BENCH_SCENARIOS
 * names) and writes the results: results/latest.* for a complete run, results/partial.* otherwise.
 */
const OPENAPI_RELATIVE = '../shared/upstream/katapult-core-v1-openapi.json';

async function runToEnd(name: string, command: string, args: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const child = startChild(name, command, args, { cwd });
  const timer = setTimeout(() => void child.stop(500), timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, output: child.output() };
}

/**
 * Compiles the gateway with tsconfig.build.json, as `npm run build` does, but without the type
 * check (`npm test` does that; here only the JavaScript matters) and into the bench's own
 * temporary folder (the work tree's dist/ belongs to whoever else is building), with a
 * package.json marking it ESM and a link to the repository's node_modules. Falls back to tsx
 * on the sources when the build fails.
 */
export async function prepareGateway(repoRoot: string, workDir: string, notes: string[]): Promise<{ command: { command: string; args: string[] }; mode: string }> {
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
  const outRoot = join(workDir, 'gateway');
  const entry = join(outRoot, 'dist/main.js');
  const started = Date.now();
  const build = await runToEnd('tsc', process.execPath, [tsc, '-p', 'tsconfig.build.json', '--noCheck', '--outDir', join(outRoot, 'dist')], repoRoot, 180_000);
  if (build.code === 0 && existsSync(entry)) {
    writeFileSync(join(outRoot, 'package.json'), '{ "type": "module" }\n');
    symlinkSync(join(repoRoot, 'node_modules'), join(outRoot, 'node_modules'), 'dir');
    console.log(`  compiled the gateway (tsc -p tsconfig.build.json --noCheck) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { command: { command: process.execPath, args: [entry] }, mode: 'node on its tsc build (tsconfig.build.json)' };
  }
  const reason = build.output.trim().split('\n').slice(0, 5).join(' / ');
  notes.push(`The gateway did not compile (${reason}); it ran from its sources with tsx instead.`);
  console.log(`  tsc failed, running the gateway with tsx instead: ${reason}`);
  return { command: { command: process.execPath, args: ['--import', 'tsx', 'src/main.ts'] }, mode: 'node --import tsx src/main.ts (the build failed)' };
}

async function composeMesh(repoRoot: string, benchDir: string, simulatorBaseUrl: string, workDir: string): Promise<{ path: string | null; reason: string | null }> {
  const openapi = resolve(repoRoot, OPENAPI_RELATIVE);
  if (!existsSync(openapi)) {
    const reason = `Katapult's OpenAPI document is not at ${OPENAPI_RELATIVE} (relative to the repository)`;
    console.log(`  Mesh/Hive skipped: ${reason}`);
    return { path: null, reason };
  }
  const output = join(workDir, 'supergraph.graphql');
  const started = Date.now();
  const result = await runToEnd('mesh compose', process.execPath, ['--import', 'tsx', join(benchDir, 'peers/mesh/compose.ts'), openapi, simulatorBaseUrl, output], repoRoot, 180_000);
  if (result.code !== 0 || !existsSync(output)) {
    const reason = `composition failed: ${result.output.trim().split('\n').slice(-3).join(' / ')}`;
    console.log(`  Mesh/Hive skipped: ${reason}`);
    return { path: null, reason };
  }
  console.log(`  composed the Mesh supergraph in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { path: output, reason: null };
}

export async function main(repoRoot: string, benchDir: string): Promise<void> {
  installExitHandlers();
  const startedAt = Date.now();
  const config = loadBenchConfig(process.env);
  const notes: string[] = [];
  const workDir = mkdtempSync(join(tmpdir(), 'katapult-bench-'));
  // Also on Ctrl-C, when the finally below never runs (the link inside is removed, not followed).
  process.once('exit', () => rmSync(workDir, { recursive: true, force: true }));
  // The limit only takes part in P1.
  const selected = SYSTEMS.filter((s) => (!config.only || config.only.includes(s.id) || s.id === 'gateway') && (s.id !== 'limit' || config.scenarios.has('p1')));
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      quick: config.quick,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      cores: cpus().length,
      memoryBytes: totalmem(),
      loadAverageAtStart: loadavg(),
      settings: { ...config, scenarios: [...config.scenarios] },
      gatewayRunMode: '',
      versions: collectVersions(repoRoot, benchDir),
    },
    systems: Object.fromEntries(selected.map((s) => [s.id, { label: s.label, measured: true }])),
    targets: [],
    notes,
  };
  const phase = (name: string) => console.log(`\n[${((Date.now() - startedAt) / 1000).toFixed(0).padStart(3)} s] ${name}`);

  try {
    phase('setup');
    const gateway = await prepareGateway(repoRoot, workDir, notes);
    results.meta.gatewayRunMode = gateway.mode;
    notes.push(GATEWAY_SETTINGS_NOTE);
    if (config.gatewayNodeArgs.length) notes.push(`The gateway ran with node options ${config.gatewayNodeArgs.join(' ')} (BENCH_GATEWAY_NODE_ARGS): its figures are not comparable with a run without them.`);
    const simulator = await startSimulator({ repoRoot, latencyMs: config.latencyMs, script: join(benchDir, 'harness/simulator-child.ts') });
    console.log(`  simulator at ${simulator.baseUrl} (${config.latencyMs} ms latency)`);
    const wantsMesh = selected.some((s) => s.flavor === 'mesh');
    const mesh = wantsMesh ? await composeMesh(repoRoot, benchDir, simulator.baseUrl, workDir) : { path: null, reason: null };
    const context: SystemContext = { repoRoot, benchDir, simulatorBaseUrl: simulator.baseUrl, gatewayCommand: gateway.command, gatewayNodeArgs: config.gatewayNodeArgs, supergraphPath: mesh.path, limitBodyPath: null };
    let systems: SystemSpec[] = selected.filter((s) => s.flavor !== 'mesh' || mesh.path !== null);
    for (const s of selected) {
      if (s.flavor === 'mesh' && mesh.path === null) results.systems[s.id] = { label: s.label, measured: false, reason: mesh.reason ?? '' };
    }
    if (mesh.path) {
      notes.push(
        "Mesh/Hive's response cache takes the smallest max-age of the REST responses behind an answer and Katapult sends max-age=0 on everything, so enabled as documented it caches nothing; the cached variant rewrites that header to 20 s (see bench/peers/mesh/gateway.ts).",
      );
    }
    const run = createBenchRun({ config, context, simulator, nonce: randomBytes(4).toString('hex'), loadScript: join(benchDir, 'harness/load-child.ts') });

    const gatewaySpec = systems.find((s) => s.id === 'gateway')!;
    const has = (id: ScenarioId) => config.scenarios.has(id);
    if (has('p1')) {
      // The limit answers with the gateway's own bytes for the dashboard query.
      await simulator.setTokenLimit(DEMO_TOKENS.acme, 1_000_000_000);
      const answer = await withSystem(run, gatewaySpec, async (system) => {
        const body = dashboard('katapult', THROUGHPUT_ORGANIZATION);
        assertAnswer('gateway dashboard', await postGraphQL(system.url, body, DEMO_TOKENS.acme), EXPECT.katapult);
        return postGraphQL(system.url, body, DEMO_TOKENS.acme);
      });
      context.limitBodyPath = join(workDir, 'dashboard-answer.json');
      writeFileSync(context.limitBodyPath, answer.text);
      console.log(`  the gateway's dashboard answer is ${Buffer.byteLength(answer.text)} bytes; the limit serves exactly those`);
    }
    if (has('p1') || has('p1b')) {
      phase(`${[has('p1') ? 'P1' : '', has('p1b') ? 'P1b' : ''].filter(Boolean).join(' / ')}: warm throughput, ${config.rounds} round(s)`);
      const throughput = await runThroughput(run, has('p1') ? systems : systems.filter((s) => s.id !== 'limit'), { p1: has('p1'), p1b: has('p1b') });
      if (throughput.p1) results.p1 = { ...throughput.p1, query: (JSON.parse(dashboard('katapult', THROUGHPUT_ORGANIZATION)) as { query: string }).query };
      if (throughput.p1b) {
        results.p1b = throughput.p1b;
        notes.push(
          `P1b sends a new request body every time: ${throughput.p1b.selections} selections × ${throughput.p1b.windows} windows (first 1–100, page-aligned, each after a cursor collected in warm-up; Mesh gets the same windows as per_page/page), so no finished-response cache (the gateway's, Apollo's plugin, Hive's) can answer any of them; the REST data underneath is warmed first (the list walked once, every window and every selection asked for once with bodies the load never sends). Checked per round: no body repeated, and the gateway's response_cache_hits_total did not grow during P1b.`,
        );
        if (throughput.p1b.problems.length) notes.push(`P1b FAILED its no-response-cache check: ${throughput.p1b.problems.join('; ')}.`);
      }
    }
    systems = systems.filter((s) => s.id !== 'limit');

    if (has('p2') || has('p3') || has('p4')) {
      phase(`${(['p2', 'p3', 'p4'] as const).filter(has).map((s) => s.toUpperCase()).join(' / ')}: cold path (fresh process per system)`);
      Object.assign(results, await runCold(run, systems, { p2: has('p2'), p3: has('p3'), p4: has('p4') }));
    }
    if (has('p5')) {
      phase(`P5: burst of 10× a token's budget (${config.burstLimit} per ${config.burstWindowMs} ms)`);
      results.p5 = await runRateLimit(run, systems);
    }
    if (has('p6')) {
      phase(`P6: memory with ${config.memoryTokens.toLocaleString('en')} warm tokens`);
      try {
        results.p6 = await runMemory(run, gatewaySpec);
      } catch (error) {
        results.p6 = { notMeasured: (error as Error).message };
        console.log(`  P6 failed: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    await simulator.stop();
  } catch (error) {
    // Whatever was measured so far is still written, with the reason the run stopped.
    notes.push(`The run stopped early: ${(error as Error).message.split('\n')[0]}`);
    console.error(`\nbench failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  } finally {
    killAllChildren();
    rmSync(workDir, { recursive: true, force: true });
  }

  results.meta.durationS = Math.round((Date.now() - startedAt) / 1000);
  results.targets = evaluateTargets(results);
  const markdown = renderMarkdown(results);
  const out = join(benchDir, 'results');
  mkdirSync(out, { recursive: true });
  // Only a run of every scenario and every system replaces latest.*; a narrowed one goes beside it.
  const name = config.complete ? 'latest' : 'partial';
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(out, `${name}.md`), markdown);
  phase(`done in ${results.meta.durationS} s; wrote bench/results/${name}.json and ${name}.md${config.complete ? '' : ' (a partial run: latest.* untouched)'}`);
  console.log(`\n${markdown}`);
}
