import { setMaxListeners } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayApp } from '../app.js';
import { DEADLINE_HEADER } from '../app.js';
import type { RequestScope } from '../data/request-scope.js';
import { compress, compressSync, negotiateEncoding, SYNC_COMPRESS_MAX_BYTES, type Encoding } from './compression.js';
import { acceptForYoga, acceptsHtml } from './accept.js';
import { createCors } from './cors.js';
import { CSRF_MESSAGE, isCsrfSafe } from './csrf.js';
import { renderGraphiQL } from './graphiql.js';
import { cacheControlFor, matchesEtag } from './http-caching.js';
import { clientAddress, createInboundRateLimit } from './inbound-rate-limit.js';
import { createRequestLog, type RequestNotes } from './request-log.js';
import { answersGraphQLResponseJson } from './error-contract.js';
import { etagFor, shapeOf } from './response-cache.js';
import { DOCUMENT_ID_PARAMETERS } from './persisted-operations.js';
import type { KatapultData } from '../data/katapult-data.js';

/** Query-string parameters that make a GET an operation (for CSRF prevention, and for GraphiQL to step aside). */
const OPERATION_PARAMETERS = ['query', 'extensions', ...DOCUMENT_ID_PARAMETERS];

/** What the fast path and the result hook see of a request: enough to key a stored answer. */
export interface GraphQLRequestInput {
  method: string;
  /** The query string as received, without `?` ('' when there is none). */
  search: string;
  /** The whole request URL, parsed on first use. */
  readonly url: URL;
  /** The raw POST body (already size-checked); undefined for GET. */
  body: Buffer | undefined;
  scope: RequestScope;
  headers: IncomingHttpHeaders;
}

/** A finished, uncompressed answer. Header names are lower case. */
export interface GraphQLResponseOutput {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The operation's name, for the summary line and the metrics label. @default null */
  operationName?: string | null;
  /** Epoch ms until which the answer is fresh; bounds a GET's `Cache-Control: max-age`. @default what this request read */
  freshUntil?: number;
}

/** Consulted after the edge checks and before yoga; a non-null answer is sent as is (compressed, with ETag/304 for GET). */
export type FastPath = (input: GraphQLRequestInput) => GraphQLResponseOutput | null | Promise<GraphQLResponseOutput | null>;

/** Told about every answer yoga produced, before it is sent; `scope.stats` says how fresh it is. */
export type OnGraphQLResult = (input: { request: GraphQLRequestInput; status: number; headers: Record<string, string>; body: Buffer; operationName: string | null }) => void;

/** Told when a request the fast path did not answer has ended, however it ended (answered, refused, failed, or its client gone). */
export type OnGraphQLEnd = (request: GraphQLRequestInput) => void;

export interface GraphQLRouteOptions {
  app: GatewayApp;
  /** @default none */
  fastPath?: FastPath;
  /** @default none */
  onGraphQLResult?: OnGraphQLResult;
  /** @default none */
  onGraphQLEnd?: OnGraphQLEnd;
}

class BodyTooLargeError extends Error {}

/**
 * A class rather than an object literal with a `url` getter: every literal with an accessor
 * gets a hidden class of its own, which V8 keeps in the old generation pointing at the
 * getter's closure, so each request's objects (its request, response and scope) survived
 * young-generation GCs until the next full one. On the warm path that was most of the GC work.
 */
class RequestInput implements GraphQLRequestInput {
  constructor(
    readonly method: string,
    readonly search: string,
    private readonly parseUrl: () => URL,
    readonly body: Buffer | undefined,
    readonly scope: RequestScope,
    readonly headers: IncomingHttpHeaders,
  ) {}

  get url(): URL {
    return this.parseUrl();
  }
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError());
  // Plain events rather than an async iterator: this runs on every request, and the iterator
  // costs several microtask turns per body.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      // A chunked body has no declared length: count what actually arrives and stop at the limit.
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** The body of every error the HTTP edge answers itself, in the GraphQL error shape. */
export const errorBody = (message: string, code: string, requestId: string, extensions: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ errors: [{ message, extensions: { code, requestId, ...extensions } }] }));
const JSON_TYPE = 'application/json; charset=utf-8';
const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json; charset=utf-8';
const EMPTY = Buffer.alloc(0);

/** What the statuses yoga sends without a body mean for this endpoint. */
const EMPTY_REFUSALS: Record<number, string> = {
  406: 'None of the media types in Accept can be served: accept application/graphql-response+json or application/json (or, framed as a stream, text/event-stream or multipart/mixed)',
  415: 'The request body is not in a media type this endpoint reads: send application/json (or use GET with query parameters)',
};

/**
 * The type/subtype of a Content-Type in lower case and without the spaces RFC 9110 allows
 * before its parameters (yoga compares it as written, and refused `application/json ;…`, and
 * `application/json , …` where it reads the first of a list); the rest as sent.
 */
function lowerMediaType(value: string): string {
  const end = value.search(/[;,]/);
  return end === -1 ? value.trim().toLowerCase() : value.slice(0, end).trim().toLowerCase() + value.slice(end);
}

/**
 * The schema takes no uploads, so the GraphQL multipart request format has nothing to carry
 * here; yoga's reading of it failed with internal errors on malformed parts. As yoga reads a
 * Content-Type: its first type.
 */
const isMultipartForm = (contentType: string | null) => /^\s*multipart\/form-data\s*(;|$)/i.test((contentType ?? '').split(',')[0]!);

/**
 * yoga's answer as a Buffer that owns its memory. yoga's Response hands back the Buffer it
 * encoded its text into (typed as an ArrayBuffer), and `Buffer.from` of a Buffer copies it: a
 * second pass over every answer's bytes. A small answer is a slice of Node's shared 8 KiB pool;
 * it alone is copied, into an allocation of its own, so that a stored answer keeps only its own
 * bytes alive and the response cache's byte count is what it holds.
 */
function ownBytes(bytes: ArrayBuffer | Uint8Array): Buffer {
  // An ArrayBuffer is memory of its own already; a Buffer over all of its memory is kept as it is.
  if (bytes instanceof ArrayBuffer) return Buffer.from(bytes);
  if (Buffer.isBuffer(bytes) && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  const own = Buffer.allocUnsafeSlow(bytes.byteLength);
  own.set(bytes);
  return own;
}

/** Hop-by-hop and length headers: Node sets them for the bytes this edge actually writes. */
const FRAMING_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);
/** What yoga's event stream says instead of leaving the header out. */
const NO_ENCODING = new Set(['none', 'identity']);
/** What `/graphql` answers: HEAD as a GET without the body, OPTIONS as a CORS preflight. */
export const ALLOWED_METHODS = 'GET, HEAD, POST, OPTIONS';
const VARY_POST = 'Origin, Accept-Encoding';
const VARY_GET = 'Origin, Accept-Encoding, Authorization, Accept';

/**
 * The least time a request must have left for its reads to start on arrival. A read started
 * early reaches the queue about half a millisecond before the request's own run would ask for
 * it, and the queue refuses a read whose deadline has passed: a request with (nearly) no time
 * left would otherwise send calls its own run would not, and which calls were sent would show
 * in its error whether some token had run the operation before.
 */
const PREFETCH_MIN_REMAINING_MS = 250;

/** What logs and metrics record for a request whose client went away before its answer (nginx's 499). */
const CLIENT_CLOSED_REQUEST = 499;

/**
 * The `/graphql` pipeline, in order: CORS preflight; the method; the per-client inbound
 * rate limit; the GraphiQL page; CSRF prevention; the body size limit; then the fast path,
 * and yoga for everything it does not answer. Every answer then gets HTTP caching headers (GET),
 * compression, the request id, and one summary line with metrics.
 */
export function createGraphQLRoute(options: GraphQLRouteOptions) {
  const { app, fastPath, onGraphQLResult, onGraphQLEnd } = options;
  const { http, limits } = app.config;
  const cors = createCors({ origins: http.corsOrigins });
  const limiter = createInboundRateLimit({ clock: app.clock, perMinute: limits.inboundPerMinute });
  const log = createRequestLog({ logger: app.logger, metrics: app.metrics, tokens: app.tokens });
  const graphiql = new Map<Encoding | null, Promise<{ body: Buffer; etag: string }>>();

  const graphiqlPage = (encoding: Encoding | null): Promise<{ body: Buffer; etag: string }> => {
    // The page is large (megabytes) and depends only on configuration: render (and compress)
    // it once, with an ETag so that a browser's revalidation does not download it again.
    let page = graphiql.get(encoding);
    if (!page) {
      const html = renderGraphiQL({ endpoint: '/graphql', demoToken: app.graphiqlDemoToken }).then((text) => Buffer.from(text));
      page = (encoding ? html.then((bytes) => compress(bytes, encoding)) : html).then((body) => ({ body, etag: etagFor(body) }));
      // A failed render is retried by the next request instead of being served forever.
      page.catch(() => graphiql.delete(encoding));
      graphiql.set(encoding, page);
    }
    return page;
  };

  const endRequest = (input: GraphQLRequestInput) => {
    if (!onGraphQLEnd) return;
    try {
      onGraphQLEnd(input);
    } catch (error) {
      app.logger.warn({ err: error, requestId: input.scope.requestId }, 'onGraphQLEnd hook failed');
    }
  };

  /** `target` is the request target in origin form; `search` its query string, without `?`, as the edge split it. */
  return async function handleGraphQL(req: IncomingMessage, res: ServerResponse, target: string, search: string, requestId: string, startedAt: number): Promise<void> {
    // Parsed only when something needs more than the raw query string (a GET, or yoga).
    let parsed: URL | undefined;
    const url = () => (parsed ??= new URL(target, 'http://gateway'));
    // A GET's parameters as yoga reads them: everything after the first `?`. The URL's own
    // reading differs (`/graphql??query=…` has a parameter named `?query` there), and every
    // check here must see the operation yoga will run.
    let queryParams: URLSearchParams | undefined;
    const getParams = () => (queryParams ??= new URLSearchParams(search));
    const method = req.method ?? 'GET';
    const origin = header(req, 'origin') ?? undefined;
    if (method === 'OPTIONS') {
      // A 204 ends with its headers; RFC 9110 forbids it a Content-Length, which strict proxies refuse.
      res.writeHead(204, { ...cors.preflightFor(origin), allow: ALLOWED_METHODS, 'x-request-id': requestId });
      res.end();
      return;
    }
    const { encoding, minBytes: minCompressBytes } = negotiateEncoding(header(req, 'accept-encoding') ?? undefined);
    const isGet = method === 'GET' || method === 'HEAD';
    const baseHeaders = { ...cors.headersFor(origin) };
    // A GET answer depends on the token and on the media type asked for, so caches must key on both.
    baseHeaders.vary = isGet ? VARY_GET : VARY_POST;
    baseHeaders['x-request-id'] = requestId;

    const scope = app.createScope({
      authorization: header(req, 'authorization'),
      cacheControl: header(req, 'cache-control'),
      requestId,
      timeoutMs: header(req, DEADLINE_HEADER),
    });
    const notes: RequestNotes = { operationName: null };

    // Synchronous unless a large body is compressed: most answers (every fast-path hit to a client
    // that does not ask for compression) are written without another trip through the event loop.
    const send = (out: GraphQLResponseOutput, fromFastPath = false): void | Promise<void> => {
      const headers: Record<string, string> = {};
      for (const name in out.headers) if (name !== 'content-length') headers[name] = out.headers[name]!;
      for (const name in baseHeaders) headers[name] = baseHeaders[name]!;
      let status = out.status;
      let body: Buffer | undefined = out.body;
      if (isGet) {
        // Every GET answer says how long it may be kept: an error (a 401, a 429) not at all.
        const stats = out.freshUntil === undefined ? scope.stats : { ...scope.stats, freshUntil: Math.min(scope.stats.freshUntil, out.freshUntil) };
        headers['cache-control'] ??= cacheControlFor({ status, body: body ?? EMPTY, stats, now: app.clock.now() });
        if (status === 200 && body && headers['cache-control'] !== 'no-store') {
          headers.etag ??= etagFor(body);
          if (matchesEtag(header(req, 'if-none-match') ?? undefined, headers.etag)) {
            status = 304;
            body = undefined;
            delete headers['content-type'];
          }
        }
      }
      const write = (payload: Buffer | undefined) => {
        // A 304 may only state the length the 200 would have had, so it states none.
        if (payload) headers['content-length'] = String(payload.length);
        res.writeHead(status, headers);
        res.end(method === 'HEAD' ? undefined : payload);
        log({ scope, method, status, startedAt, operationName: out.operationName ?? notes.operationName, fastPath: fromFastPath });
      };
      if (body && encoding && body.length >= minCompressBytes && !headers['content-encoding']) {
        headers['content-encoding'] = encoding;
        if (body.length > SYNC_COMPRESS_MAX_BYTES) return compress(body, encoding).then(write);
        body = compressSync(body, encoding);
      }
      write(body);
    };
    // The edge's own refusals come in the JSON type the client prefers, as yoga's answers do: a
    // client that takes only application/graphql-response+json gets no other type from /graphql.
    const errorType = () => {
      const accept = header(req, 'accept');
      return answersGraphQLResponseJson(accept === null ? null : acceptForYoga(accept)) ? GRAPHQL_RESPONSE_TYPE : JSON_TYPE;
    };
    const refuse = (status: number, message: string, code: string, extra: Record<string, string> = {}, extensions: Record<string, unknown> = {}) =>
      send({ status, headers: { 'content-type': errorType(), 'cache-control': 'no-store', ...extra }, body: errorBody(message, code, requestId, extensions) });

    // Before CSRF prevention, which would otherwise refuse a bodiless DELETE as forged (403).
    if (!isGet && method !== 'POST') {
      return refuse(405, 'GraphQL only supports GET and POST requests.', 'BAD_REQUEST', { allow: ALLOWED_METHODS });
    }
    const decision = limiter.take(clientAddress(req, http.trustProxy));
    if (!decision.allowed) {
      app.metrics.inboundRejected('rate_limited');
      const seconds = decision.retryAfterSeconds;
      return refuse(429, `Too many requests from this address; retry in ${seconds} s`, 'TOO_MANY_REQUESTS', { 'retry-after': String(seconds) }, { retryAfterSeconds: seconds });
    }
    const hasOperation = search !== '' && OPERATION_PARAMETERS.some((name) => getParams().has(name));
    if (isGet && !hasOperation && http.graphiql && acceptsHtml(header(req, 'accept'))) {
      const page = await graphiqlPage(encoding);
      const headers: Record<string, string> = { ...baseHeaders, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', etag: page.etag };
      if (encoding) headers['content-encoding'] = encoding;
      if (matchesEtag(header(req, 'if-none-match') ?? undefined, page.etag)) {
        delete headers['content-type'];
        res.writeHead(304, headers);
        res.end();
        return;
      }
      headers['content-length'] = String(page.body.length);
      res.writeHead(200, headers);
      res.end(method === 'HEAD' ? undefined : page.body);
      return;
    }

    // A GET without an operation only gets an error (or the GraphiQL page): nothing to forge.
    if ((isGet ? hasOperation : true) && !isCsrfSafe(req.headers)) {
      app.metrics.inboundRejected('csrf');
      return refuse(403, CSRF_MESSAGE, 'FORBIDDEN');
    }
    let body: Buffer | undefined;
    const contentEncoding = header(req, 'content-encoding');
    if (!isGet && contentEncoding !== null && !NO_ENCODING.has(contentEncoding.trim().toLowerCase())) {
      // Read as it came, a compressed body would be reported as JSON that does not parse.
      return refuse(415, `The request body is encoded (Content-Encoding: ${contentEncoding.slice(0, 40)}); send it unencoded`, 'BAD_REQUEST', { 'accept-encoding': 'identity' });
    }
    if (!isGet) {
      try {
        body = await readBody(req, limits.bodyBytes);
      } catch (error) {
        // A client that hangs up mid-body is not a server fault: there is no one left to answer.
        if (req.destroyed || (error as { code?: string }).code === 'ECONNRESET' || (error as Error).message === 'aborted') return;
        if (!(error instanceof BodyTooLargeError)) throw error;
        app.metrics.inboundRejected('body_too_large');
        // Closing the connection stops the client from sending (and us from reading) the rest.
        return refuse(413, `The request body is larger than the ${limits.bodyBytes}-byte limit`, 'BAD_USER_INPUT', { connection: 'close' });
      }
    }
    if (!isGet && isMultipartForm(header(req, 'content-type'))) {
      return refuse(415, 'This endpoint takes no file uploads and does not read multipart bodies: send the operation as application/json', 'BAD_REQUEST');
    }
    // yoga reports unparseable parameters of a GET, or of a form-encoded POST, as an unexpected
    // error; they are the client's.
    const params = isGet
      ? getParams()
      : // yoga reads the media type before any `,` (a list of them is not valid, but it reads one).
        body && /^\s*application\/x-www-form-urlencoded\s*(;|$)/i.test((header(req, 'content-type') ?? '').split(',')[0]!)
        ? new URLSearchParams(body.toString('utf8'))
        : null;
    if (params) {
      for (const name of ['variables', 'extensions']) {
        const raw = params.get(name);
        if (!raw) continue;
        try {
          JSON.parse(raw);
        } catch {
          return refuse(400, `The "${name}" parameter is not valid JSON`, 'BAD_REQUEST');
        }
      }
    }
    const input = new RequestInput(method, search, url, body, scope, req.headers);

    // ---- Fast-path integration point -------------------------------------------------
    // Every check above ran; the request is well-formed in size and allowed to run. A stored
    // answer for it (same token key, same operation) may be sent without running yoga.
    if (fastPath) {
      let hit: GraphQLResponseOutput | null = null;
      try {
        const answer = fastPath(input);
        hit = answer instanceof Promise ? await answer : answer;
      } catch (error) {
        app.logger.warn({ err: error, requestId }, 'fast path failed; answering through the full pipeline');
      }
      // A request may have waited here (on an identical one's answer); a client that went away
      // meanwhile (its response closed before anything was written) is answered by no one,
      // neither from that answer nor by running the pipeline for it.
      if (res.destroyed) {
        log({ scope, method, status: CLIENT_CLOSED_REQUEST, startedAt, operationName: hit?.operationName ?? null, fastPath: hit !== null });
        // The fast path may have made this request the one identical requests wait on: they
        // must hear that it ended, or they would wait for an answer no one is building.
        if (hit === null) endRequest(input);
        return;
      }
      if (hit) {
        app.metrics.onResponseCacheHit();
        return send(hit, true);
      }
    }
    // -------------------------------------------------------------------------------------

    // The operation whose opening reads this request may add to, with the data layer that records them.
    let opening: { operation: string; data: KatapultData } | null = null;
    // Requests waiting on this one's answer (an identical one of the same token, see the fast
    // path) are told however it ends.
    try {
      // Only a request that reaches yoga can start upstream calls, so only it needs to learn
      // that its client went away (the fast path above is answered before this costs anything).
      const abort = new AbortController();
      // Every upstream read the request waits on listens here (a `nodes` lookup can wait on
      // dozens at once) and each listener goes when its read settles: not a leak.
      setMaxListeners(0, abort.signal);
      res.on('close', () => {
        if (!res.writableFinished) abort.abort();
      });
      scope.signal = abort.signal;
      const forwarded: Record<string, string> = {};
      for (const name in req.headers) {
        const value = req.headers[name];
        if (value !== undefined) forwarded[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      // Media types are case-insensitive (RFC 9110); yoga compares them as written.
      if (forwarded['content-type']) forwarded['content-type'] = lowerMediaType(forwarded['content-type']);
      if (forwarded.accept) {
        forwarded.accept = acceptForYoga(forwarded.accept);
        if (forwarded.accept === '') return refuse(406, EMPTY_REFUSALS[406]!, 'BAD_REQUEST');
      }
      // An operation seen before starts the reads it opened with then, now: they depend on
      // nothing but the operation (see `opening-reads.ts`), and yoga takes about half a
      // millisecond to reach them. A request for a refresh asks for its reads itself, as refreshes.
      const data = app.createData(scope);
      // A token due a check with Katapult is not started early either: its first read starts the
      // check, in the background while the request is served from its entries, and started on
      // arrival the check could come back refused before the request had read the rest.
      const early = !scope.noCache && scope.deadline - app.clock.now() >= PREFETCH_MIN_REMAINING_MS && !app.cache.backgroundCheckDue(scope.tokenKey);
      const operation = early ? app.responseCache.operationOf(shapeOf(input), scope) : null;
      if (operation !== null) {
        opening = { operation, data };
        const known = app.openingReads.recall(operation);
        // undici sends a call a few promise turns after `fetch` is called, and yoga's parsing,
        // validation and execution, which run in promise turns too, would come first: one turn
        // of the event loop lets the calls go out before yoga starts. Measured paired with 20 ms
        // upstream latency: without it the calls started early gained nothing (+0.3 ms), with it
        // the answer came 0.1 to 0.4 ms sooner (see the README's benchmark notes).
        if (known && data.prefetch(known)) await new Promise((resolve) => setImmediate(resolve));
      }
      // yoga's own Request class reads a Buffer body directly; the global one wraps it in a web
      // stream, which costs more than the rest of a warm request's parsing.
      const request = new app.yoga.fetchAPI.Request(url(), { method: method === 'HEAD' ? 'GET' : method, headers: forwarded, body: body as Uint8Array<ArrayBuffer> | undefined, signal: abort.signal });
      let response: Response;
      let answer: ArrayBuffer;
      try {
        response = await app.yoga.fetch(request, { scope, notes, data });
        answer = await response.arrayBuffer();
      } catch (error) {
        if (!abort.signal.aborted) throw error;
        // A client that hangs up (an app cancelling a request) aborts the request yoga is running;
        // that is no fault of ours, and there is no one left to answer. It is still counted.
        log({ scope, method, status: CLIENT_CLOSED_REQUEST, startedAt, operationName: notes.operationName, fastPath: false });
        return;
      }
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        // yoga's header names keep the case they were set in, and its streamed media types (SSE,
        // multipart) bring framing headers of their own. The answer is sent whole from here, so
        // this edge frames it (and encodes it) itself.
        const lower = name.toLowerCase();
        if (FRAMING_HEADERS.has(lower) || (lower === 'content-encoding' && NO_ENCODING.has(value.trim().toLowerCase()))) return;
        headers[lower] = value;
      });
      let payload = ownBytes(answer);
      // yoga refuses a media type it cannot read or write with a bare status; every error here has a body and a code.
      const refusal = payload.length === 0 ? EMPTY_REFUSALS[response.status] : undefined;
      if (refusal) {
        payload = errorBody(refusal, 'BAD_REQUEST', requestId);
        headers['content-type'] = errorType();
      }

      // The answer goes out first; storing it (deriving its key) is not the client's wait. The
      // client's next request is read on a later turn of the event loop, by when it is stored.
      const sent = send({ status: response.status, headers, body: payload });
      // ---- Result integration point: a finished answer may be stored for the fast path. ----
      if (onGraphQLResult) {
        try {
          onGraphQLResult({ request: input, status: response.status, headers, body: payload, operationName: notes.operationName });
        } catch (error) {
          app.logger.warn({ err: error, requestId }, 'onGraphQLResult hook failed');
        }
      }
      return sent;
    } finally {
      try {
        // Only a request that waited on Katapult has reads worth starting early next time.
        if (opening && scope.stats.misses + scope.stats.coalesced > 0) app.openingReads.remember(opening.operation, opening.data.openingReads(), scope.tokenKey);
      } catch (error) {
        app.logger.warn({ err: error, requestId }, 'remembering the opening reads failed');
      }
      endRequest(input);
    }
  };
}
