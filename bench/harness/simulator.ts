import type { SimulatorFaults } from '../../src/simulator/index.js';
import { startTsChild, type Child } from './children.js';
import type { LoggedRequest, SimulatorCommand } from './simulator-child.js';

export type { LoggedRequest } from './simulator-child.js';

/** The harness's handle on the simulator process. */
export interface SimulatorHandle {
  readonly baseUrl: string;
  readonly child: Child;
  setTokenLimit(token: string, perWindow: number): Promise<void>;
  setFaults(faults: SimulatorFaults): Promise<void>;
  clear(): Promise<void>;
  /** The request log, optionally only one token's calls. */
  requests(token?: string): Promise<LoggedRequest[]>;
  stop(): Promise<void>;
}

export async function startSimulator(options: { repoRoot: string; latencyMs: number; script: string }): Promise<SimulatorHandle> {
  const child = startTsChild('simulator', options.script, [], {
    cwd: options.repoRoot,
    env: { ...process.env, BENCH_LATENCY_MS: String(options.latencyMs) },
    ipc: true,
  });
  const proc = child.process;
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the simulator did not start:\n${child.output()}`)), 60_000);
    proc.once('message', (message: { ready?: boolean; baseUrl?: string }) => {
      clearTimeout(timer);
      if (message.ready && message.baseUrl) resolve(message.baseUrl);
      else reject(new Error(`unexpected first message from the simulator: ${JSON.stringify(message)}`));
    });
    void child.exited.then((code) => reject(new Error(`the simulator exited (${code}):\n${child.output()}`)));
  });

  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  proc.on('message', (message: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new Error(`simulator: ${message.error}`));
  });
  const call = <T>(command: SimulatorCommand): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      proc.send({ id, command });
    });

  return {
    baseUrl,
    child,
    setTokenLimit: (token, perWindow) => call({ op: 'setTokenLimit', token, perWindow }),
    setFaults: (faults) => call({ op: 'setFaults', faults }),
    clear: () => call({ op: 'clear' }),
    requests: (token) => call({ op: 'requests', token }),
    async stop() {
      if (proc.connected) proc.disconnect();
      await child.stop();
    },
  };
}
