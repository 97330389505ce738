import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DispatchInput, DispatchOutcome } from './dispatch.js';

/** A listening simulator socket. */
export interface SimulatorServer {
  baseUrl: string;
  port: number;
  close(): Promise<void>;
}

function toInput(req: IncomingMessage, body: string, host: string, port: number): DispatchInput {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  return { method: req.method ?? 'GET', url: new URL(req.url ?? '/', `http://${host}:${port}`), headers, body };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  headers['content-length'] = String(body.length);
  res.writeHead(response.status, headers);
  res.end(body);
}

/**
 * Serves the dispatcher over HTTP on loopback. A reset fault destroys the socket without a
 * response, which is what a client sees when the peer drops the connection.
 */
export async function listenSimulator(
  dispatch: (input: DispatchInput) => Promise<DispatchOutcome>,
  options: { port: number; host: string },
): Promise<SimulatorServer> {
  let port = options.port;
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const outcome = await dispatch(toInput(req, await readBody(req), options.host, port));
        if (outcome.kind === 'reset') req.socket.destroy();
        else await writeResponse(res, outcome.response);
      } catch {
        req.socket.destroy();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    baseUrl: `http://${hostForUrl}:${port}/core/v1`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
