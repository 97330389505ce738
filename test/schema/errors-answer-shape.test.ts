import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import type { FetchLike } from '../../src/upstream/http.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { errorCodes, requestsTo, type GatewayResponse } from '../helpers/gateway.js';
import { expectContract, gatewayPerTest } from './error-contract.js';

/**
 * A 200 from Katapult whose JSON is not the shape the gateway reads is Katapult's fault, as a
 * 503 is: UPSTREAM_UNAVAILABLE naming what was wrong, never kept in the cache (nor put in place
 * of a good entry), not retried within the request, and stood in for by a good entry kept from
 * before wherever stale-if-error allows.
 */

const start = gatewayPerTest();
const token = DEMO_TOKENS.globex;

const VM_LIST = '/organizations/organization/virtual_machines';
const VM_PAGE = '{ organization(subDomain: "globex") { virtualMachines(first: 5) { edges { node { id name zone { name } ipAddresses { address } } } } } }';
const DATA_CENTERS = '{ dataCenters { id name } }';

type Body = Record<string, any>;

/**
 * A `wrapFetch` whose answers for `path` are the simulator's with `tamper` applied while it is
 * set; the status and headers (the rate-limit counts) stay the simulator's.
 */
function tampering(path: string) {
  const state: { tamper: ((body: Body) => unknown) | null } = { tamper: null };
  const wrap =
    (simulator: FetchLike): FetchLike =>
    async (input, init) => {
      const response = await simulator(input, init);
      const tamper = state.tamper;
      if (!tamper || !response.ok || !new URL(input).pathname.endsWith(path)) return response;
      const body = tamper((await response.json()) as Body);
      return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
    };
  return { state, wrap };
}

function expectShapeFault(response: GatewayResponse, field: RegExp): void {
  expectContract(response, token);
  expect(errorCodes(response.body)).toEqual(['UPSTREAM_UNAVAILABLE']);
  const message = response.body.errors![0]!.message;
  expect(message).toMatch(/^Katapult sent an answer the gateway cannot read/);
  expect(message).toMatch(field);
}

describe('a 200 whose JSON is not the shape the gateway reads', () => {
  const firstVm = (body: Body) => body.virtual_machines[0] as Body;
  const cases: Array<[string, string, string, (body: Body) => unknown, RegExp]> = [
    ['an empty object for a VM page', VM_LIST, VM_PAGE, () => ({}), /pagination/],
    ['a VM page of nulls', VM_LIST, VM_PAGE, () => ({ virtual_machines: null, pagination: null }), /pagination|virtual_machines/],
    ['a null VM in a page', VM_LIST, VM_PAGE, (body) => ({ ...body, virtual_machines: [null] }), /virtual_machines\[0\]: expected an object, found null/],
    ['a VM without its zone', VM_LIST, VM_PAGE, (body) => (delete firstVm(body).zone, body), /virtual_machines\[0\]\.zone: expected an object, found nothing/],
    ['a VM whose addresses are null', VM_LIST, VM_PAGE, (body) => ((firstVm(body).ip_addresses = null), body), /virtual_machines\[0\]\.ip_addresses: expected an array, found null/],
    ['a null data-center list', '/data_centers', DATA_CENTERS, () => ({ data_centers: null }), /data_centers: expected an array, found null/],
    ['an error envelope sent with 200', VM_LIST, VM_PAGE, () => ({ error: { code: 'internal_error', description: 'oops', detail: {} } }), /error envelope/],
  ];

  for (const [name, path, document, tamper, field] of cases) {
    it(`${name}: UPSTREAM_UNAVAILABLE naming it, one call per request, nothing cached`, async () => {
      const { state, wrap } = tampering(path);
      const gateway = start({ wrapFetch: wrap });
      state.tamper = tamper;
      expectShapeFault(await gateway.query(document, { token }), field);
      // Asked for once (no retry of an answer that would come again the same)…
      expect(requestsTo(gateway.sim, path)).toHaveLength(1);
      // …and not kept: the next request asks Katapult again.
      expectShapeFault(await gateway.query(document, { token }), field);
      expect(requestsTo(gateway.sim, path)).toHaveLength(2);
      state.tamper = null;
      const good = await gateway.query(document, { token });
      expect(good.body.errors).toBeUndefined();
      expect(requestsTo(gateway.sim, path)).toHaveLength(3);
    });
  }

  it('a VM record whose memory is a string: the VM is UPSTREAM_UNAVAILABLE, not an internal error', async () => {
    const { state, wrap } = tampering('/virtual_machines/virtual_machine');
    const gateway = start({ wrapFetch: wrap });
    const id = gateway.sim.visibleVirtualMachines(token, 'globex')[0]!.id;
    state.tamper = (body) => ((body.virtual_machine.memory_in_gb = '32GB'), body);
    const document = `{ virtualMachine(id: "${id}") { name memoryInGb } }`;
    const response = await gateway.query(document, { token });
    expectShapeFault(response, /virtual_machine\.memory_in_gb: expected a 32-bit integer or null, found a string/);
    expect(response.body.data).toEqual({ virtualMachine: null });
    expect(requestsTo(gateway.sim, '/virtual_machines/virtual_machine')).toHaveLength(1);
  });
});

describe('the log', () => {
  it('says at warn level which answer was misshapen and how, without its values', async () => {
    const lines: string[] = [];
    const { state, wrap } = tampering(VM_LIST);
    const gateway = start({ wrapFetch: wrap, logger: createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } }) });
    state.tamper = (body) => ((body.virtual_machines[0].created_at = 'value-from-katapult-3f9c'), body);
    await gateway.query(VM_PAGE, { token });
    const records = lines.map((line) => JSON.parse(line) as { level: number; msg: string; upstream?: Record<string, unknown> });
    const call = records.find((r) => r.msg === 'upstream call' && r.upstream?.path === VM_LIST);
    expect(call).toMatchObject({ level: 40, upstream: { status: 200, error: 'malformed', shape: 'virtual_machines[0].created_at: expected a time in Unix seconds, found a string' } });
    expect(lines.join('\n')).not.toContain('value-from-katapult-3f9c');
  });
});

describe('Katapult\'s health', () => {
  it('misshapen answers in a row do not open the circuit: Katapult answered, and its other answers are read', async () => {
    const { state, wrap } = tampering('/data_centers');
    const gateway = start({ wrapFetch: wrap, env: { QUEUE_CIRCUIT_FAILURE_THRESHOLD: '3' } });
    state.tamper = () => ({ data_centers: null });
    for (let request = 0; request < 5; request++) expectShapeFault(await gateway.query(DATA_CENTERS, { token }), /data_centers/);
    expect(requestsTo(gateway.sim, '/data_centers')).toHaveLength(5);
    const zones = await gateway.query('{ zones { id } }', { token });
    expect(zones.body.errors).toBeUndefined();
  });
});

describe('a good answer kept from before', () => {
  it('is served in place of a misshapen one while stale-if-error allows, and is not replaced by it', async () => {
    const clock = createFakeClock();
    const { state, wrap } = tampering('/data_centers');
    const gateway = start({ clock, wrapFetch: wrap, env: { CACHE_EXTENSIONS: 'true' } });
    const good = await gateway.query(DATA_CENTERS, { token });
    expect(good.body.errors).toBeUndefined();
    const calls = () => requestsTo(gateway.sim, '/data_centers').length;
    expect(calls()).toBe(1);

    state.tamper = () => ({ data_centers: null });
    // A refresh asked for while the entry is fresh: the answer is refused, the entry stays.
    const refreshed = await gateway.query(DATA_CENTERS, { token, headers: { 'cache-control': 'no-cache' } });
    expect(refreshed.body.errors).toBeUndefined();
    expect(refreshed.body.data).toEqual(good.body.data);
    expect(refreshed.body.extensions?.cache).toMatchObject({ staleIfError: 1 });
    expect(calls()).toBe(2);
    const hit = await gateway.query(DATA_CENTERS, { token });
    expect(hit.body.data).toEqual(good.body.data);
    expect(hit.body.extensions?.cache).toMatchObject({ hits: 1, upstreamCalls: 0 });
    expect(calls()).toBe(2);

    // Past its freshness and its stale-while-revalidate window (10 min + 30 s): each request
    // asks Katapult again, and gets the kept entry for its misshapen answer.
    await clock.advance(11 * 60_000);
    for (const expected of [3, 4]) {
      const stale = await gateway.query(DATA_CENTERS, { token });
      expect(stale.body.errors).toBeUndefined();
      expect(stale.body.data).toEqual(good.body.data);
      expect(stale.body.extensions?.cache).toMatchObject({ staleIfError: 1 });
      expect(calls()).toBe(expected);
    }

    // Past stale-if-error (5 min after its freshness ended), the fault is the client's answer.
    await clock.advance(5 * 60_000);
    expectShapeFault(await gateway.query(DATA_CENTERS, { token }), /data_centers: expected an array, found null/);
    expect(calls()).toBe(5);

    state.tamper = null;
    expect((await gateway.query(DATA_CENTERS, { token })).body.errors).toBeUndefined();
    expect(calls()).toBe(6);
  });
});
