import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
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

describe('the process on SIGTERM', () => {
  it('stops accepting, finishes the request in flight, and exits 0', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug', SIMULATOR_LATENCY_MS: '500', SHUTDOWN_GRACE_MS: '10000', HEAP_GROWTH_PERCENT: '25' };
    delete env.KATAPULT_API_URL;
    // node itself rather than a wrapper script, so SIGTERM reaches the gateway's own handler.
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = { text: '' };
    child.stdout!.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    const [, url] = await waitForOutput(child, output, /GraphQL and GraphiQL at (http:\/\/[\d.]+:\d+)\/graphql/);
    // The entry point applies the process-wide V8 settings from the configuration.
    await waitForOutput(child, output, /"v8Flags":\["--heap-growing-percent=25"\]/);
    const slow = post(`${url}/graphql`, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    // yoga logs this at debug once it holds the request: from here on it is in flight.
    await waitForOutput(child, output, /Parsing request to extract GraphQL parameters/);

    child.kill('SIGTERM');
    await waitForOutput(child, output, /shutting down: finishing in-flight requests/);
    await expect(raw(`${url}/health`)).rejects.toThrow();

    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(answer.json.data.organization.name).toBe('Globex Corporation');
    expect(await exited).toBe(0);
    expect(output.text).toMatch(/"msg":"stopped"/);
  }, 30_000);
});
