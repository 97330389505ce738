import { describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import type { GraphQLRequestInput, GraphQLResponseOutput } from '../../src/server/http-server.js';
import { createFakeClock } from '../helpers/fake-clock.js';
import { bearer, gatewaysPerTest, ORG_NAME_QUERY, post, raw } from './gateway.js';

const gateway = gatewaysPerTest();

describe('the edge activity idle work waits on', () => {
  it('counts requests in flight and notes when the last one ended', async () => {
    const clock = createFakeClock();
    let release!: (answer: GraphQLResponseOutput | null) => void;
    let entered!: (input: GraphQLRequestInput) => void;
    const inside = new Promise<GraphQLRequestInput>((resolve) => (entered = resolve));
    const gw = await gateway({
      clock,
      // Holds the request at the fast path until the test lets it go.
      fastPath: (input) =>
        new Promise((resolve) => {
          release = resolve;
          entered(input);
        }),
    });
    const startedAt = clock.now();
    expect(gw.http.activity()).toEqual({ inFlight: 0, lastActiveAt: startedAt });

    const answer = post(gw.endpoint, { query: ORG_NAME_QUERY }, bearer(DEMO_TOKENS.globex));
    const input = await inside;
    // A class instance, not a literal with a getter: a per-object hidden class kept every
    // request's objects alive through young-generation GCs.
    expect(Object.getOwnPropertyDescriptor(input, 'url')).toBeUndefined();
    expect(input.url.pathname).toBe('/graphql');
    await clock.advance(5_000);
    expect(gw.http.activity()).toEqual({ inFlight: 1, lastActiveAt: startedAt });

    release(null);
    expect((await answer).status).toBe(200);
    // The response's 'close' may come just after the client has its answer.
    const settled = async () => {
      for (let i = 0; i < 200 && gw.http.activity().inFlight > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await settled();
    expect(gw.http.activity()).toEqual({ inFlight: 0, lastActiveAt: startedAt + 5_000 });
    // Probes (an orchestrator's every few seconds, a metrics scrape) are not use: the edge is
    // still quiet since the last GraphQL request, or idle work would never run under them.
    const probes = ['/health', '/ready', '/metrics', '/ready?probe=1', '/metrics?name[]=cache_bytes'];
    for (const path of probes) {
      await clock.advance(2_000);
      expect((await raw(`${gw.url}${path}`)).status).toBe(200);
      await settled();
    }
    expect(gw.http.activity()).toEqual({ inFlight: 0, lastActiveAt: startedAt + 5_000 });
    await clock.advance(1_000);
    expect((await raw(`${gw.url}/nothing-here`)).status).toBe(404);
    await settled();
    expect(gw.http.activity()).toEqual({ inFlight: 0, lastActiveAt: startedAt + 5_000 + probes.length * 2_000 + 1_000 });
  });

  it('tells the end hook about a request whose client went away while the fast path held it', async () => {
    let release!: (answer: GraphQLResponseOutput | null) => void;
    let entered!: (input: GraphQLRequestInput) => void;
    const inside = new Promise<GraphQLRequestInput>((resolve) => (entered = resolve));
    const ended: GraphQLRequestInput[] = [];
    const gw = await gateway({
      // Holds the request at the fast path (as a request waiting on an identical one's answer is held).
      fastPath: (input) =>
        new Promise((resolve) => {
          release = resolve;
          entered(input);
        }),
      onGraphQLEnd: (input) => void ended.push(input),
    });
    const client = new AbortController();
    const answer = fetch(gw.endpoint, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(DEMO_TOKENS.globex) }, body: JSON.stringify({ query: ORG_NAME_QUERY }), signal: client.signal });
    const input = await inside;
    client.abort();
    await expect(answer).rejects.toThrow();
    // The server sees the connection close a moment after the client drops it.
    for (let i = 0; i < 200 && gw.http.activity().inFlight > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(gw.http.activity().inFlight).toBe(0);
    release(null);
    for (let i = 0; i < 200 && ended.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    // Ended once: requests waiting on its answer hear that it will not come.
    expect(ended).toEqual([input]);
  });
});
