import { fingerprintToken } from '../../src/simulator/dispatch.js';
import { createSimulator, type SimulatorFaults } from '../../src/simulator/index.js';

/**
 * The Katapult simulator in its own process, steered by the bench over IPC: per-token limits,
 * fault settings, and its request log (which is how the bench counts upstream calls).
 */
export type SimulatorCommand =
  | { op: 'setTokenLimit'; token: string; perWindow: number }
  | { op: 'setFaults'; faults: SimulatorFaults }
  | { op: 'clear' }
  | { op: 'requests'; token?: string };

export interface LoggedRequest {
  at: number;
  path: string;
  query: string;
  status: number;
}

const latencyMs = Number(process.env.BENCH_LATENCY_MS ?? 20);
const simulator = createSimulator({ latencyMs });
const { baseUrl } = await simulator.listen({ port: 0, host: '127.0.0.1' });

function run(command: SimulatorCommand): unknown {
  switch (command.op) {
    case 'setTokenLimit':
      simulator.setTokenLimit(command.token, command.perWindow);
      return null;
    case 'setFaults':
      simulator.setFaults(command.faults);
      return null;
    case 'clear':
      simulator.clearRequests();
      return null;
    case 'requests': {
      const fingerprint = command.token === undefined ? undefined : fingerprintToken(command.token);
      return simulator.requests
        .filter((r) => fingerprint === undefined || r.tokenFingerprint === fingerprint)
        .map((r): LoggedRequest => ({ at: r.at, path: r.path, query: r.query, status: r.status }));
    }
  }
}

process.on('message', (message: { id: number; command: SimulatorCommand }) => {
  try {
    process.send!({ id: message.id, ok: true, result: run(message.command) });
  } catch (error) {
    process.send!({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) });
  }
});
process.on('disconnect', () => void simulator.close().finally(() => process.exit(0)));
process.send!({ ready: true, baseUrl });
