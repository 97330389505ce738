import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

export interface PersistedOperationsOptions {
  /** Remember documents clients register with a hash (automatic persisted queries). @default true */
  apq?: boolean;
  /** Operator-supplied documents by id (usually their sha256), always resolvable. @default none */
  allowList?: ReadonlyMap<string, string>;
  /** Run only documents in `allowList`; everything else is refused. @default false */
  allowListOnly?: boolean;
  /** Bytes of registered documents kept (least recently used go first). @default 4 MiB */
  maxStoreBytes?: number;
  /** Told about every document refused by the allow-list (for metrics). @default none */
  onNotAllowed?(): void;
  /**
   * Whether the request that sent a document with its hash may register it, asked once the
   * document has run, with the request's context. The registry is shared by every client, so
   * only a request whose token Katapult accepted should add to it: anyone else (no token, a
   * made-up one) could push every app's documents out, or fill it with their own. @default always
   */
  mayRegister?(context: unknown): boolean;
}

export class PersistedOperationsFileError extends Error {
  constructor(file: string, problem: string) {
    super(`PERSISTED_OPERATIONS_FILE (${file}): ${problem}`);
    this.name = 'PersistedOperationsFileError';
  }
}

/** What Apollo's tooling writes (`@apollo/generate-persisted-query-manifest`): the operations' ids are the SHA-256 of their bodies. */
const APOLLO_MANIFEST_FORMAT = 'apollo-persisted-query-manifest';

/**
 * Reads the allow-list, failing at start-up with what is wrong. It is a JSON object of id →
 * document (as Relay's compiler and graphql-codegen's client preset write them), or Apollo's
 * persisted query manifest (`{ format, version, operations: [{ id, body, … }] }`).
 */
export function loadPersistedOperations(file: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PersistedOperationsFileError(file, `expected a readable JSON file (${(error as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PersistedOperationsFileError(file, 'expected a JSON object mapping hash to document');
  if ((parsed as { format?: unknown }).format === APOLLO_MANIFEST_FORMAT) return manifestOperations(file, parsed as { version?: unknown; operations?: unknown });
  const entries = Object.entries(parsed as Record<string, unknown>);
  const bad = entries.filter(([, document]) => typeof document !== 'string' || document.trim() === '').map(([id]) => id);
  if (bad.length > 0) throw new PersistedOperationsFileError(file, `expected a document string for every id; not for ${bad.slice(0, 5).join(', ')}`);
  return new Map(entries as [string, string][]);
}

function manifestOperations(file: string, manifest: { version?: unknown; operations?: unknown }): Map<string, string> {
  if (manifest.version !== 1) throw new PersistedOperationsFileError(file, `expected version 1 of ${APOLLO_MANIFEST_FORMAT}, got ${JSON.stringify(manifest.version)}`);
  if (!Array.isArray(manifest.operations)) throw new PersistedOperationsFileError(file, `expected ${APOLLO_MANIFEST_FORMAT} to list its operations`);
  const operations = new Map<string, string>();
  const bad: string[] = [];
  for (const [index, operation] of manifest.operations.entries()) {
    const { id, body } = (operation ?? {}) as { id?: unknown; body?: unknown };
    if (typeof id !== 'string' || id === '' || typeof body !== 'string' || body.trim() === '') bad.push(typeof id === 'string' && id !== '' ? id : `#${index}`);
    else operations.set(id, body);
  }
  if (bad.length > 0) throw new PersistedOperationsFileError(file, `expected an id and a body for every operation; not for ${bad.slice(0, 5).join(', ')}`);
  return operations;
}

const sha256 = (text: string) => hash('sha256', text, 'hex');

interface PersistedQueryExtension {
  version?: unknown;
  sha256Hash?: unknown;
}

// Over HTTP 200, as Apollo's protocol expects: the client reads the error from the body and
// retries with the document. Mobile clients treat a non-2xx answer as a transport failure.
// (See the plugin's `onResultProcess` for clients that also take application/graphql-response+json.)
const notFound = () => new GraphQLError('PersistedQueryNotFound', { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
// The extension is a parameter of the request, as its query and variables are: a malformed one,
// a hash that does not match its document, or one this gateway does not take is a request that
// cannot be run as sent (BAD_REQUEST, as for a variables parameter that is not an object), not a
// value refused by the schema (BAD_USER_INPUT). Apollo's clients read the message, not the code.
const notSupported = () => new GraphQLError('PersistedQueryNotSupported', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
const badRequest = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
const notAllowed = () =>
  new GraphQLError('This gateway runs only its persisted operations, and this document is not one of them', {
    extensions: { code: 'PERSISTED_QUERY_NOT_ALLOWED', http: { status: 400 } },
  });

/**
 * Parameters that name a persisted document by its id alone, without Apollo's extension:
 * `documentId`, from the GraphQL-over-HTTP proposal for persisted documents (which writes a
 * SHA-256 id as `sha256:<hex>`), and `doc_id`, which Relay's persisted-queries guide has its
 * network layer send (with the compiler's id, MD5 by default). Both run documents of the
 * allow-list only: such ids are made when an app is built, and are never registered at run time.
 */
export const DOCUMENT_ID_PARAMETERS = ['documentId', 'doc_id'] as const;
/** Longer than any id a build tool writes (a `sha256:` prefix and 64 hex digits), short enough to quote in an error. */
const MAX_DOCUMENT_ID = 200;

/**
 * The document-id parameter among a request's parameters (null and absent ones do not count):
 * `several` when more than one is sent. The plugin and the fast path's key read it the same way.
 */
export function documentIdIn(params: Readonly<Record<string, unknown>>): { name: string; id: unknown } | 'several' | null {
  let found: { name: string; id: unknown } | null = null;
  for (const name of DOCUMENT_ID_PARAMETERS) {
    const id = params[name];
    if (id === undefined || id === null) continue;
    if (found) return 'several';
    found = { name, id };
  }
  return found;
}

/** A GET's document-id parameters, from its query string: yoga's GET parser keeps only the four standard ones. */
function documentIdsOfGet(request: Request): Record<string, unknown> {
  const question = request.url.indexOf('?');
  const search = new URLSearchParams(question < 0 ? '' : request.url.slice(question + 1));
  return Object.fromEntries(DOCUMENT_ID_PARAMETERS.map((name) => [name, search.get(name)]));
}

function isNotFoundAnswer(result: unknown): boolean {
  if (!result || typeof result !== 'object' || Array.isArray(result) || Symbol.asyncIterator in result) return false;
  const { data, errors } = result as { data?: unknown; errors?: ReadonlyArray<{ message?: string; extensions?: Record<string, unknown> }> };
  // Apollo's answer only: an unknown documentId is not something a client resends a document for.
  return data === undefined && errors?.length === 1 && errors[0]?.message === 'PersistedQueryNotFound' && errors[0]?.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND';
}

/**
 * Whether the client takes application/json. The HTTP edge has already rewritten an Accept with
 * parameters or wildcards into the plain list of types yoga answers in, most preferred first
 * and without those the client refuses (see accept.ts).
 */
function takesJson(accept: string | null): boolean {
  if (!accept) return true;
  return accept.split(',').some((range) => {
    const type = range.trim().toLowerCase();
    return type === 'application/json' || type === 'application/*' || type === '*/*';
  });
}
export interface PersistedOperations {
  plugin: Plugin;
  /**
   * Whether a request carrying only this hash would find its document now (and, as that
   * request would, marks a remembered document as recently used). The fast path asks before
   * replaying an answer stored under a hash: a document forgotten since must be sent again.
   */
  resolves(hash: string): boolean;
}

/**
 * Persisted operations, Apollo-compatible: the plugin, and what the fast path needs to know of
 * the documents it remembers. A request may carry
 * `extensions.persistedQuery { version: 1, sha256Hash }`:
 * - with the document: the hash must match it, and the document is remembered (APQ) once it
 *   has run, if `mayRegister` allows;
 * - without it: the document is looked up (allow-list first, then remembered ones), and an
 *   unknown hash answers `PersistedQueryNotFound` so the client resends with the document.
 * Hashes are checked against the document before anything is stored, so a client cannot
 * make another client's hash run a different document. With `allowListOnly`, only
 * operator-listed documents run, by hash or by exact text.
 */
export function createPersistedOperations(options: PersistedOperationsOptions = {}): PersistedOperations {
  const apq = options.apq ?? true;
  const allowList = options.allowList ?? new Map<string, string>();
  const allowListOnly = options.allowListOnly ?? false;
  const allowedDocuments = new Set(allowList.values());
  const store = new LRUCache<string, string>({ maxSize: options.maxStoreBytes ?? 4 * 1024 * 1024, sizeCalculation: (document, hash) => document.length + hash.length });
  const refuse = () => {
    options.onNotAllowed?.();
    return notAllowed();
  };
  /** The allow-list's document for a hash, whatever case the client writes a hex hash in. */
  const listedFor = (hash: string): string | undefined => allowList.get(hash) ?? allowList.get(hash.toLowerCase());
  /** The allow-list's document for an id sent as documentId or doc_id: as written, or a `sha256:` id by its hash. */
  const listedById = (id: string): string | undefined => allowList.get(id) ?? listedFor(id.startsWith('sha256:') ? id.slice('sha256:'.length) : id);
  const unknownId = (name: string, id: string) =>
    new GraphQLError(
      allowList.size === 0
        ? `This gateway has no persisted documents to run by ${name} (PERSISTED_OPERATIONS_FILE is not set); send the document as query`
        : `No persisted document has the ${name} "${id}"`,
      { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } } },
    );
  /** A document remembered for a hash by APQ, when remembered ones may run. */
  const rememberedFor = (hash: string): string | undefined => (apq && !allowListOnly ? store.get(hash.toLowerCase()) : undefined);
  /** The document a hash sent alone runs: the allow-list's, else a remembered one. */
  const documentFor = (hash: string): string | undefined => listedFor(hash) ?? rememberedFor(hash);

  /** Documents sent with their hash, by request, until the request has run and may register them. */
  const offered = new WeakMap<Request, { hash: string; document: string }>();

  const plugin: Plugin = {
    /**
     * An answer without data is a 4xx under application/graphql-response+json, so a client that
     * prefers that type would get PersistedQueryNotFound as a 400. Apollo iOS asks for it first
     * (and application/json after), and its response-code check fails any non-2xx before its
     * APQ step can resend the document: the answer that asks for the document goes out as
     * application/json, a 200, to every client that takes that type too.
     */
    onResultProcess({ request, result, resultProcessor, setResultProcessor }) {
      if (resultProcessor && isNotFoundAnswer(result) && takesJson(request.headers.get('accept'))) setResultProcessor(resultProcessor, 'application/json');
    },
    onExecutionResult({ request, context }) {
      const offer = offered.get(request);
      if (!offer) return;
      offered.delete(request);
      if (options.mayRegister?.(context) ?? true) store.set(offer.hash, offer.document);
    },
    onParams({ params, request, setParams }) {
      // Thrown, not set as the result: yoga would still run its own parameter checks after a
      // set result ("Must provide query string"), while a throw ends the request here.
      const fail = (error: GraphQLError): never => {
        throw error;
      };
      const query = typeof params.query === 'string' && params.query.length > 0 ? params.query : null;
      const extension = (params.extensions as { persistedQuery?: PersistedQueryExtension } | undefined)?.persistedQuery;

      const named = documentIdIn(request.method === 'GET' || request.method === 'HEAD' ? documentIdsOfGet(request) : (params as Record<string, unknown>));
      if (named !== null) {
        if (named === 'several' || (extension !== undefined && extension !== null)) {
          return fail(badRequest('Name a persisted document once: with documentId, doc_id or extensions.persistedQuery, not several'));
        }
        const { name, id } = named;
        if (typeof id !== 'string' || id.length === 0 || id.length > MAX_DOCUMENT_ID) {
          return fail(badRequest(`${name} must be the id of a persisted document: a string of 1 to ${MAX_DOCUMENT_ID} characters`));
        }
        const document = listedById(id);
        if (document === undefined) {
          // Under the allow-list alone, a probe for ids is a refusal like any other document's.
          if (allowListOnly) options.onNotAllowed?.();
          return fail(unknownId(name, id));
        }
        if (query !== null && query !== document) return fail(badRequest(`The document sent is not the persisted document ${name} names`));
        const rest: Record<string, unknown> = { ...params };
        for (const parameter of DOCUMENT_ID_PARAMETERS) delete rest[parameter];
        return setParams({ ...rest, query: document });
      }

      if (extension === undefined || extension === null) {
        if (allowListOnly && query !== null && !allowedDocuments.has(query)) fail(refuse());
        return;
      }
      if (typeof extension !== 'object' || extension.version !== 1 || typeof extension.sha256Hash !== 'string' || extension.sha256Hash.length > 128) {
        return fail(badRequest('extensions.persistedQuery must be { version: 1, sha256Hash: "<hex sha256 of the document>" }'));
      }
      const hash = extension.sha256Hash;
      const listed = listedFor(hash);

      if (query !== null) {
        if (listed !== undefined ? listed !== query : sha256(query) !== hash.toLowerCase()) {
          return fail(badRequest('extensions.persistedQuery.sha256Hash does not match the document sent with it'));
        }
        if (allowListOnly && listed === undefined && !allowedDocuments.has(query)) return fail(refuse());
        if (apq && listed === undefined) offered.set(request, { hash: hash.toLowerCase(), document: query });
        return;
      }

      const document = listed ?? rememberedFor(hash);
      if (document !== undefined) return setParams({ ...params, query: document });
      if (allowListOnly) return fail(refuse());
      // Without APQ a hash the allow-list lacks can never be registered: NotFound would make an
      // Apollo client send the document and then the hash alone again, for every request.
      if (!apq) return fail(notSupported());
      return fail(notFound());
    },
  };
  return {
    plugin,
    resolves: (hash) => documentFor(hash) !== undefined,
  };
}
