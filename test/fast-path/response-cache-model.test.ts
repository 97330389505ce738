import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GatewayApp } from '../../src/app.js';
import { etagFor } from '../../src/server/response-cache.js';
import { createRandom } from '../../src/simulator/random.js';
import { createSimulator, DEMO_TOKENS, LOAD_TOKEN_PREFIX, type Simulator } from '../../src/simulator/index.js';
import { GLOBEX } from '../../src/simulator/organizations.js';
import { cannedError } from '../schema/error-contract.js';
import { createFakeClock, FAKE_EPOCH, type FakeClock } from '../helpers/fake-clock.js';
import { bearer, get, post, startGateway, type RawResponse, type TestGateway } from '../production/gateway.js';

/**
 * The finished-response cache against the REST cache it answers for, on a fake clock.
 *
 * Random sequences of requests (several tokens, operations reading endpoints of different
 * TTLs, POST and GET, two media types, other spellings, repeats, polls, refreshes, bursts of
 * identical requests) are mixed with time passing across TTL boundaries, Katapult's data
 * changing, Katapult failing, tokens being revoked and accepted again, and (with a small share
 * per token) fresh entries evicted. Two oracles:
 *
 * - Every answer the fast path gives (a stored answer or an identical request's) is compared,
 *   byte for byte, with what the full pipeline builds at that same moment from the REST cache
 *   alone: a replay is only right while every REST entry it came from is still fresh and
 *   unchanged, so that pipeline run must also need no Katapult call and nothing stale.
 * - The names the simulator serves carry a version, and every answer is checked against when
 *   each version was replaced: no older than the TTL of the entry it came from allows, plus
 *   stale-while-revalidate, plus stale-if-error once Katapult has failed; a replay gets no
 *   stale window at all, and a refresh (`Cache-Control: no-cache`) none while Katapult is up.
 */

const TTL = { vmList: 20_000, vm: 8_000, organization: 45_000, catalogue: 30_000 } as const;
type Kind = keyof typeof TTL;
const SWR_MS = 5_000;
const STALE_IF_ERROR_MS = 60_000;
const INVALID_TOKEN_MS = 10_000;
const CIRCUIT_OPEN_MS = 1_000;

const ENV = {
  // Summary lines say which answers came from the fast path.
  LOG_LEVEL: 'info',
  CACHE_TTL_VM_LIST_MS: String(TTL.vmList),
  CACHE_TTL_VM_MS: String(TTL.vm),
  CACHE_TTL_ORGANIZATION_MS: String(TTL.organization),
  CACHE_TTL_USER_MS: String(TTL.organization),
  CACHE_TTL_CATALOGUE_MS: String(TTL.catalogue),
  CACHE_STALE_WHILE_REVALIDATE_MS: String(SWR_MS),
  CACHE_STALE_IF_ERROR_MS: String(STALE_IF_ERROR_MS),
  CACHE_INVALID_TOKEN_TTL_MS: String(INVALID_TOKEN_MS),
  // A retry waits on the fake clock, which only moves between commands: failures show at once instead.
  QUEUE_RETRY_MAX_ATTEMPTS: '1',
  QUEUE_CIRCUIT_OPEN_MS: String(CIRCUIT_OPEN_MS),
  INBOUND_RATE_LIMIT_PER_MINUTE: '0',
};

const CALLERS = ['globex', 'user', 'acme', 'load', 'noVmScope'] as const;
type Caller = (typeof CALLERS)[number];
const TOKENS: Record<Caller, string> = {
  globex: DEMO_TOKENS.globex,
  user: DEMO_TOKENS.user,
  acme: DEMO_TOKENS.acme,
  load: `${LOAD_TOKEN_PREFIX}response-cache-model`,
  noVmScope: DEMO_TOKENS.noVmScope,
};

// ---- Operations ---------------------------------------------------------------------------

interface Operation {
  name: string;
  query: string;
  variables: Record<string, unknown>;
}

const DOCUMENTS = {
  vmList: `query VmList($org: String!, $first: Int!) { organization(subDomain: $org) { virtualMachines(first: $first) { edges { node { id name zone { id name } } } } } }`,
  // Four endpoints of three TTLs: the stored answer must expire with the earliest of them.
  dashboard: `query Dashboard($org: String!) { organization(subDomain: $org) { name virtualMachines(first: 4) { edges { node { name zone { name } package { name } } } } } zones { id name } }`,
  vm: `query Vm($id: ID) { virtualMachine(id: $id) { id name zone { name } } }`,
  vmAndZones: `query VmAndZones($id: ID) { virtualMachine(id: $id) { name } zones { name } }`,
  zones: `{ zones { id name } }`,
  organizations: `{ organizations { id name } }`,
  // Data and an error that no failed read stands behind (both lookups at once): only the error keeps it from being stored.
  zonesWithError: `{ zones { id name } organization(id: "org_x", subDomain: "globex") { name } }`,
} as const;

/** Which REST entry a string at this path of the data came from, for the operations above. */
function kindAt(path: readonly (string | number)[]): Kind {
  if (path.includes('virtualMachines')) return 'vmList';
  if (path[0] === 'virtualMachine') return 'vm';
  if (path[0] === 'zones') return 'catalogue';
  if (path[0] === 'organization' || path[0] === 'organizations') return 'organization';
  throw new Error(`no kind known for ${path.join('.')}`);
}

// ---- The changing world -------------------------------------------------------------------

/** What the simulator serves that the runs change: a few of globex's VMs, the zone they run in, and globex itself. */
interface Tracked {
  label: string;
  rename(name: string): void;
  version: number;
}

interface Version {
  /** When the simulator stopped serving it; undefined while it is current. */
  replacedAt?: number;
}

interface World {
  tracked: Tracked[];
  versions: Map<string, Version>;
  /** Undoes the changes to module-level data (zones, organizations) shared with other simulators. */
  restore(): void;
}

const versionName = (label: string, version: number) => `${label}~v${version}`;
const VERSIONED = /^[a-z0-9-]+~v\d+$/;

function trackWorld(sim: Simulator): World {
  const globexVms = sim.dataset.liveVirtualMachines(GLOBEX.id).slice(0, 3);
  const zone = globexVms[0]!.virtualMachine.zone as { name: string };
  const originalZone = zone.name;
  const org = GLOBEX as { name: string };
  const originalOrg = org.name;
  const versions = new Map<string, Version>();
  const tracked: Tracked[] = [
    ...globexVms.map((vm, i) => ({ label: `vm${i}`, rename: (name: string) => void ((vm.virtualMachine as { name: string }).name = name), version: 0 })),
    { label: 'zone', rename: (name: string) => void (zone.name = name), version: 0 },
    { label: 'globex', rename: (name: string) => void (org.name = name), version: 0 },
  ];
  for (const item of tracked) {
    item.rename(versionName(item.label, 0));
    versions.set(versionName(item.label, 0), {});
  }
  return {
    tracked,
    versions,
    restore() {
      zone.name = originalZone;
      org.name = originalOrg;
    },
  };
}

// ---- A run --------------------------------------------------------------------------------

interface Context {
  clock: FakeClock;
  gateway: TestGateway;
  app: GatewayApp;
  sim: Simulator;
  world: World;
  revoked: Set<string>;
  faultsOn: boolean;
  /** When Katapult last failed on purpose (faults switched off), or -Infinity. */
  faultsEndedAt: number;
  everFaulted: boolean;
  /** The last ETag and body each GET was sent, by caller and request. */
  etags: Map<string, { etag: string; text: string; fromFastPath: boolean }>;
  tally: Record<string, number>;
}

interface Call {
  caller: Caller;
  operation: Operation;
  method: 'POST' | 'GET';
  refresh: boolean;
  revalidate: boolean;
  /** The media type asked for: part of a stored answer's key. */
  accept: string;
}

const describeCall = (call: Call) => `${call.caller} ${call.method} ${call.operation.name}${call.accept === 'application/json' ? '' : ` accept=${call.accept}`} ${JSON.stringify(call.operation.variables)}${call.refresh ? ' no-cache' : ''}${call.revalidate ? ' if-none-match' : ''}`;
const requestKey = (call: Call) => JSON.stringify([call.caller, call.operation.query, call.operation.variables, call.accept]);
const count = (context: Context, name: string) => void (context.tally[name] = (context.tally[name] ?? 0) + 1);

async function send(context: Context, call: Call, requestId?: string): Promise<RawResponse & { ifNoneMatch?: string }> {
  const headers: Record<string, string> = { ...bearer(TOKENS[call.caller]), accept: call.accept };
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  if (call.refresh) headers['cache-control'] = 'no-cache';
  const params = { query: call.operation.query, variables: call.operation.variables };
  if (call.method === 'POST') return post(context.gateway.endpoint, params, headers);
  const ifNoneMatch = call.revalidate ? context.etags.get(requestKey(call))?.etag : undefined;
  if (ifNoneMatch) headers['if-none-match'] = ifNoneMatch;
  return { ...(await get(context.gateway.endpoint, params, headers)), ifNoneMatch };
}

/** Lets background refreshes and token checks land before the next command: no Katapult call is left on its way. */
async function settle(context: Context) {
  for (let i = 0; i < 50; i++) {
    await context.clock.flush();
    if (context.app.cache.stats().inFlight === 0) return;
  }
  throw new Error('REST loads still on their way after settling');
}

/** The summary lines written since `from`, in order. */
function summariesSince(context: Context, from: number): Array<Record<string, unknown>> {
  return context.gateway.logs
    .slice(from)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.msg === 'graphql request');
}

/** What the full pipeline answers now from the REST cache alone: yoga run directly, with no fast path in front. */
async function pipelineNow(context: Context, call: Call) {
  const scope = context.app.createScope({ authorization: `Bearer ${TOKENS[call.caller]}` });
  const request = new Request('http://gateway/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: call.accept },
    body: JSON.stringify({ query: call.operation.query, variables: call.operation.variables }),
  });
  const calls = context.sim.requests.length;
  const response = await context.app.yoga.fetch(request, { scope });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, body, stats: scope.stats, upstreamCalls: context.sim.requests.length - calls };
}

/** Every versioned string of the data, with where it stands. */
function versionedLeaves(value: unknown, path: (string | number)[] = [], out: Array<{ text: string; path: (string | number)[] }> = []) {
  if (typeof value === 'string') {
    if (VERSIONED.test(value)) out.push({ text: value, path });
  } else if (Array.isArray(value)) value.forEach((item, i) => versionedLeaves(item, [...path, i], out));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) versionedLeaves(item, [...path, key], out);
  return out;
}

/**
 * No name older than its entry's TTL allows. `window`: what may be added on top of the TTL
 * for this answer (stale-while-revalidate, stale-if-error; none for a replay).
 */
function checkAges(context: Context, text: string, window: number, fail: (why: string) => never, label: string): number {
  let parsed: { data?: unknown };
  try {
    parsed = JSON.parse(text) as { data?: unknown };
  } catch {
    return fail(`${label}: not JSON`);
  }
  const now = context.clock.now();
  let replaced = 0;
  for (const leaf of versionedLeaves(parsed.data)) {
    const version = context.world.versions.get(leaf.text);
    if (!version) fail(`${label}: ${leaf.text} at ${leaf.path.join('.')} is no name the simulator ever served`);
    if (version!.replacedAt === undefined) continue;
    const age = now - version!.replacedAt;
    const allowed = TTL[kindAt(leaf.path)] + window;
    if (age >= allowed) fail(`${label}: ${leaf.text} at ${leaf.path.join('.')} was replaced ${age} ms ago; its entry allows less than ${allowed} ms`);
    replaced++;
  }
  return replaced;
}

/**
 * The window of an answer a client keeps for its max-age: while its age is under max-age (RFC
 * 9111), so up to a millisecond short of now + max-age; its names must still be under their TTLs
 * then, so may be no older now than TTL − max-age.
 */
const keptWindow = (answer: RawResponse) => 1 - 1000 * Number(/max-age=(\d+)/.exec(String(answer.headers['cache-control']))?.[1] ?? 0);

/** How much older than its TTL an answer of the full pipeline may be now. */
const pipelineWindow = (context: Context) => Math.max(SWR_MS, context.everFaulted ? STALE_IF_ERROR_MS : 0);

async function check(context: Context, call: Call, answer: RawResponse & { ifNoneMatch?: string }, fromFastPath: boolean): Promise<void> {
  const fail = (why: string): never => {
    throw new Error(`${why}\n  request: ${describeCall(call)} at +${context.clock.now() - FAKE_EPOCH} ms${fromFastPath ? ' (fast path)' : ''}\n  answer (${answer.status}): ${answer.text.slice(0, 1200)}`);
  };
  count(context, fromFastPath ? 'fast path' : 'pipeline');
  count(context, `status ${answer.status}`);
  if (call.refresh && fromFastPath) fail('a refresh was answered from a stored answer');

  if (answer.status === 304) {
    const sent = answer.ifNoneMatch === undefined ? undefined : context.etags.get(requestKey(call));
    if (!sent || sent.etag !== answer.ifNoneMatch) fail('304 for an ETag this caller was never sent for this request');
    // The client keeps the body it had, as the answer now: one built from fresh entries only (a
    // stale one gets no ETag), for as long as the max-age the 304 gives.
    checkAges(context, sent!.text, keptWindow(answer), fail, 'the body kept under that ETag');
    if (fromFastPath) {
      count(context, '304 replay');
      const now = await pipelineNow(context, call);
      if (etagFor(now.body) !== answer.ifNoneMatch) fail(`304 from a stored answer, but the pipeline's answer now is different: ${now.body.toString().slice(0, 800)}`);
    }
    return;
  }

  if (fromFastPath) {
    if (answer.status !== 200) fail('an answer from the fast path with a status other than 200');
    if (answer.text.includes('"errors"')) fail('an answer from the fast path with errors');
    if (checkAges(context, answer.text, 0, fail, 'replayed') > 0) count(context, 'replayed a name since replaced');
    const now = await pipelineNow(context, call);
    if (!now.body.equals(answer.body)) fail(`replayed, but the pipeline answers differently now: ${now.body.toString().slice(0, 1200)}`);
    // The same bytes are not enough: a replay may only stand in for REST entries still fresh.
    if (now.upstreamCalls > 0 || now.stats.misses + now.stats.stale + now.stats.staleIfError + now.stats.coalesced > 0 || now.stats.uncacheable) {
      fail(`replayed, but its REST entries are no longer all fresh: the pipeline now made ${now.upstreamCalls} Katapult calls (${JSON.stringify(now.stats)})`);
    }
    if (call.method === 'GET') {
      if (answer.headers.etag !== etagFor(answer.body)) fail(`ETag ${answer.headers.etag} is not the body's`);
      const maxAge = /^private, max-age=(\d+)$/.exec(String(answer.headers['cache-control']))?.[1];
      if (maxAge === undefined) fail(`Cache-Control: ${answer.headers['cache-control']}`);
      const left = now.stats.freshUntil - context.clock.now();
      if (Number(maxAge) * 1000 > left) fail(`max-age=${maxAge} outlives the REST entries, fresh for ${left} ms more`);
      count(context, 'GET replay');
    }
  } else {
    checkAges(context, answer.text, pipelineWindow(context), fail, 'answered');
    // A refresh while Katapult is up reads everything again: only current names.
    const katapultUp = !context.faultsOn && context.clock.now() >= context.faultsEndedAt + CIRCUIT_OPEN_MS;
    if (call.refresh && katapultUp && answer.status === 200 && !answer.text.includes('"errors"')) checkAges(context, answer.text, -Infinity, fail, 'refreshed');
  }

  if (call.method === 'GET' && answer.status === 200) {
    const cacheControl = String(answer.headers['cache-control']);
    if (/max-age/.test(cacheControl)) {
      // A client may keep it for max-age: no name in it may be older than its TTL by then.
      checkAges(context, answer.text, keptWindow(answer), fail, `kept for ${cacheControl}`);
      if (answer.headers.etag !== etagFor(answer.body)) fail(`ETag ${answer.headers.etag} is not the body's`);
      context.etags.set(requestKey(call), { etag: String(answer.headers.etag), text: answer.text, fromFastPath });
    }
  }
  count(context, answer.text.includes('"errors"') ? 'with errors' : 'clean');
}

// ---- Commands -----------------------------------------------------------------------------

type Command = fc.AsyncCommand<object, Context>;

/** One request, sent `times` times in a row: stored at its second clean answer, replayed from its third. */
class Send implements Command {
  constructor(
    readonly call: Call,
    readonly times: number,
  ) {}
  check = () => true;
  async run(_m: object, context: Context) {
    for (let i = 0; i < this.times; i++) {
      const from = context.gateway.logs.length;
      const answer = await send(context, this.call);
      const summaries = summariesSince(context, from);
      if (summaries.length !== 1) throw new Error(`expected one summary line, found ${summaries.length}`);
      await check(context, this.call, answer, summaries[0]!.fastPath === true);
      await settle(context);
    }
  }
  toString = () => `Send(${describeCall(this.call)} x${this.times})`;
}

/** A client polling: the same request again and again, time passing between (across TTL edges now and then). */
class Poll implements Command {
  constructor(
    readonly call: Call,
    readonly steps: readonly number[],
  ) {}
  check = () => true;
  async run(m: object, context: Context) {
    for (const ms of this.steps) {
      await new Send(this.call, 1).run(m, context);
      await new Advance(ms).run(m, context);
    }
  }
  toString = () => `Poll(${describeCall(this.call)} every ${this.steps.join(', ')} ms)`;
}

/**
 * A stored answer, another operation of the same token, then the first again: with a small
 * share for the token, the other's entries push out the ones the stored answer came from.
 */
class Interleave implements Command {
  constructor(
    readonly stored: Call,
    readonly other: Operation,
  ) {}
  check = () => true;
  async run(m: object, context: Context) {
    await new Send(this.stored, 2).run(m, context);
    await new Send({ ...this.stored, operation: this.other, refresh: false }, 1).run(m, context);
    await new Send(this.stored, 1).run(m, context);
  }
  toString = () => `Interleave(${describeCall(this.stored)}; ${this.other.name} ${JSON.stringify(this.other.variables)})`;
}

/**
 * A stored answer, then Katapult's data changes and a refresh of another operation of the same
 * token replaces an entry they share while it is fresh: the stored answer must not be replayed
 * past that. Random sequences rarely line these up, so they come together here.
 */
class Overlap implements Command {
  constructor(
    readonly stored: Call,
    readonly refresh: Operation,
  ) {}
  check = () => true;
  async run(m: object, context: Context) {
    await new Send(this.stored, 2).run(m, context);
    for (let i = 0; i < context.world.tracked.length; i++) await new Rename(i).run(m, context);
    await new Send({ ...this.stored, operation: this.refresh, refresh: true, revalidate: false }, 1).run(m, context);
    await new Send(this.stored, 1).run(m, context);
  }
  toString = () => `Overlap(${describeCall(this.stored)}; rename all; no-cache ${this.refresh.name} ${JSON.stringify(this.refresh.variables)})`;
}

/** A stored answer, then Katapult refuses the token from its next call on: nothing of the token may be replayed after that refusal. */
class Revocation implements Command {
  constructor(
    readonly stored: Call,
    readonly refused: Operation,
  ) {}
  check = () => true;
  async run(m: object, context: Context) {
    await new Send(this.stored, 2).run(m, context);
    await new Revoke(this.stored.caller, true).run(m, context);
    await new Send({ ...this.stored, operation: this.refused, refresh: true, revalidate: false }, 1).run(m, context);
    await new Send(this.stored, 1).run(m, context);
    await new Revoke(this.stored.caller, false).run(m, context);
  }
  toString = () => `Revocation(${describeCall(this.stored)}; refused at no-cache ${this.refused.name})`;
}

/** Identical requests sent together: all but the first may wait on its answer (no refresh among them, which may be ordered before or after any of them). */
class Burst implements Command {
  constructor(
    readonly call: Call,
    readonly size: number,
  ) {}
  check = () => true;
  async run(_m: object, context: Context) {
    const from = context.gateway.logs.length;
    const ids = Array.from({ length: this.size }, (_, i) => `burst-${from}-${i}`);
    const answers = await Promise.all(ids.map((id) => send(context, this.call, id)));
    const fastPath = new Map(summariesSince(context, from).map((s) => [s.requestId, s.fastPath === true]));
    if (!ids.every((id) => fastPath.has(id))) throw new Error(`a summary line is missing for ${ids.filter((id) => !fastPath.has(id)).join(', ')}`);
    // Nothing changed since they were answered: an answer waited on (or replayed) must be the pipeline's now.
    await settle(context);
    let fast = 0;
    for (const [i, answer] of answers.entries()) {
      if (fastPath.get(ids[i]!)) fast++;
      await check(context, this.call, answer, fastPath.get(ids[i]!)!);
    }
    count(context, `burst fast path ${fast}`);
  }
  toString = () => `Burst(${describeCall(this.call)} x${this.size})`;
}

class Advance implements Command {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: object, context: Context) {
    await context.clock.advance(this.ms);
    await settle(context);
  }
  toString = () => `Advance(${this.ms})`;
}

/** Katapult's data changes: a VM, the zone, or the organization is renamed. */
class Rename implements Command {
  constructor(readonly index: number) {}
  check = () => true;
  async run(_m: object, context: Context) {
    const item = context.world.tracked[this.index % context.world.tracked.length]!;
    context.world.versions.get(versionName(item.label, item.version))!.replacedAt = context.clock.now();
    item.version++;
    item.rename(versionName(item.label, item.version));
    context.world.versions.set(versionName(item.label, item.version), {});
  }
  toString = () => `Rename(${this.index})`;
}

/** Katapult starts or stops failing a share of calls (503s, resets, cut-off bodies). */
class Faults implements Command {
  constructor(readonly on: boolean) {}
  check = () => true;
  async run(_m: object, context: Context) {
    if (context.faultsOn && !this.on) context.faultsEndedAt = context.clock.now();
    context.faultsOn = this.on;
    if (this.on) context.everFaulted = true;
    context.sim.setFaults(this.on ? { failureRatio: 0.3, resetRatio: 0.1, malformedRatio: 0.1 } : { failureRatio: 0, resetRatio: 0, malformedRatio: 0 });
  }
  toString = () => `Faults(${this.on})`;
}

/** Katapult refuses a token from now on (invalid_api_token), or accepts it again. */
class Revoke implements Command {
  constructor(
    readonly caller: Caller,
    readonly revoked: boolean,
  ) {}
  check = () => true;
  async run(_m: object, context: Context) {
    if (this.revoked) context.revoked.add(TOKENS[this.caller]);
    else context.revoked.delete(TOKENS[this.caller]);
  }
  toString = () => `Revoke(${this.caller}, ${this.revoked})`;
}

function commandArbs(vmIds: readonly string[]): fc.Arbitrary<Command>[] {
  // The same document as other text (spacing, commas, a comment): a stored answer is keyed by its tokens.
  const spelled = (op: Operation) =>
    fc.constantFrom((q: string) => q, (q: string) => `# polled\n${q.replace(/ \{ /g, ' {\n  ').replace(/ name/g, ', name')}`).map((spell) => ({ ...op, query: spell(op.query) }));
  const operation: fc.Arbitrary<Operation> = fc.oneof(
    fc.record({ org: fc.constantFrom('globex', 'acme'), first: fc.constantFrom(2, 5) }).map((variables) => ({ name: 'vmList', query: DOCUMENTS.vmList, variables })),
    fc.constantFrom('globex', 'acme').map((org) => ({ name: 'dashboard', query: DOCUMENTS.dashboard, variables: { org } })),
    fc.constantFrom(...vmIds).map((id) => ({ name: 'vm', query: DOCUMENTS.vm, variables: { id } })),
    fc.constantFrom(...vmIds).map((id) => ({ name: 'vmAndZones', query: DOCUMENTS.vmAndZones, variables: { id } })),
    fc.constant({ name: 'zones', query: DOCUMENTS.zones, variables: {} }),
    fc.constant({ name: 'organizations', query: DOCUMENTS.organizations, variables: {} }),
    fc.constant({ name: 'zonesWithError', query: DOCUMENTS.zonesWithError, variables: {} }),
  ).chain(spelled);
  const call = (refresh: fc.Arbitrary<boolean>): fc.Arbitrary<Call> =>
    fc.record({
      caller: fc.constantFrom(...CALLERS),
      operation,
      method: fc.constantFrom('POST' as const, 'GET' as const),
      refresh,
      revalidate: fc.boolean(),
      accept: fc.constantFrom('application/json', 'application/json', 'application/graphql-response+json'),
    });
  const rarely = fc.integer({ min: 0, max: 5 }).map((n) => n === 0);
  // Time passing: small steps, and steps across each TTL's edge.
  const edges = Object.values(TTL).flatMap((ttl) => [ttl - 1, ttl, ttl + 1]);
  const send = fc.record({ call: call(rarely), times: fc.constantFrom(1, 2, 3, 3) }).map(({ call, times }) => new Send(call, times));
  const advance = fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 3_000, max: 50_000 }), fc.constantFrom(...edges)).map((ms) => new Advance(ms));
  const rename = fc.nat().map((index) => new Rename(index));
  const poll = fc
    .record({ call: call(fc.constant(false)), steps: fc.array(fc.oneof(fc.integer({ min: 0, max: 4_000 }), fc.constantFrom(...edges)), { minLength: 3, maxLength: 8 }) })
    .map(({ call, steps }) => new Poll(call, steps));
  // Operations that share a REST entry with each other (the VM list, a VM's record, the zones).
  const globexCaller = fc.constantFrom<Caller>('globex', 'user', 'load');
  const overlapping = fc.oneof(
    fc.constantFrom(...vmIds.slice(0, 3)).map((id) => [
      { name: 'vm', query: DOCUMENTS.vm, variables: { id } },
      { name: 'vmAndZones', query: DOCUMENTS.vmAndZones, variables: { id } },
    ]),
    fc.constantFrom(2, 5).map((first) => [
      { name: 'dashboard', query: DOCUMENTS.dashboard, variables: { org: 'globex' } },
      { name: 'vmList', query: DOCUMENTS.vmList, variables: { org: 'globex', first } },
    ]),
    fc.constant([
      { name: 'zones', query: DOCUMENTS.zones, variables: {} },
      { name: 'dashboard', query: DOCUMENTS.dashboard, variables: { org: 'globex' } },
    ]),
  );
  const overlap = fc
    .record({ caller: globexCaller, pair: overlapping, swap: fc.boolean(), method: fc.constantFrom('POST' as const, 'GET' as const) })
    .map(({ caller, pair, swap, method }) => {
      const [stored, refresh] = swap ? [pair[1]!, pair[0]!] : [pair[0]!, pair[1]!];
      return new Overlap({ caller, operation: stored, method, refresh: false, revalidate: false, accept: 'application/json' }, refresh);
    });
  const interleave = fc.record({ stored: call(fc.constant(false)), other: operation }).map(({ stored, other }) => new Interleave(stored, other));
  const revocation = fc
    .record({ stored: call(fc.constant(false)), refused: operation })
    .map(({ stored, refused }) => new Revocation(stored, refused));
  // Weighted by repetition: mostly requests, time and changes; failures and revocations now and then.
  return [
    send,
    send,
    send,
    poll,
    poll,
    overlap,
    revocation,
    interleave,
    interleave,
    fc.record({ call: call(fc.constant(false)), size: fc.integer({ min: 2, max: 4 }) }).map(({ call, size }) => new Burst(call, size)),
    advance,
    advance,
    rename,
    rename,
    fc.integer({ min: 0, max: 2 }).map((n) => new Faults(n === 0)),
    fc.record({ caller: fc.constantFrom(...CALLERS), revoked: fc.integer({ min: 0, max: 3 }).map((n) => n === 0) }).map(({ caller, revoked }) => new Revoke(caller, revoked)),
  ];
}

// ---- Runs ---------------------------------------------------------------------------------

/** Katapult with some tokens revoked: it refuses them as it refuses any token it no longer accepts. */
function revoking(sim: Simulator, revoked: Set<string>): Simulator {
  return new Proxy(sim, {
    get: (target, name) =>
      name === 'fetch'
        ? (input: RequestInfo | URL, init?: RequestInit) => {
            const token = /^Bearer (.+)$/.exec(new Headers(init?.headers).get('authorization') ?? '')?.[1];
            return token !== undefined && revoked.has(token) ? Promise.resolve(cannedError(403, 'invalid_api_token')) : target.fetch(input, init);
          }
        : Reflect.get(target, name),
  });
}

async function runs(seed: number, numRuns: number, maxCommands: number) {
  const tally: Record<string, number> = {};
  // The VM ids do not depend on the run: the dataset's seed is fixed.
  const probe = createSimulator();
  const vmIds = [...probe.dataset.liveVirtualMachines(GLOBEX.id).slice(0, 3).map((vm) => vm.virtualMachine.id), probe.dataset.liveVirtualMachines(probe.dataset.organizations[0]!.id)[0]!.virtualMachine.id];
  await fc.assert(
    // Token checks on, or off (then a purge alone stops a revoked token's replays); a token's
    // share small enough that fresh entries are evicted; documents compiled at once.
    fc.asyncProperty(fc.commands(commandArbs(vmIds), { maxCommands, size: 'max' }), fc.integer(), fc.constantFrom('60000', '0'), fc.constantFrom<Record<string, string>>({}, { CACHE_TOKEN_MAX_BYTES: '8000' }, { CACHE_TOKEN_MAX_BYTES: '8000', GRAPHQL_JIT_AFTER: '1' }), async (commands, dice, recheck, extra) => {
      const clock = createFakeClock(FAKE_EPOCH);
      const sim = createSimulator({ clock, random: createRandom(dice), rateLimitPerMinute: 100_000 });
      const revoked = new Set<string>();
      const world = trackWorld(sim);
      const gateway = await startGateway({ clock, simulator: revoking(sim, revoked), env: { ...ENV, CACHE_TOKEN_RECHECK_MS: recheck, ...extra } });
      const context: Context = { clock, gateway, app: gateway.app, sim, world, revoked, faultsOn: false, faultsEndedAt: Number.NEGATIVE_INFINITY, everFaulted: false, etags: new Map(), tally };
      try {
        await fc.asyncModelRun(() => ({ model: {}, real: context }), commands);
        const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
        const evicted = Number(/^cache_evictions_total\{reason="token-share"\} (\S+)$/m.exec(metrics)?.[1] ?? 0);
        context.tally['evicted for the token share'] = (context.tally['evicted for the token share'] ?? 0) + evicted;
      } finally {
        world.restore();
        await gateway.close();
        await sim.close();
      }
    }),
    { seed, numRuns },
  );
  return tally;
}

describe('the finished-response cache against the REST cache, on a fake clock', () => {
  it('replays only what the pipeline would answer from the REST cache at that moment, and never older data than the TTLs allow', async () => {
    const tally = await runs(0x5e_ca_c4e, 20, 80);
    // The runs reached what they are about: replays (of GETs, as 304s, of names Katapult has
    // replaced since), answers built anew, refusals of revoked tokens, failures, and fresh entries evicted.
    for (const reached of ['fast path', 'GET replay', '304 replay', 'replayed a name since replaced', 'pipeline', 'status 401', 'with errors', 'clean', 'evicted for the token share']) {
      expect(tally[reached] ?? 0, reached).toBeGreaterThan(0);
    }
    expect(Object.keys(tally).some((name) => /^burst fast path [1-9]/.test(name))).toBe(true);
  }, 60_000);
});
