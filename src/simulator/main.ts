import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createSimulator, DEMO_TOKENS, LOAD_TOKEN_PREFIX } from './index.js';
import { simulatorOptionsFromEnv } from './env.js';

export { simulatorOptionsFromEnv, type SimulatorEnvOptions } from './env.js';

const TOKEN_USES: Record<keyof typeof DEMO_TOKENS, string> = {
  acme: 'acme organization token, all read scopes (1,250 VMs: large_set)',
  globex: 'globex organization token, all read scopes (12 VMs)',
  user: 'user token for Jane Marsh, member of acme and globex',
  noVmScope: 'globex organization token without virtual_machines scopes (limit 200/min)',
  suspended: 'initech organization token; initech is suspended',
};

async function main(): Promise<void> {
  let options;
  try {
    options = simulatorOptionsFromEnv(process.env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  const simulator = createSimulator(options);
  const { baseUrl } = await simulator.listen({ port: options.port, host: options.host });

  const lines = [`Katapult simulator listening at ${baseUrl}`, '', 'Demo tokens (Authorization: Bearer <token>):'];
  for (const [name, token] of Object.entries(DEMO_TOKENS) as Array<[keyof typeof DEMO_TOKENS, string]>) {
    lines.push(`  ${name.padEnd(10)} ${token.padEnd(38)} ${TOKEN_USES[name]}`);
  }
  lines.push(`  load       ${`${LOAD_TOKEN_PREFIX}<anything>`.padEnd(38)} acts for globex, one rate-limit budget per token`);
  console.log(lines.join('\n'));

  const stop = (signal: NodeJS.Signals) => {
    console.log(`Received ${signal}, stopping`);
    simulator.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

// Importing this module (for simulatorOptionsFromEnv) must not start a server.
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  void main();
}
