import { describe, expect, it } from 'vitest';
import { parse, type FragmentDefinitionNode, type GraphQLResolveInfo, type OperationDefinitionNode, type FieldNode } from 'graphql';
import { prefetch, selectedFields } from '../../src/schema/lookahead.js';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { createTestGateway } from '../helpers/gateway.js';

const DASHBOARD = `{ organization(subDomain: "globex") { virtualMachines(first: 30) { edges { node { name zone { name dataCenter { name country { name } } } package { cpuCores memoryInGb } ipAddresses { address } } } } } }`;
const NAMES_ONLY = `{ organization(subDomain: "globex") { virtualMachines(first: 30) { edges { node { name package { name } zone { dataCenter { name } } } } } } }`;

/** Runs a query against a simulator answering after `latencyMs` of fake time; returns the send times of its upstream calls. */
async function sendTimes(document: string, token: string) {
  const clock = createFakeClock();
  const gateway = createTestGateway({ clock, simulatorOptions: { latencyMs: 20 } });
  // The queue sends a new token's first call alone; teach it the token first.
  const warm = gateway.query('{ zones { id } }', { token });
  for (let i = 0; i < 10; i++) await clock.advance(20);
  await warm;
  gateway.sim.clearRequests();
  const pending = gateway.query(document, { token });
  let done = false;
  void pending.then(() => (done = true));
  for (let i = 0; i < 20 && !done; i++) await clock.advance(5);
  const response = await pending;
  expect(response.body.errors).toBeUndefined();
  const times = gateway.sim.requests.map((request) => request.at);
  // Logged as answered; with equal latency they are answered in the order they were sent.
  const paths = gateway.sim.requests.map((request) => request.path);
  await gateway.close();
  return Object.assign(times, { paths });
}

describe('looking ahead into the selection', () => {
  it('fetches the VM page, the data centers and the package list together: the dashboard costs one round trip', async () => {
    const times = await sendTimes(DASHBOARD, DEMO_TOKENS.globex);
    expect(times).toHaveLength(3);
    expect(new Set(times).size).toBe(1);
    // The VM page, which the rest of the query waits on, goes out first.
    expect(times.paths[0]).toMatch(/\/virtual_machines$/);
  });

  it('fetches nothing extra when the query needs only what the VM list carries', async () => {
    const times = await sendTimes(NAMES_ONLY, DEMO_TOKENS.globex);
    expect(times).toHaveLength(1);
  });

  it('starts a side read at once behind a cached page, and on the next turn of the event loop behind one still on its way', async () => {
    const started: string[] = [];
    prefetch(() => started.push('behind a cached page'), { items: [] });
    expect(started).toEqual(['behind a cached page']);

    let answer!: () => void;
    const pending = new Promise<void>((resolve) => (answer = resolve));
    prefetch(() => started.push('behind a pending page'), pending);
    // Not now, and not in this turn's microtasks either: the pending page's own request is
    // written to its socket in those, before this read's request is built.
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual(['behind a cached page']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['behind a cached page', 'behind a pending page']);
    answer();
    await pending;
  });

  it('drops a deferred side read when the page it waited behind has settled by the next turn', async () => {
    const started: string[] = [];
    const failed = Promise.reject(new Error('organization not found'));
    prefetch(() => started.push('behind a failed page'), failed);
    prefetch(() => started.push('behind a page already read'), Promise.resolve({ items: [] }));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([]);
    await failed.catch(() => undefined);
  });

  it('keeps a deferred side read’s failure to itself', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      prefetch(() => Promise.reject(new Error('upstream down')), new Promise(() => undefined));
      prefetch(() => {
        throw new Error('no token');
      }, new Promise(() => undefined));
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('the fields selected below a field', () => {
  it('are found through fragments, each looked into once however often it is spread', () => {
    const levels = 20;
    const document = parse(
      `query { vm { ...F0 } } ${Array.from({ length: levels }, (_, i) => `fragment F${i} on VirtualMachine { zone { ...Z${i} } ...F${i + 1} ...F${i + 1} }`).join(' ')} ` +
        `fragment F${levels} on VirtualMachine { name } ` +
        Array.from({ length: levels }, (_, i) => `fragment Z${i} on Zone { n${i}: name ...Z${i + 1} ...Z${i + 1} }`).join(' ') +
        ` fragment Z${levels} on Zone { id }`,
    );
    const definitions = Object.fromEntries(
      document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === 'FragmentDefinition').map((d) => [d.name.value, d]),
    );
    let lookups = 0;
    const fragments = new Proxy(definitions, {
      get(target, name) {
        lookups++;
        return Reflect.get(target, name);
      },
    });
    const field = (document.definitions[0] as OperationDefinitionNode).selectionSet.selections[0] as FieldNode;
    const info = { fieldNodes: [field], fragments } as unknown as GraphQLResolveInfo;
    expect(selectedFields(info, [])).toEqual(new Set(['zone', 'name']));
    expect(selectedFields(info, ['zone'])).toEqual(new Set(['name', 'id']));
    // Once per fragment per walk, not once per path (2^20).
    expect(lookups).toBeLessThanOrEqual(4 * (levels + 1));
  });
});
