import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset } from '../../src/simulator/dataset.js';
import { createRandom } from '../../src/simulator/random.js';
import { DEMO_TOKENS, LOAD_TOKEN_PREFIX, type SimulatorDataset } from '../../src/simulator/index.js';
import { ACME, GLOBEX, INITECH, USER } from '../../src/simulator/organizations.js';
import { createTestGateway, startLoopbackGateway, type GraphQLBody, type LoopbackGateway, type TestGateway, type TestGatewayOptions } from '../helpers/gateway.js';

/**
 * The gateway's first promise, tested as a whole: several tokens at once over real HTTP,
 * through every layer that shares work between requests (the REST cache's singleflight, the
 * finished-response cache and its joins, the reads started on arrival, the document and JIT
 * caches), and no answer may hold data its token may not see.
 *
 * The model is one gateway per token: an in-process gateway that only ever serves that token
 * (no HTTP edge, so no fast path, no joins, no reads started early) cannot give one token
 * another's data, so what it answers is what the token may see. The gateway under test serves
 * every token together, concurrently, with repeats, refreshes and revalidations mixed in, and
 * must answer each request as the token's own gateway does. Independently of the model, every
 * answer is checked against who owns what in the simulator's dataset, so a model that were
 * wrong the same way would still be caught.
 */

const CALLERS = ['acme', 'globex', 'user', 'noVmScope', 'suspended', 'load', 'invalid', 'anonymous'] as const;
type Caller = (typeof CALLERS)[number];

const TOKENS: Record<Caller, string | undefined> = {
  ...DEMO_TOKENS,
  // Acts for globex as the globex token does, under another token key: the same data, never the same entries.
  load: `${LOAD_TOKEN_PREFIX}isolation`,
  invalid: 'kp_not_a_real_token',
  anonymous: undefined,
};

/**
 * What each caller may see: whose data (organizations by id, and the user behind the user
 * token), and whether VMs too. The suspended token's own organization counts as its own
 * (whatever Katapult tells it of initech is no leak); the rest of the world does not.
 */
const VIEWS: Record<Caller, { owners: readonly string[]; virtualMachines: boolean }> = {
  acme: { owners: [ACME.id], virtualMachines: true },
  globex: { owners: [GLOBEX.id], virtualMachines: true },
  user: { owners: [USER.id, ACME.id, GLOBEX.id], virtualMachines: true },
  noVmScope: { owners: [GLOBEX.id], virtualMachines: false },
  suspended: { owners: [INITECH.id], virtualMachines: true },
  load: { owners: [GLOBEX.id], virtualMachines: true },
  invalid: { owners: [], virtualMachines: false },
  anonymous: { owners: [], virtualMachines: false },
};
const AUTHENTICATED = (caller: Caller) => caller !== 'invalid' && caller !== 'anonymous';

// ---- Who owns what ---------------------------------------------------------------------

interface Secret {
  /** An organization's id, or the user's. */
  owner: string;
  kind: 'organization' | 'vm' | 'package' | 'user';
}

/**
 * Every string in the dataset that belongs to one organization (its own record's identifying
 * fields, its VMs' ids, FQDNs and addresses, its private packages) or to the user. Names that
 * organizations share (a VM's "Web server 001", a public package) are nobody's secret.
 */
function secretsOf(dataset: SimulatorDataset): Map<string, Secret> {
  const secrets = new Map<string, Secret>();
  const add = (text: string | null | undefined, secret: Secret) => {
    if (text) secrets.set(text, secret);
  };
  for (const org of dataset.organizations) {
    const secret = { owner: org.id, kind: 'organization' } as const;
    for (const text of [org.id, org.name, org.billing_name, org.infrastructure_domain, org.vat_number, org.phone_number]) add(text, secret);
  }
  for (const { virtualMachine: vm } of dataset.virtualMachines) {
    const secret = { owner: vm.organization.id, kind: 'vm' } as const;
    add(vm.id, secret);
    add(vm.fqdn, secret);
    for (const ip of vm.ip_addresses) add(ip.address, secret);
  }
  for (const { package: pkg, organizationId } of dataset.packages) {
    if (organizationId === null) continue;
    const secret = { owner: organizationId, kind: 'package' } as const;
    for (const text of [pkg.id, pkg.name, pkg.permalink]) add(text, secret);
  }
  const { user } = dataset;
  for (const text of [user.id, user.first_name, user.last_name, user.avatar_url]) add(text, { owner: user.id, kind: 'user' });
  return secrets;
}

const mayShow = (caller: Caller, secret: Secret) => VIEWS[caller].owners.includes(secret.owner) && (secret.kind !== 'vm' || VIEWS[caller].virtualMachines);

function stringLeaves(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) stringLeaves(item, out);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) stringLeaves(item, out);
  return out;
}

function nonNullLeaves(value: unknown): unknown[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(nonNullLeaves);
  if (typeof value === 'object') return Object.values(value).flatMap(nonNullLeaves);
  return [value];
}

// ---- The operations ----------------------------------------------------------------------

interface Operation {
  name: string;
  document: string;
  variables: Record<string, unknown>;
}

const DOCUMENTS = {
  organizationVms: /* GraphQL */ `query OrganizationVms($org: String!, $first: Int!, $after: String) {
    organization(subDomain: $org) {
      id
      name
      virtualMachines(first: $first, after: $after) { edges { node { id name fqdn package { id name } } } pageInfo { endCursor } }
    }
  }`,
  node: /* GraphQL */ `query Node($id: ID!) {
    node(id: $id) {
      id
      ... on VirtualMachine { name fqdn organization { id name } }
      ... on Organization { name }
      ... on VirtualMachinePackage { name }
    }
  }`,
  nodes: /* GraphQL */ `query Nodes($ids: [ID!]!) {
    nodes(ids: $ids) {
      id
      ... on VirtualMachine { fqdn organization { id } }
      ... on Organization { name }
      ... on VirtualMachinePackage { name }
    }
  }`,
  virtualMachine: /* GraphQL */ `query VirtualMachine($id: ID) { virtualMachine(id: $id) { id name fqdn organization { id } } }`,
  virtualMachineByFqdn: /* GraphQL */ `query VirtualMachineByFqdn($fqdn: String) { virtualMachine(fqdn: $fqdn) { id fqdn organization { id name } } }`,
  viewer: /* GraphQL */ `{ viewer { id firstName organizations { id name } } }`,
  organizations: /* GraphQL */ `{ organizations { id name infrastructureDomain } }`,
  catalogue: /* GraphQL */ `{ zones { id name } dataCenters { id name } }`,
  packages: /* GraphQL */ `query Packages($lookup: OrganizationLookup) {
    virtualMachinePackages(organization: $lookup, first: 50) { edges { node { id name privacy } } }
  }`,
} as const;

/**
 * The same document as other text: the fast path and the reads started on arrival key a
 * document by its tokens, so these must meet the same entries, still per token.
 */
const SPELLINGS = [(d: string) => d, (d: string) => d.replace(/\s+/g, ' ').trim(), (d: string) => `# isolation\n${d.replace(/ \{/g, ', {')}`];

/** Ids and cursors read through the gateway before the runs, with tokens that may see them. */
interface Pools {
  vmIds: string[];
  fqdns: string[];
  /** Any Katapult ids: VMs of every organization (one in the trash), organizations, packages, a zone, and ids of nothing. */
  nodeIds: string[];
  /** End cursors of both organizations' VM connections. */
  cursors: string[];
}

function operationArb(pools: Pools): fc.Arbitrary<Operation> {
  const spelled = (name: keyof typeof DOCUMENTS, variables: fc.Arbitrary<Record<string, unknown>>) =>
    fc.record({ spelling: fc.integer({ min: 0, max: SPELLINGS.length - 1 }), variables }).map(({ spelling, variables }) => ({
      name,
      document: SPELLINGS[spelling]!(DOCUMENTS[name]),
      variables,
    }));
  // A modest menu of values, so the same operation comes back often enough to be stored and replayed.
  const org = fc.constantFrom('acme', 'globex', 'initech');
  return fc.oneof(
    { weight: 4, arbitrary: spelled('organizationVms', fc.record({ org, first: fc.constantFrom(1, 3, 12, 50), after: fc.option(fc.constantFrom(...pools.cursors), { nil: undefined }) }, { requiredKeys: ['org', 'first'] })) },
    { weight: 3, arbitrary: spelled('node', fc.record({ id: fc.constantFrom(...pools.nodeIds) })) },
    { weight: 2, arbitrary: spelled('nodes', fc.record({ ids: fc.array(fc.constantFrom(...pools.nodeIds), { minLength: 1, maxLength: 4 }) })) },
    { weight: 2, arbitrary: spelled('virtualMachine', fc.record({ id: fc.constantFrom(...pools.vmIds) })) },
    { weight: 1, arbitrary: spelled('virtualMachineByFqdn', fc.record({ fqdn: fc.constantFrom(...pools.fqdns) })) },
    { weight: 2, arbitrary: spelled('viewer', fc.constant({})) },
    { weight: 2, arbitrary: spelled('organizations', fc.constant({})) },
    { weight: 1, arbitrary: spelled('catalogue', fc.constant({})) },
    {
      weight: 2,
      arbitrary: spelled('packages', fc.record({ lookup: fc.constantFrom(null, { subDomain: 'acme' }, { subDomain: 'globex' }, { id: ACME.id }, { id: GLOBEX.id }, { id: INITECH.id }) })),
    },
  );
}

// ---- Requests ---------------------------------------------------------------------------

const METHODS = ['GET', 'POST', 'APQ'] as const;
type Method = (typeof METHODS)[number];

interface Call {
  caller: Caller;
  operation: Operation;
  /** APQ: a POST of the document's hash alone, and of the document with it when the gateway does not know the hash. */
  method: Method;
  accept: string;
  /** `Cache-Control: no-cache`. */
  refresh: boolean;
  /** Send `If-None-Match` with the last ETag any caller got for this operation. */
  revalidate: boolean;
}

const ACCEPTS = ['application/json', 'application/graphql-response+json'];

function callArb(pools: Pools, callers: readonly Caller[] = CALLERS): fc.Arbitrary<Call> {
  return fc.record({
    caller: fc.constantFrom(...callers),
    operation: operationArb(pools),
    method: fc.constantFrom(...METHODS),
    accept: fc.constantFrom(...ACCEPTS),
    // A pull-to-refresh now and then: it replaces the token's entries, which drops its stored answers.
    refresh: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
    revalidate: fc.boolean(),
  }) as fc.Arbitrary<Call>;
}

/** The request's identity apart from who sends it: what the fast path keys on after the token. */
const operationKey = (call: Pick<Call, 'operation' | 'accept'>) => JSON.stringify([call.operation.document, call.operation.variables, call.accept]);

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: GraphQLBody | undefined;
  ifNoneMatch: string | undefined;
}

async function send(gateway: LoopbackGateway, call: Call, ifNoneMatch: string | undefined): Promise<Answer> {
  const headers: Record<string, string> = { accept: call.accept };
  const token = TOKENS[call.caller];
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (call.refresh) headers['cache-control'] = 'no-cache';
  let response: Response;
  if (call.method === 'GET') {
    const search = new URLSearchParams({ query: call.operation.document, variables: JSON.stringify(call.operation.variables) });
    // A GET is what a browser can send across sites unasked: it needs a header that forces a preflight.
    headers['x-graphql-csrf'] = '1';
    if (ifNoneMatch !== undefined) headers['if-none-match'] = ifNoneMatch;
    response = await fetch(`${gateway.url}/graphql?${search}`, { headers });
  } else {
    headers['content-type'] = 'application/json';
    const { document, variables } = call.operation;
    const post = (params: Record<string, unknown>) => fetch(`${gateway.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ ...params, variables }) });
    if (call.method === 'APQ') {
      // The registry of documents is shared by every token: a hash one token registered runs for another.
      const extensions = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(document).digest('hex') } };
      const first = await read(await post({ extensions }), ifNoneMatch);
      if (!first.body?.errors?.some((error) => error.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND')) return first;
      response = await post({ query: document, extensions });
    } else {
      response = await post({ query: document });
    }
  }
  return read(response, ifNoneMatch);
}

async function read(response: Response, ifNoneMatch: string | undefined): Promise<Answer> {
  const text = await response.text();
  let body: GraphQLBody | undefined;
  try {
    body = text === '' ? undefined : (JSON.parse(text) as GraphQLBody);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body, ifNoneMatch };
}

// ---- The model --------------------------------------------------------------------------

/** One gateway per caller, serving nobody else; answers remembered, as the dataset never changes. */
function createModel() {
  const gateways = new Map<Caller, TestGateway>();
  const answers = new Map<string, Promise<{ status: number; body: GraphQLBody }>>();
  return {
    answer(call: Pick<Call, 'caller' | 'operation' | 'accept'>) {
      const key = JSON.stringify([call.caller, operationKey(call)]);
      let answer = answers.get(key);
      if (!answer) {
        let gateway = gateways.get(call.caller);
        // No token's budget runs out over the whole file: the model must never answer RATE_LIMITED.
        if (!gateway) gateways.set(call.caller, (gateway = createTestGateway({ simulatorOptions: { rateLimitPerMinute: 1_000_000 } })));
        const token = TOKENS[call.caller];
        answer = gateway
          .query(call.operation.document, { variables: call.operation.variables, headers: { accept: call.accept }, ...(token === undefined ? {} : { token }) })
          .then(({ status, body }) => ({ status, body }));
        answers.set(key, answer);
      }
      return answer;
    },
    async close() {
      await Promise.all([...gateways.values()].map((gateway) => gateway.close()));
    },
  };
}
type Model = ReturnType<typeof createModel>;

// ---- The oracle ---------------------------------------------------------------------------

/**
 * An answer without what differs between any two requests: the request id, and the order of
 * errors, which is the order in which fields failed (two lookups refused at once come back in
 * either order).
 */
function comparable(body: GraphQLBody | undefined): unknown {
  if (!body) return body;
  const errors = body.errors
    ?.map(({ extensions, ...error }) => {
      const { requestId: _requestId, ...rest } = extensions ?? {};
      return { ...error, extensions: rest };
    })
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return { ...body, ...(errors ? { errors } : {}) };
}

const KNOWN_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'RATE_LIMITED', 'BAD_USER_INPUT', 'UPSTREAM_UNAVAILABLE']);

interface Context {
  gateway: LoopbackGateway;
  model: Model;
  secrets: Map<string, Secret>;
  /** Katapult answers every call: the gateway must then answer exactly as the model does. */
  healthy: boolean;
  /** Bodies by the ETag they were sent with. */
  etags: Map<string, string>;
  /** The last ETag seen per operation, from any caller. */
  lastEtag: Map<string, string>;
  tally: Record<string, number>;
  /** What Katapult is made to do now, outside an outage. */
  faults: FaultRatios;
}

async function check(context: Context, call: Call, answer: Answer): Promise<void> {
  const { secrets } = context;
  const reference = await context.model.answer(call);
  const fail = (why: string): never => {
    const request = `${call.caller} ${call.method} ${call.operation.name} ${JSON.stringify(call.operation.variables)} accept=${call.accept}${call.refresh ? ' no-cache' : ''}${answer.ifNoneMatch ? ` if-none-match=${answer.ifNoneMatch}` : ''}`;
    throw new Error(`${why}\n  request: ${request}\n  document: ${JSON.stringify(call.operation.document)}\n  answer (${answer.status}): ${answer.text.slice(0, 1500)}\n  model (${reference.status}): ${JSON.stringify(reference.body).slice(0, 1500)}`);
  };
  context.tally[`status ${answer.status}`] = (context.tally[`status ${answer.status}`] ?? 0) + 1;

  // A revalidated GET: the client keeps what it was sent before under that ETag; it must be this caller's own answer.
  if (answer.status === 304) {
    if (answer.ifNoneMatch === undefined) fail('304 to a request that named no ETag');
    const kept = context.etags.get(answer.ifNoneMatch!);
    if (kept === undefined) fail('304 for an ETag no answer carried');
    if (reference.body.errors !== undefined || !isDeepStrictEqual(JSON.parse(kept!).data, reference.body.data)) fail(`304: the body kept under that ETag is not this caller's answer: ${kept}`);
    return;
  }
  if (![200, 401, 429].includes(answer.status)) fail(`unexpected HTTP status ${answer.status}`);
  const body = answer.body;
  if (!body) return fail('the answer is not JSON');

  for (const error of body.errors ?? []) {
    const code = String(error.extensions?.code);
    if (!KNOWN_CODES.has(code)) fail(`an error with code ${code}`);
    if (typeof error.extensions?.requestId !== 'string') fail('an error without its requestId');
    context.tally[code] = (context.tally[code] ?? 0) + 1;
  }

  // Nothing of anyone else, in the data or anywhere in the text (an error message, an extension),
  // unless the request named it itself.
  for (const text of stringLeaves(body.data)) {
    const secret = secrets.get(text);
    if (secret && !mayShow(call.caller, secret)) fail(`data holds ${text}, of ${secret.owner} (${secret.kind}), which ${call.caller} may not see`);
  }
  const asked = JSON.stringify([call.operation.document, call.operation.variables]);
  for (const [text, secret] of secrets) {
    if (!mayShow(call.caller, secret) && answer.text.includes(text) && !asked.includes(text)) fail(`the answer mentions ${text}, of ${secret.owner} (${secret.kind}), which ${call.caller} may not see`);
  }

  if (!AUTHENTICATED(call.caller)) {
    if (nonNullLeaves(body.data).length > 0) fail('data for a caller without a valid token');
    const codes = new Set((body.errors ?? []).map((error) => String(error.extensions?.code)));
    const allowed = context.healthy ? ['UNAUTHENTICATED'] : ['UNAUTHENTICATED', 'UPSTREAM_UNAVAILABLE', 'RATE_LIMITED'];
    if ([...codes].some((code) => !allowed.includes(code))) fail('a caller without a valid token must be told UNAUTHENTICATED');
    // Only what costs no Katapult call (a `node` id of no known kind) may answer null without a word.
    if (reference.body.errors !== undefined && codes.size === 0) fail('a caller without a valid token was not told UNAUTHENTICATED');
  }

  if (call.method === 'GET') {
    // A shared HTTP cache must never hand one token's answer to another.
    const cacheControl = answer.headers.get('cache-control') ?? '';
    if (/\bpublic\b|s-maxage/.test(cacheControl) || (answer.status === 200 && !/^(no-store|private\b)/.test(cacheControl))) fail(`Cache-Control: ${cacheControl}`);
    if (!/\bAuthorization\b/i.test(answer.headers.get('vary') ?? '')) fail(`Vary: ${answer.headers.get('vary')}`);
    const etag = answer.headers.get('etag');
    if (etag !== null) {
      context.etags.set(etag, answer.text);
      context.lastEtag.set(operationKey(call), etag);
    }
  }

  if (context.healthy) {
    // Katapult answered every call: the shared gateway must answer as the caller's own does.
    if (answer.status !== reference.status || !isDeepStrictEqual(comparable(body), comparable(reference.body))) fail('the answer is not the one the caller\'s own gateway gives');
  } else if (body.errors === undefined) {
    // A clean answer while Katapult fails (from cache, stale or not, or after retries) is still the caller's own.
    if (!isDeepStrictEqual(body.data, reference.body.data)) fail('a clean answer that is not the one the caller\'s own gateway gives');
  } else {
    // A partial answer holds nothing the caller's own answer does not.
    const own = new Set(stringLeaves(reference.body.data).filter((text) => secrets.has(text)));
    for (const text of stringLeaves(body.data)) if (secrets.has(text) && !own.has(text)) fail(`a partial answer holds ${text}, which the caller's own answer does not`);
  }
  const kind = body.errors === undefined ? 'clean' : nonNullLeaves(body.data).length > 0 ? 'partial' : 'refused';
  context.tally[kind] = (context.tally[kind] ?? 0) + 1;
}

// ---- Commands -----------------------------------------------------------------------------

type Command = fc.AsyncCommand<object, Context>;

/**
 * Requests sent together: the same operation from several callers, and exact repeats, are the
 * common case. Sent again after `againAfterMs`, when set: by then the first answers may be stored
 * (replayed), or, with short TTLs, their entries expired (read again, or stood in for a failure).
 */
class Burst implements Command {
  constructor(
    readonly calls: readonly Call[],
    readonly againAfterMs?: number,
  ) {}
  check = () => true;
  async run(_model: object, context: Context) {
    // The model's answers first, so that the burst itself arrives together.
    await Promise.all(this.calls.map((call) => context.model.answer(call)));
    for (let round = 0; round < (this.againAfterMs === undefined ? 1 : 2); round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, this.againAfterMs));
      const answers = await Promise.all(
        this.calls.map((call) => send(context.gateway, call, call.revalidate && call.method === 'GET' ? context.lastEtag.get(operationKey(call)) : undefined)),
      );
      for (const [i, call] of this.calls.entries()) await check(context, call, answers[i]!);
    }
  }
  toString = () =>
    `Burst(${this.calls.map((c) => `${c.caller}:${c.method}:${c.operation.name}${JSON.stringify(c.operation.variables)}${c.refresh ? ':no-cache' : ''}`).join(', ')}${this.againAfterMs === undefined ? '' : `; again after ${this.againAfterMs} ms`})`;
}

/**
 * One operation, three times in a row for one caller (stored at its second clean answer,
 * replayed at the third), then three times for another, then once more for the first: each
 * gets its own answer, never the other's stored one.
 */
class Replay implements Command {
  constructor(
    readonly first: Call,
    readonly second: Caller,
  ) {}
  check = () => true;
  async run(_model: object, context: Context) {
    const other = { ...this.first, caller: this.second, revalidate: false };
    const sequence = [this.first, this.first, this.first, other, other, other, this.first].map((call) => ({ ...call, refresh: false }));
    for (const call of sequence) {
      await context.model.answer(call);
      await check(context, call, await send(context.gateway, call, call.revalidate && call.method === 'GET' ? context.lastEtag.get(operationKey(call)) : undefined));
    }
  }
  toString = () => `Replay(${this.first.operation.name}${JSON.stringify(this.first.operation.variables)} ${this.first.method}: ${this.first.caller} then ${this.second})`;
}

/** Time for background refreshes to land and, with short TTLs, for entries to go stale. */
class Pause implements Command {
  constructor(readonly ms: number) {}
  check = () => true;
  async run() {
    await new Promise((resolve) => setTimeout(resolve, this.ms));
  }
  toString = () => `Pause(${this.ms})`;
}

/** Katapult starts or stops failing: 503s, resets and cut-off bodies, so retries and stale-if-error answer. */
class Faults implements Command {
  constructor(readonly faults: FaultRatios) {}
  check = () => true;
  async run(_model: object, context: Context) {
    context.faults = this.faults;
    context.gateway.sim.setFaults(this.faults);
  }
  toString = () => `Faults(${JSON.stringify(this.faults)})`;
}

/**
 * A caller reads an operation, its entries expire, and Katapult goes down: the caller is
 * answered from its own expired entries (stale-if-error), and another caller sending the same
 * operation at the same moment gets its own answer or an error, never those entries.
 */
class Outage implements Command {
  constructor(
    readonly first: Call,
    readonly second: Caller,
  ) {}
  check = () => true;
  async run(_model: object, context: Context) {
    const warm = { ...this.first, refresh: false, revalidate: false };
    const other = { ...this.first, caller: this.second, revalidate: false };
    await Promise.all([context.model.answer(warm), context.model.answer(other)]);
    context.gateway.sim.setFaults(FAULTS[0]!);
    await check(context, warm, await send(context.gateway, warm, undefined));
    await new Promise((resolve) => setTimeout(resolve, SHORTEST_TTL_MS + 50));
    context.gateway.sim.setFaults({ failureRatio: 1, resetRatio: 0, malformedRatio: 0 });
    try {
      const answers = await Promise.all([this.first, other].map((call) => send(context.gateway, call, undefined)));
      await check(context, this.first, answers[0]!);
      await check(context, other, answers[1]!);
    } finally {
      context.gateway.sim.setFaults(context.faults);
    }
  }
  toString = () => `Outage(${this.first.operation.name}${JSON.stringify(this.first.operation.variables)} ${this.first.method}: ${this.first.caller} and ${this.second})`;
}

/** A value one time in three, else undefined. */
const sometimes = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/** Katapult healthy, failing now and then (retries mostly hide it), or failing hard (stale-if-error and errors show). */
type FaultRatios = { failureRatio: number; resetRatio: number; malformedRatio: number };
const FAULTS: readonly FaultRatios[] = [
  { failureRatio: 0, resetRatio: 0, malformedRatio: 0 },
  { failureRatio: 0.2, resetRatio: 0.05, malformedRatio: 0.1 },
  { failureRatio: 0.5, resetRatio: 0.15, malformedRatio: 0.3 },
];

function commandArbs(pools: Pools, withFaults: boolean): fc.Arbitrary<Command>[] {
  const call = callArb(pools);
  // A few distinct requests, each sent several times, some of them by other callers.
  const burst = fc
    .record({
      templates: fc.array(call, { minLength: 1, maxLength: 4 }),
      // Mostly as the template is (exact repeats), else sent by another caller, or by the other method.
      picks: fc.array(fc.record({ template: fc.nat(), caller: sometimes(fc.constantFrom(...CALLERS)), method: sometimes(fc.constantFrom(...METHODS)) }), {
        minLength: 2,
        maxLength: 12,
      }),
      againAfterMs: sometimes(fc.integer({ min: 0, max: 300 })),
    })
    .map(({ templates, picks, againAfterMs }) =>
      new Burst(
        picks.map(({ template, caller, method }) => {
          const base = templates[template % templates.length]!;
          return { ...base, caller: caller ?? base.caller, method: method ?? base.method };
        }),
        againAfterMs,
      ),
    );
  const authenticated = CALLERS.filter(AUTHENTICATED);
  const replay = fc.record({ first: callArb(pools, authenticated), second: fc.constantFrom(...CALLERS) }).map(({ first, second }) => new Replay(first, second));
  const arbs: fc.Arbitrary<Command>[] = [burst, burst, burst, replay, fc.integer({ min: 0, max: 150 }).map((ms) => new Pause(ms))];
  if (withFaults) {
    arbs.push(fc.constantFrom(...FAULTS).map((faults) => new Faults(faults)));
    arbs.push(fc.record({ first: callArb(pools, authenticated), second: fc.constantFrom(...CALLERS) }).map(({ first, second }) => new Outage(first, second)));
  }
  return arbs;
}

// ---- Setup --------------------------------------------------------------------------------

const dataset = createDataset();
const secrets = secretsOf(dataset);
let model: Model;
let pools: Pools;

/** VM ids, FQDNs and cursors as the gateway gives them to the one token that sees both organizations. */
async function collectPools(): Promise<Pools> {
  const vmIds: string[] = [];
  const fqdns: string[] = [];
  const cursors: string[] = [];
  const page = async (org: string, first: number, after?: string) => {
    const { body } = await model.answer({ caller: 'user', accept: 'application/json', operation: { name: 'collect', document: DOCUMENTS.organizationVms, variables: { org, first, ...(after ? { after } : {}) } } });
    if (body.errors) throw new Error(`collecting ids: ${JSON.stringify(body.errors)}`);
    const connection = body.data!.organization.virtualMachines as { edges: Array<{ node: { id: string; fqdn: string } }>; pageInfo: { endCursor: string } };
    return { nodes: connection.edges.map((edge) => edge.node), cursor: connection.pageInfo.endCursor };
  };
  // Both ends of acme's list (past the first upstream page of 200) and a few of globex's.
  const acmeHead = await page('acme', 3);
  const acmeTail = await page('acme', 3, (await page('acme', 50, (await page('acme', 100, (await page('acme', 100)).cursor)).cursor)).cursor);
  const globex = await page('globex', 4);
  for (const { nodes, cursor } of [acmeHead, acmeTail, globex]) {
    vmIds.push(...nodes.slice(0, 2).map((node) => node.id));
    fqdns.push(nodes[0]!.fqdn);
    cursors.push(cursor);
  }
  const vmOf = (org: string, trashed: boolean) => dataset.virtualMachines.find((vm) => vm.virtualMachine.organization.id === org && (vm.trash !== null) === trashed)!.virtualMachine;
  // initech's VMs (a suspended organization's) and one of acme's in the trash: nobody reads them through the gateway.
  vmIds.push(vmOf(INITECH.id, false).id, vmOf(ACME.id, true).id);
  fqdns.push(vmOf(INITECH.id, false).fqdn);
  const privatePackages = dataset.packages.filter((p) => p.organizationId !== null).map((p) => p.package.id);
  const publicPackage = dataset.packages.find((p) => p.organizationId === null)!.package.id;
  const nodeIds = [...vmIds, ACME.id, GLOBEX.id, INITECH.id, ...privatePackages, publicPackage, dataset.zones[0]!.id, 'vm_notARealOne0000', 'not-an-id'];
  for (const id of vmIds) expect(secrets.get(id)?.kind).toBe('vm');
  return { vmIds, fqdns, nodeIds, cursors };
}

beforeAll(async () => {
  model = createModel();
  pools = await collectPools();
});
afterAll(() => model.close());

/** What the gateway shared or stood in with over a run, from its own metrics: the runs must reach it. */
async function countSharing(gateway: LoopbackGateway, tally: Record<string, number>) {
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  const sum = (pattern: RegExp) => [...metrics.matchAll(pattern)].reduce((total, match) => total + Number(match[1]), 0);
  const add = (name: string, count: number) => void (tally[name] = (tally[name] ?? 0) + count);
  add('fast path', sum(/^response_cache_hits_total (\S+)$/gm));
  for (const status of ['coalesced', 'stale-if-error']) add(status, sum(new RegExp(`^cache_reads_total\\{status="${status}"[^}]*\\} (\\S+)$`, 'gm')));
  for (const request of gateway.sim.requests) add(`katapult ${request.status}`, 1);
}

/** Every TTL of the failing variant: an outage waits this long for its entries to expire. */
const SHORTEST_TTL_MS = 150;

interface RunOptions {
  seed: number;
  numRuns: number;
  maxCommands: number;
  healthy: boolean;
  gateway: Pick<TestGatewayOptions, 'env' | 'simulatorOptions'>;
  /** Katapult's budget per window for some callers, replacing their own. */
  tokenLimits?: Partial<Record<Caller, number>>;
}

async function runs(options: RunOptions) {
  const tally: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(fc.commands(commandArbs(pools, !options.healthy), { maxCommands: options.maxCommands, size: 'max' }), fc.integer(), async (commands, dice) => {
      // A fresh gateway per run: cold caches, fresh budgets; Katapult's faults, when it is made to
      // fail, fall on other calls each run.
      const gateway = await startLoopbackGateway({
        ...options.gateway,
        simulatorOptions: { ...options.gateway.simulatorOptions, random: createRandom(dice) },
        // One address sends the whole run; the per-address limit is not what is tested here.
        env: { INBOUND_RATE_LIMIT_PER_MINUTE: '0', ...options.gateway.env },
      });
      const faults = options.healthy ? FAULTS[0]! : FAULTS[1]!;
      gateway.sim.setFaults(faults);
      for (const [caller, limit] of Object.entries(options.tokenLimits ?? {})) gateway.sim.setTokenLimit(TOKENS[caller as Caller]!, limit);
      const context: Context = { gateway, model, secrets, healthy: options.healthy, etags: new Map(), lastEtag: new Map(), tally, faults };
      try {
        await fc.asyncModelRun(() => ({ model: {}, real: context }), commands);
        await countSharing(gateway, tally);
      } finally {
        await gateway.close();
      }
    }),
    // Fixed, so that a run is the same sequence of requests every time; raise numRuns (or change
    // the seed) to search further. A failure is shrunk to a short sequence and printed whole.
    { seed: options.seed, numRuns: options.numRuns },
  );
  return tally;
}

describe('token isolation across the whole gateway, several tokens at once', () => {
  it('answers every token as its own gateway would, through coalescing, the fast path, refreshes and revalidations', async () => {
    const tally = await runs({ seed: 0x150_1a7e, numRuns: 5, maxCommands: 25, healthy: true, gateway: {} });
    // The runs reached what they are about: data and refusals, answers shared while being built and
    // replayed once stored, and GETs revalidated by ETag.
    for (const reached of ['clean', 'partial', 'refused', 'status 401', 'status 304', 'fast path', 'coalesced', 'FORBIDDEN', 'NOT_FOUND']) expect(tally[reached] ?? 0, reached).toBeGreaterThan(0);
  }, 60_000);

  it('keeps tokens apart while Katapult fails: retries, stale answers, short TTLs, token checks, compiled documents', async () => {
    const tally = await runs({
      seed: 0xfa17_5,
      numRuns: 4,
      maxCommands: 16,
      healthy: false,
      tokenLimits: { load: 8 },
      gateway: {
        // Katapult's rate-limit windows last a second, and the load token's budget is small: its
        // requests wait for the next window or are answered RATE_LIMITED, beside everyone else's.
        simulatorOptions: { latencyMs: 2, rateLimitWindowMs: 1000 },
        env: {
          // Entries expire within a run (and within an outage), so they are read again, and stand in
          // for a read that fails (stale-if-error).
          CACHE_TTL_VM_LIST_MS: String(SHORTEST_TTL_MS),
          CACHE_TTL_VM_MS: String(SHORTEST_TTL_MS),
          CACHE_TTL_ORGANIZATION_MS: String(SHORTEST_TTL_MS),
          CACHE_TTL_USER_MS: String(SHORTEST_TTL_MS),
          CACHE_TTL_CATALOGUE_MS: String(SHORTEST_TTL_MS),
          CACHE_NOT_FOUND_TTL_MS: '100',
          // Read again at once rather than served while refreshed, so the failure meets the request.
          CACHE_STALE_WHILE_REVALIDATE_MS: '0',
          // Tokens fall due their check with Katapult within a run: their answers stop being replayed,
          // and their reads wait for one that reaches Katapult.
          CACHE_TOKEN_RECHECK_MS: '1000',
          // Documents are compiled after two runs, so compiled code serves several tokens.
          GRAPHQL_JIT_AFTER: '2',
          // Fewer, faster retries, so that failures show, and a circuit that closes again soon.
          QUEUE_RETRY_MAX_ATTEMPTS: '2',
          QUEUE_RETRY_BASE_DELAY_MS: '5',
          QUEUE_RETRY_MAX_DELAY_MS: '20',
          QUEUE_CIRCUIT_OPEN_MS: '100',
          QUEUE_WINDOW_MS: '1000',
          // A request that waits for the next window gives up soon (RATE_LIMITED) rather than after 10 s.
          REQUEST_DEADLINE_MS: '700',
        },
      },
    });
    // Katapult failed in every way it can (resets, 503s), requests were answered with errors, with
    // what was left, and from expired entries standing in.
    for (const reached of ['clean', 'partial', 'UPSTREAM_UNAVAILABLE', 'stale-if-error', 'katapult 0', 'katapult 503']) expect(tally[reached] ?? 0, reached).toBeGreaterThan(0);
  }, 60_000);
});
