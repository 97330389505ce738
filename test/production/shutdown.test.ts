import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { createSimulator, DEMO_TOKENS } from '../../src/simulator/index.js';
import { bearer, ORG_NAME_QUERY, post, raw } from './gateway.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

/** Resolves with the first stdout text matching `pattern` (the process's output so far is kept). */
function waitForOutput(process: ChildProcess, output: { text: string }, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(output.text);
      if (match) {
        process.stdout?.off('data', check);
        resolve(match);
      }
    };
    process.stdout?.on('data', check);
    process.once('exit', (code) => reject(new Error(`exited with ${code} before printing ${pattern}:\n${output.text}`)));
    check();
  });
}

/**
 * `node --import tsx src/main.ts` itself (no wrapper script, so signals reach the gateway's own
 * handler) on the built-in simulator, with its output collected and its exit code awaited.
 */
function startProcess(extra: NodeJS.ProcessEnv): { proc: ChildProcess; output: { text: string }; exited: Promise<number | null> } {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1' };
  delete env.KATAPULT_API_URL;
  Object.assign(env, extra);
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { text: '' };
  child.stdout!.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
  const proc = child;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, output, exited };
}

describe('the process at start', () => {
  it('exits 1 naming the settings when it cannot listen, and with the bad variables when the configuration is invalid', async () => {
    const run = (extra: NodeJS.ProcessEnv) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent', ...extra };
        delete env.KATAPULT_API_URL;
        const started = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        started.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        started.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        started.once('exit', (code) => resolve({ code, output }));
      });
    const [unlistenable, invalid] = await Promise.all([run({ HOST: 'no-such-host.invalid', PORT: '0' }), run({ PORT: '0x1F90', CURSOR_SECRET: 'secret-but-too-short' })]);
    expect(unlistenable.code).toBe(1);
    expect(unlistenable.output).toContain('Could not listen on HOST=no-such-host.invalid PORT=0');
    expect(invalid.code).toBe(1);
    expect(invalid.output).toContain('PORT: expected an integer from 0 to 65535, got "0x1F90"');
    expect(invalid.output).not.toContain('secret-but-too-short');
    expect(invalid.output).not.toMatch(/\n\s+at /);
  }, 30_000);
});

describe('the process\'s output', () => {
  it('is one JSON object per line when it runs against a real upstream and stdout is not a terminal', async () => {
    const simulator = createSimulator();
    const { baseUrl } = await simulator.listen({ port: 0, host: '127.0.0.1' });
    onTestFinished(() => simulator.close());
    const { proc, output, exited } = startProcess({ LOG_LEVEL: 'info', KATAPULT_API_URL: baseUrl });
    const [line] = await waitForOutput(proc, output, /^\{.*"msg":"gateway started".*\}$/m);
    expect(JSON.parse(line).upstream).toBe(baseUrl);
    // And whether that address is Katapult's, before any client asks.
    await waitForOutput(proc, output, /^\{.*"msg":"Katapult answers at the configured address".*\}$/m);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = output.text.split('\n').filter((text) => text.trim() !== '');
    expect(lines.length).toBeGreaterThan(1);
    for (const text of lines) expect(() => JSON.parse(text), text).not.toThrow();
  }, 30_000);
});

describe('the process with METRICS_PORT', () => {
  it('serves /metrics on that port alone, says where at start, and closes it on SIGTERM', async () => {
    const { proc, output, exited } = startProcess({ LOG_LEVEL: 'info', METRICS_PORT: '0' });
    const [, metricsUrl] = await waitForOutput(proc, output, /"metricsUrl":"(http:\/\/[\d.]+:\d+\/metrics)"/);
    const [, url] = await waitForOutput(proc, output, /"url":"(http:\/\/[\d.]+:\d+)"/);
    expect(output.text).toContain(`Prometheus metrics at ${metricsUrl}`);
    expect((await raw(metricsUrl!)).text).toMatch(/^# TYPE graphql_requests_total counter$/m);
    expect((await raw(`${url}/metrics`)).status).toBe(404);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(raw(metricsUrl!)).rejects.toThrow();
  }, 30_000);
});

describe('the process on SIGTERM', () => {
  it('stops accepting, finishes the request in flight, and exits 0', async () => {
    const { proc, output, exited } = startProcess({ LOG_LEVEL: 'debug', SIMULATOR_LATENCY_MS: '500', SHUTDOWN_GRACE_MS: '10000', HEAP_GROWTH_PERCENT: '25' });
    const [, url] = await waitForOutput(proc, output, /GraphQL and GraphiQL at (http:\/\/[\d.]+:\d+)\/graphql/);
    // The entry point applies the process-wide V8 settings from the configuration.
    await waitForOutput(proc, output, /"v8Flags":\["--heap-growing-percent=25"\]/);
    const slow = post(`${url}/graphql`, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    // yoga logs this at debug once it holds the request: from here on it is in flight.
    await waitForOutput(proc, output, /Parsing request to extract GraphQL parameters/);

    proc.kill('SIGTERM');
    await waitForOutput(proc, output, /shutting down: finishing in-flight requests/);
    await expect(raw(`${url}/health`)).rejects.toThrow();

    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(answer.json.data.organization.name).toBe('Globex Corporation');
    expect(await exited).toBe(0);
    expect(output.text).toMatch(/"msg":"stopped"/);
  }, 30_000);

  it('with SHUTDOWN_DELAY_MS, fails /ready but serves on; a second signal ends the delay and it exits 0', async () => {
    const { proc, output, exited } = startProcess({ LOG_LEVEL: 'info', SHUTDOWN_DELAY_MS: '600000' });
    const [, url] = await waitForOutput(proc, output, /GraphQL and GraphiQL at (http:\/\/[\d.]+:\d+)\/graphql/);

    proc.kill('SIGTERM');
    await waitForOutput(proc, output, /serving on until the delay is up/);
    expect((await raw(`${url}/ready`)).status).toBe(503);
    const answer = await post(`${url}/graphql`, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    expect(answer.json.data.organization.name).toBe('Globex Corporation');
    expect(output.text).not.toMatch(/finishing in-flight requests/);

    // Later than a signal delivered twice (see the next test): a second one, as a person sends it.
    await new Promise((resolve) => setTimeout(resolve, 600));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output.text).toMatch(/finishing in-flight requests[\s\S]*"msg":"stopped"/);
  }, 30_000);

  /** `npm start` as the README runs it, in a process group of its own, as a terminal's foreground job is. */
  async function npmStart(extra: NodeJS.ProcessEnv) {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug', SIMULATOR_LATENCY_MS: '1500', ...extra };
    delete env.KATAPULT_API_URL;
    const npm = process.env.npm_execpath;
    const options: SpawnOptions = { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true };
    child = npm && npm.endsWith('.js') ? spawn(process.execPath, [npm, 'start'], options) : spawn('npm', ['start'], options);
    const started = child;
    const group = started.pid!;
    onTestFinished(() => {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // Already gone, as it should be.
      }
    });
    const output = { text: '' };
    started.stdout!.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
    started.stderr!.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
    const exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
    const [, url] = await waitForOutput(started, output, /GraphQL and GraphiQL at (http:\/\/[\d.]+:\d+)\/graphql/);
    // What a terminal does on Ctrl-C: the signal to every process in the foreground group.
    const ctrlC = () => process.kill(-group, 'SIGINT');
    return { started, output, exited, url: url!, ctrlC };
  }

  it('finishes the request in flight when Ctrl-C reaches the whole process group under `npm start` (two deliveries, one signal)', async () => {
    const { started, output, exited, url, ctrlC } = await npmStart({ SHUTDOWN_DELAY_MS: '0' });
    const slow = post(`${url}/graphql`, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    await waitForOutput(started, output, /Parsing request to extract GraphQL parameters/);

    ctrlC();
    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(answer.json.data.organization.name).toBe('Globex Corporation');
    await exited;
    expect(output.text).not.toMatch(/stopping at once/);
    expect(output.text).toMatch(/"msg":"stopped"/);
  }, 30_000);

  it('under `npm start` with a delay, a second Ctrl-C ends the delay and still lets the request in flight finish', async () => {
    const { started, output, exited, url, ctrlC } = await npmStart({ SHUTDOWN_DELAY_MS: '60000' });
    ctrlC();
    await waitForOutput(started, output, /serving on until the delay is up/);
    const slow = post(`${url}/graphql`, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    await waitForOutput(started, output, /Parsing request to extract GraphQL parameters/);
    await new Promise((resolve) => setTimeout(resolve, 600));

    ctrlC();
    const answer = await slow;
    expect(answer.status).toBe(200);
    await exited;
    expect(output.text).not.toMatch(/stopping at once/);
    expect(output.text).toMatch(/finishing in-flight requests[\s\S]*"msg":"stopped"/);
  }, 30_000);

  it('reaches the gateway through `npm start` too (the script execs, so no shell sits in between)', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' };
    delete env.KATAPULT_API_URL;
    // npm as the README runs it; under `npm test` its own CLI, else the one on PATH.
    const npm = process.env.npm_execpath;
    // Its own process group, so whatever it leaves behind can be cleaned up if this test fails.
    const options: SpawnOptions = { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true };
    child = npm && npm.endsWith('.js') ? spawn(process.execPath, [npm, 'start'], options) : spawn('npm', ['start'], options);
    const group = child.pid!;
    onTestFinished(() => {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // Already gone, as it should be.
      }
    });
    const output = { text: '' };
    child.stdout!.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    const [, url] = await waitForOutput(child, output, /GraphQL and GraphiQL at (http:\/\/[\d.]+:\d+)\/graphql/);
    expect((await raw(`${url}/health`)).status).toBe(200);

    child.kill('SIGTERM');
    await exited;
    // The gateway itself stopped: nothing answers at its address any more.
    await expect(raw(`${url}/health`)).rejects.toThrow();
  }, 30_000);
});
