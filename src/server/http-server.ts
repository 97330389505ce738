import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { GatewayApp } from '../app.js';
import { DEADLINE_HEADER } from '../app.js';

/**
 * The HTTP edge: plain node:http in front of yoga. Operational endpoints are answered here
 * without touching GraphQL; `/graphql` requests get their per-request scope (token, request
 * id, deadline, no-cache) and go to yoga.
 */
export interface HttpServerOptions {
  app: GatewayApp;
}

export interface GatewayHttpServer {
  server: Server;
  listen(port: number, host: string): Promise<{ port: number; url: string }>;
  /** Stops accepting, waits for in-flight requests up to `graceMs`, then closes. */
  shutdown(graceMs: number): Promise<void>;
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...extra });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function createHttpServer({ app }: HttpServerOptions): GatewayHttpServer {
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | null = null;

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const scope = app.createScope(
      {
        authorization: header(req, 'authorization'),
        cacheControl: header(req, 'cache-control'),
        requestId: header(req, 'x-request-id'),
        timeoutMs: header(req, DEADLINE_HEADER),
      },
      abort.signal,
    );
    const method = req.method ?? 'GET';
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const request = new Request(url, { method, headers, body: body as Uint8Array<ArrayBuffer> | undefined, signal: abort.signal });
    const response = await app.yoga.fetch(request, { scope });
    const outHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      outHeaders[name] = value;
    });
    outHeaders['x-request-id'] = scope.requestId;
    const payload = Buffer.from(await response.arrayBuffer());
    outHeaders['content-length'] = String(payload.length);
    res.writeHead(response.status, outHeaders);
    res.end(method === 'HEAD' ? undefined : payload);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'ok' });
    if (url.pathname === '/ready') {
      const problems = app.readiness.problems();
      return sendJson(res, problems.length ? 503 : 200, problems.length ? { status: 'not ready', problems } : { status: 'ready' });
    }
    if (url.pathname === '/graphql') return handleGraphQL(req, res, url);
    return sendJson(res, 404, { errors: [{ message: `Nothing at ${url.pathname}; the GraphQL endpoint is /graphql` }] });
  }

  const server = createServer((req, res) => {
    inFlight++;
    res.on('close', () => {
      inFlight--;
      if (draining && inFlight === 0) drained?.();
    });
    handle(req, res).catch((error: unknown) => {
      app.logger.error({ err: error }, 'unhandled error in HTTP handler');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address();
          const actual = typeof address === 'object' && address ? address.port : port;
          const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
          resolve({ port: actual, url: `http://${shownHost}:${actual}` });
        });
      });
    },
    async shutdown(graceMs) {
      draining = true;
      app.readiness.set('shutdown', 'shutting down');
      server.close();
      server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, graceMs).unref();
        });
      }
      server.closeAllConnections();
      await app.close();
    },
  };
}
