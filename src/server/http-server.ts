import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayApp } from '../app.js';
import { ALLOWED_METHODS, createGraphQLRoute, errorBody, type FastPath, type OnGraphQLEnd, type OnGraphQLResult } from './graphql-route.js';
import { requestIdFrom } from './request-id.js';
import { createFastPathHooks } from './response-cache.js';

export type { FastPath, GraphQLRequestInput, GraphQLResponseOutput, OnGraphQLEnd, OnGraphQLResult } from './graphql-route.js';

/**
 * The HTTP edge: plain node:http in front of yoga. Operational endpoints (`/health`,
 * `/ready`, `/metrics`) are answered here without touching GraphQL; `/graphql` goes through
 * the pipeline in `graphql-route.ts`. Every answer carries `X-Request-Id`.
 */
export interface HttpServerOptions {
  app: GatewayApp;
  /** Answers repeated operations from stored bytes, before yoga. @default the app's response cache */
  fastPath?: FastPath;
  /** Sees every answer yoga produced (to store it for `fastPath`). @default the app's response cache */
  onGraphQLResult?: OnGraphQLResult;
  /** Told when a request `fastPath` did not answer has ended, however it ended. @default the app's response cache */
  onGraphQLEnd?: OnGraphQLEnd;
}

export interface GatewayHttpServer {
  server: Server;
  listen(port: number, host: string): Promise<{ port: number; url: string }>;
  /** Requests in flight, and when (clock ms) the last one ended: idle work waits for quiet. */
  activity(): { inFlight: number; lastActiveAt: number };
  /**
   * Fails readiness at once, keeps serving for `delayMs` (so a load balancer can stop sending
   * traffic here first), then stops accepting, waits for in-flight requests up to `graceMs`,
   * and closes. Aborting `skipDelay` ends the delay early.
   */
  shutdown(graceMs: number, options?: { delayMs?: number; skipDelay?: AbortSignal; onStopAccepting?: () => void }): Promise<void>;
}

/**
 * The request target as path and query. The usual origin form (`/graphql?…`) is taken as sent,
 * split rather than parsed since every request pays for it; the absolute form
 * (`http://host/graphql`), which a server must also accept, is parsed.
 */
export function originForm(target: string): string {
  if (target.startsWith('/')) return target;
  const parsed = new URL(target, 'http://gateway');
  return parsed.pathname + parsed.search;
}

/** `body` is a value to serialise, or bytes already serialised (such as an `errorBody`). */
function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(bytes.length), 'cache-control': 'no-store', ...headers });
  res.end(bytes);
}

/**
 * Answers on a socket the server no longer tracks (a CONNECT, or a request node could not parse)
 * with a JSON error, and lets go of it once the last bytes are written: `end()` alone
 * half-closes it, and a client that never closes its side would hold it (and its file
 * descriptor) open with no timeout, past a shutdown.
 */
function refuseOnSocket(socket: Duplex, status: number, message: string, extraHeaders = ''): void {
  const requestId = requestIdFrom(null);
  const body = errorBody(message, 'BAD_REQUEST', requestId);
  socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${extraHeaders}content-type: application/json; charset=utf-8\r\ncontent-length: ${body.length}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n`);
  socket.end(body, () => socket.destroy());
}

/** A request target in origin form split at its first `?`: the path, and the query string without the `?` ('' when none). */
function splitTarget(target: string): { pathname: string; search: string } {
  const question = target.indexOf('?');
  return question < 0 ? { pathname: target, search: '' } : { pathname: target.slice(0, question), search: target.slice(question + 1) };
}

/**
 * node's limits on receiving a request, from REQUEST_RECEIVE_TIMEOUT_MS: the headers and the
 * whole request within it (a request not received in time gets 408 and is let go). The headers'
 * limit also runs from when a connection opens, and node wants it no longer than the request's,
 * so the two are one setting. node checks them on a timer, every 30 s by default, which would
 * let a trickling client stay that much longer; a tenth of the limit keeps the overrun small at
 * the cost of one walk of the open connections per check.
 */
function receiveLimits(receiveTimeoutMs: number) {
  return {
    headersTimeout: receiveTimeoutMs,
    requestTimeout: receiveTimeoutMs,
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(receiveTimeoutMs / 10))),
  };
}

/** Requests for the operational endpoints, as orchestrators and scrapers send them. */
const PROBES = new Set(['/health', '/ready', '/metrics']);
/** Whether a request target is a probe's: its path, whatever its query string, in origin or absolute form. */
function isProbe(target: string): boolean {
  try {
    return PROBES.has(splitTarget(originForm(target)).pathname);
  } catch {
    return false;
  }
}

/** The request id a request asked for, if it is one we keep, else a new one. */
const requestIdOf = (req: IncomingMessage) => requestIdFrom(typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : null);

async function sendMetrics(app: GatewayApp, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  const text = await app.metrics.render();
  res.writeHead(200, { 'content-type': app.metrics.contentType, 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

interface NodeRefusalOptions {
  /** The methods the port answers, for CONNECT's 405. */
  allow: string;
  /** What a client whose request line and headers are too long can do instead. @default nothing */
  overflowHint?: string;
  /** Sockets whose request was answered before its body had all come: node's receive timeout there leaves no request to answer. */
  answeredBeforeReceived?: WeakSet<Duplex>;
}

/**
 * Requests node answers itself otherwise, before any handler sees them: a bare 417 for an Expect
 * other than 100-continue, a closed connection for CONNECT, and a bare status line for a request
 * it cannot parse. On every port they get the error contract like every other refusal.
 */
function answerWhatNodeWould(server: Server, { allow, overflowHint = '', answeredBeforeReceived = new WeakSet() }: NodeRefusalOptions): void {
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdOf(req);
    sendJson(res, 417, errorBody('Only "Expect: 100-continue" is understood', 'BAD_REQUEST', requestId), { 'x-request-id': requestId, connection: 'close' });
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    refuseOnSocket(socket, 405, 'CONNECT is not supported: this is not a proxy', `allow: ${allow}\r\n`);
  });
  // A request node:http cannot parse (a request line or headers over its 16 KB limit, bytes that
  // are not HTTP) never reaches the handler; node's own answer is a bare status line. It gets
  // the same JSON error and request id as every other answer.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const timedOut = error.code === 'HPE_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timedOut && answeredBeforeReceived.has(socket)) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : timedOut ? 408 : 400;
    const message =
      status === 431
        ? `The request line and headers are larger than the 16 KB limit${overflowHint}`
        : status === 408
          ? 'The request was not received in time'
          : 'The request is not valid HTTP';
    refuseOnSocket(socket, status, message);
  });
}

/**
 * `/metrics` alone, on a port of its own (METRICS_PORT): scrapers reach it, and whatever
 * publishes the GraphQL port does not. Everything else there is a 404; methods other than GET
 * and HEAD a 405.
 */
export function createMetricsServer(app: GatewayApp): { server: Server; listen(port: number, host: string): Promise<{ port: number; url: string }>; close(): Promise<void> } {
  const server = createServer(receiveLimits(app.config.http.receiveTimeoutMs), (req, res) => {
    const requestId = requestIdOf(req);
    const idHeader = { 'x-request-id': requestId };
    let pathname: string;
    try {
      pathname = splitTarget(originForm(req.url ?? '/')).pathname;
    } catch {
      return sendJson(res, 400, errorBody('The request target is not a valid URL', 'BAD_REQUEST', requestId), idHeader);
    }
    if (pathname !== '/metrics') return sendJson(res, 404, errorBody('Only /metrics is served on this port', 'NOT_FOUND', requestId), idHeader);
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, errorBody('/metrics answers GET and HEAD only', 'BAD_REQUEST', requestId), { ...idHeader, allow: 'GET, HEAD' });
    sendMetrics(app, res, idHeader).catch((error: unknown) => {
      app.logger.error({ err: error, requestId }, 'metrics could not be rendered');
      if (!res.headersSent) sendJson(res, 500, errorBody('Internal server error', 'INTERNAL_SERVER_ERROR', requestId), idHeader);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  answerWhatNodeWould(server, { allow: 'GET, HEAD' });
  return {
    server,
    listen: (port, host) => listenOn(server, port, host),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Listens, and says where: the port given (or the one picked for 0), with a host a client can use. */
function listenOn(server: Server, port: number, host: string): Promise<{ port: number; url: string }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
      resolve({ port: actual, url: `http://${shownHost}:${actual}` });
    });
  });
}

export function createHttpServer(options: HttpServerOptions): GatewayHttpServer {
  const { app } = options;
  // On the GraphQL port unless it has one of its own.
  const metricsHere = app.config.http.metrics && app.config.http.metricsPort === null;
  const custom = options.fastPath !== undefined || options.onGraphQLResult !== undefined || options.onGraphQLEnd !== undefined;
  const hooks = custom ? { fastPath: options.fastPath, onGraphQLResult: options.onGraphQLResult, onGraphQLEnd: options.onGraphQLEnd } : createFastPathHooks(app.responseCache);
  const handleGraphQL = createGraphQLRoute({ app, ...hooks });
  let inFlight = 0;
  let lastActiveAt = app.clock.now();
  /** Whether a request other than a probe ended since lastActiveAt was last set. */
  let usedSinceQuiet = false;
  let draining = false;
  // From the start of a shutdown: answers close their connection, so clients holding one open
  // (a pool behind an L4 balancer) reconnect, and land elsewhere, instead of being cut off.
  let closing = false;
  let drained: (() => void) | null = null;
  // Connections whose current request was answered before its body had all arrived (an early
  // refusal). node keeps reading and discarding the rest; if it never comes, the receive limit
  // would otherwise send a 408 that the client reads as the answer to its next request.
  const answeredBeforeReceived = new WeakSet<Duplex>();
  // Requests being handled, by when each began: closing the server for a shutdown's drain stops
  // node's receive-limit checks, so the edge applies the limit itself until the drain ends.
  const handling = new Map<IncomingMessage, number>();

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string, startedAt: number): Promise<void> {
    const idHeader = { 'x-request-id': requestId };
    // RFC 9112 asks for a 400 here; node's own (with the default requireHostHeader) has no body.
    if (req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) {
      return sendJson(res, 400, errorBody('An HTTP/1.1 request must carry a Host header', 'BAD_REQUEST', requestId), { ...idHeader, connection: 'close' });
    }
    let target: string;
    try {
      target = originForm(req.url ?? '/');
    } catch {
      // An absolute-form target that is not a URL (a port out of range, an unclosed IPv6 bracket).
      return sendJson(res, 400, errorBody('The request target is not a valid URL', 'BAD_REQUEST', requestId), idHeader);
    }
    // HTTP never sends a fragment; node's parser lets one through, and what follows a `#` would
    // be read as parameters by one reader and not by another (the CSRF check and yoga).
    if (target.includes('#')) {
      return sendJson(res, 400, errorBody('The request target carries a fragment (#), which HTTP requests never include', 'BAD_REQUEST', requestId), idHeader);
    }
    const { pathname, search } = splitTarget(target);
    if (pathname === '/graphql') return handleGraphQL(req, res, target, search, requestId, startedAt);
    const operational = pathname === '/health' || pathname === '/ready' || (pathname === '/metrics' && metricsHere);
    // Probes and scrapes only read; anything else sent to them is a client's mistake to hear about.
    if (operational && req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, errorBody(`${pathname} answers GET and HEAD only`, 'BAD_REQUEST', requestId), { ...idHeader, allow: 'GET, HEAD' });
    }
    switch (pathname) {
      case '/health':
        return sendJson(res, 200, { status: 'ok' }, idHeader);
      case '/ready': {
        const problems = app.readiness.problems();
        return sendJson(res, problems.length ? 503 : 200, problems.length ? { status: 'not ready', problems } : { status: 'ready' }, idHeader);
      }
      case '/metrics':
        if (metricsHere) return sendMetrics(app, res, idHeader);
    }
    // The path as routed, not a URL parser's normalised reading (`/x/../graphql` is not `/graphql` here).
    const shown = pathname.length > 200 ? `${pathname.slice(0, 200)}…` : pathname;
    return sendJson(res, 404, errorBody(`Nothing at ${shown}; the GraphQL endpoint is /graphql`, 'NOT_FOUND', requestId), idHeader);
  }

  // A request without a Host header reaches the handler, which answers it in the error contract.
  const server = createServer({ requireHostHeader: false, ...receiveLimits(app.config.http.receiveTimeoutMs) }, (req, res) => {
    const startedAt = performance.now();
    const requestId = requestIdOf(req);
    if (closing) res.shouldKeepAlive = false;
    // A probe (health, readiness, a metrics scrape) counts while it runs, so idle work does not
    // pause it, but is no use of the gateway: an orchestrator probing every few seconds would
    // otherwise keep the edge from ever being quiet, and idle work from ever running.
    const probe = isProbe(req.url ?? '');
    inFlight++;
    handling.set(req, startedAt);
    res.on('close', () => {
      inFlight--;
      handling.delete(req);
      if (!req.complete && res.writableFinished) {
        answeredBeforeReceived.add(req.socket);
        req.once('end', () => answeredBeforeReceived.delete(req.socket));
      }
      if (!probe) usedSinceQuiet = true;
      // Only the last request out matters: while any is in flight the edge is not quiet.
      if (inFlight === 0 && usedSinceQuiet) {
        lastActiveAt = app.clock.now();
        usedSinceQuiet = false;
      }
      if (draining && inFlight === 0) drained?.();
    });
    handle(req, res, requestId, startedAt).catch((error: unknown) => {
      app.logger.error({ err: error, requestId }, 'unhandled error in HTTP handler');
      if (!res.headersSent) {
        sendJson(res, 500, errorBody('Internal server error', 'INTERNAL_SERVER_ERROR', requestId), { 'x-request-id': requestId });
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  answerWhatNodeWould(server, { allow: ALLOWED_METHODS, overflowHint: '; send a long query as a POST body', answeredBeforeReceived });

  return {
    server,
    activity: () => ({ inFlight, lastActiveAt }),
    listen: (port, host) => listenOn(server, port, host),
    async shutdown(graceMs, { delayMs = 0, skipDelay, onStopAccepting } = {}) {
      app.readiness.set('shutdown', 'shutting down');
      closing = true;
      if (delayMs > 0 && !skipDelay?.aborted) {
        await new Promise<void>((resolve) => {
          const cancel = app.clock.setTimeout(resolve, delayMs);
          skipDelay?.addEventListener('abort', () => (cancel(), resolve()), { once: true });
        });
      }
      onStopAccepting?.();
      draining = true;
      server.close();
      server.closeIdleConnections();
      if (inFlight > 0) {
        const { requestTimeout, connectionsCheckingInterval } = receiveLimits(app.config.http.receiveTimeoutMs);
        const receiveCheck = setInterval(() => {
          const now = performance.now();
          for (const [req, startedAt] of handling) {
            // What node itself does when a request outlives the limit: the 408 below, and the connection let go.
            // Counted from when the handler began (node counts from the first byte), so a request gets a little more here.
            if (!req.complete && now - startedAt >= requestTimeout) server.emit('clientError', Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), req.socket);
          }
        }, connectionsCheckingInterval);
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, graceMs).unref();
        });
        clearInterval(receiveCheck);
      }
      // Their clients see a connection closed with no answer; each is logged as a 499 as well.
      if (inFlight > 0) app.logger.warn({ inFlight, graceMs }, `shutdown grace period over: ${inFlight} request(s) still in flight cut off`);
      server.closeAllConnections();
      await app.close();
    },
  };
}
