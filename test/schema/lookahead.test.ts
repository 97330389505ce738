import { describe, expect, it } from 'vitest';
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
});
