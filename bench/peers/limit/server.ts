import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * The ceiling for this machine: a bare node:http server that reads each request and answers
 * with fixed bytes (the gateway's own answer to the dashboard query). No GraphQL, no cache
 * lookup, no upstream: what is left is HTTP parsing and writing.
 */
const bodyPath = process.env.BODY_PATH;
const port = Number(process.env.PORT ?? 4300);
if (!bodyPath) throw new Error('BODY_PATH is required');
const payload = readFileSync(bodyPath);
const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(payload.length) };

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(payload);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`limit listening at http://127.0.0.1:${port}/graphql`));
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
