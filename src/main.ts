import { createApp } from './app.js';
import { ConfigError, loadConfig, reportGeneratedSecrets } from './config.js';
import { applyHeapTuning, startIdleCompaction } from './heap-tuning.js';
import { createLogger, exitAfterLogs } from './logger.js';
import { createHttpServer, createMetricsServer } from './server/http-server.js';
import { createSimulator, DEMO_TOKENS, simulatorOptionsFromEnv, type Simulator } from './simulator/index.js';

/** A signal this soon after the one before is that one delivered again (see `stop`). */
const DUPLICATE_SIGNAL_MS = 500;

/**
 * The process: reads the environment, starts the embedded Katapult simulator when no
 * KATAPULT_API_URL is set, listens, and shuts down gracefully on SIGTERM/SIGINT.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const v8Flags = applyHeapTuning(config.runtime);
  const logger = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true && config.nodeEnv !== 'production' });

  let simulator: Simulator | null = null;
  let upstreamBaseUrl: string | undefined;
  if (!config.upstream.baseUrl) {
    // No upstream configured: run against the built-in simulator on an ephemeral loopback port.
    const { port: _port, host: _host, ...options } = simulatorOptionsFromEnv(process.env);
    simulator = createSimulator(options);
    upstreamBaseUrl = (await simulator.listen({ port: 0, host: '127.0.0.1' })).baseUrl;
  }

  const app = createApp({ config, logger, upstreamBaseUrl, graphiqlDemoToken: simulator ? DEMO_TOKENS.globex : undefined, processMetrics: true });
  const http = createHttpServer({ app });
  // The embedded simulator is known to answer; a configured address is worth a look before
  // clients come. /ready fails from here until it is answered, so no balancer sends traffic first.
  if (!simulator) void app.checkUpstream();
  let url: string;
  try {
    ({ url } = await http.listen(config.port, config.host));
  } catch (error) {
    // EADDRINUSE, EACCES, an unresolvable HOST: say which settings were tried.
    throw new Error(`Could not listen on HOST=${config.host} PORT=${config.port}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let metricsUrl: string | null = null;
  const metricsServer = config.http.metrics && config.http.metricsPort !== null ? createMetricsServer(app) : null;
  if (metricsServer) {
    try {
      metricsUrl = `${(await metricsServer.listen(config.http.metricsPort!, config.host)).url}/metrics`;
    } catch (error) {
      throw new Error(`Could not listen on HOST=${config.host} METRICS_PORT=${config.http.metricsPort}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const compaction = startIdleCompaction({
    idleMs: config.runtime.idleCompactMs,
    clock: app.clock,
    logger,
    // Upstream calls (a background revalidation, a retry) count as activity too: a pause there would eat their deadlines.
    activity: () => {
      const edge = http.activity();
      return { inFlight: edge.inFlight + app.queue.size + app.queue.pending, lastActiveAt: edge.lastActiveAt };
    },
  });

  // Before anything is printed: a supervisor may signal as soon as it sees the banner.
  let stopping = false;
  let accepting = true;
  let lastSignalAt = Number.NEGATIVE_INFINITY;
  const skipDelay = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    // A Ctrl-C, or any signal to the whole process group (a terminal, systemd's default), arrives
    // twice under `npm start`: once to this process and once relayed by npm. A person pressing
    // Ctrl-C again takes longer than this.
    const now = performance.now();
    const repeated = now - lastSignalAt < DUPLICATE_SIGNAL_MS;
    lastSignalAt = now;
    if (stopping && repeated) return;
    if (stopping) {
      // A second signal (Ctrl-C again) cuts the delay short; any signal after the delay exits at once.
      if (accepting && !skipDelay.signal.aborted) return skipDelay.abort();
      logger.warn({ signal }, 'stopping at once: requests still in flight are cut off');
      return exitAfterLogs(logger, 1, { timeoutMs: 500 });
    }
    stopping = true;
    const { shutdownGraceMs: graceMs, shutdownDelayMs: delayMs } = config.http;
    if (delayMs > 0) logger.info({ signal, delayMs }, 'shutting down: /ready fails, serving on until the delay is up');
    const onStopAccepting = () => {
      accepting = false;
      // Not before: the delay may be long, with traffic still coming.
      compaction.stop();
      logger.info({ signal, graceMs }, 'shutting down: finishing in-flight requests');
    };
    http
      .shutdown(graceMs, { delayMs, skipDelay: skipDelay.signal, onStopAccepting })
      // Scraped until the last request is done.
      .then(() => metricsServer?.close())
      .then(() => simulator?.close())
      .then(
        () => {
          logger.info('stopped');
          exitAfterLogs(logger, 0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'error while shutting down');
          exitAfterLogs(logger, 1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const lines = [`katapult-gateway listening: GraphQL${config.http.graphiql ? ' and GraphiQL' : ''} at ${url}/graphql`];
  if (metricsUrl) lines.push(`Prometheus metrics at ${metricsUrl}`);
  if (simulator) {
    lines.push(
      `Upstream: the built-in Katapult simulator at ${upstreamBaseUrl} (set KATAPULT_API_URL to use a real one)`,
      '',
      'Demo tokens (send as "Authorization: Bearer <token>"):',
      `  ${DEMO_TOKENS.globex}   globex: small organization, 12 VMs`,
      `  ${DEMO_TOKENS.acme}     acme: 1,250 VMs (a list Katapult does not count)`,
      `  ${DEMO_TOKENS.user}    user token: Jane Marsh, member of acme and globex`,
      `  ${DEMO_TOKENS.noVmScope}  globex, lacking the virtual_machines:read scope`,
      `  ${DEMO_TOKENS.suspended}  initech, a suspended organization`,
      `  kp_load_<anything>                  globex, each with a rate-limit budget of its own (load tests)`,
      '',
      'Try:',
      `  curl -s ${url}/graphql -H 'content-type: application/json' -H 'authorization: Bearer ${DEMO_TOKENS.globex}' \\`,
      `    -d '{"query":"{ organization(subDomain: \\"globex\\") { name virtualMachines(first: 3) { totalCount edges { node { name zone { name } } } } } }"}'`,
    );
  } else {
    lines.push(`Upstream: ${config.upstream.baseUrl}`);
  }
  // For a person: on a terminal, or trying the gateway out on the simulator. Otherwise stdout is a
  // log collector's, which reads one JSON object per line: the log line below says it all.
  if (simulator || process.stdout.isTTY) console.log(lines.join('\n'));
  reportGeneratedSecrets(config, logger, simulator !== null);
  logger.info({ url, metricsUrl, embeddedSimulator: simulator !== null, upstream: upstreamBaseUrl ?? config.upstream.baseUrl, v8Flags }, 'gateway started');

}

void main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
