import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import type { FetchLike } from '../../src/upstream/http.js';
import { createTestGateway, rewritingAnswers, type TestGateway } from '../helpers/gateway.js';

/**
 * Katapult's reference lets a GPU type's `data_centers` be null (Apia's schema) and hold null
 * items (the OpenAPI document). The simulator never sends either, so these tests rewrite its
 * answers: a GPU type with no data centers to list has an empty list, and nothing else in the
 * query is lost.
 */

type GpuTypeBody = { id: string; data_centers: unknown };

/** The simulator's answers, with every GPU type's `data_centers` replaced by `rewrite(original)`. */
function rewritingGpuTypes(rewrite: (dataCenters: unknown[]) => unknown): (simulator: FetchLike) => FetchLike {
  return rewritingAnswers(/\/gpu_types/, (body: { gpu_types?: GpuTypeBody[]; gpu_type?: GpuTypeBody }) => {
    for (const gpu of [...(body.gpu_types ?? []), ...(body.gpu_type ? [body.gpu_type] : [])]) gpu.data_centers = rewrite(gpu.data_centers as unknown[]);
  });
}

const QUERY = '{ organization(subDomain: "globex") { name } gpuTypes(first: 10) { edges { node { id name dataCenters { id name } } } } }';

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

describe('GpuType.dataCenters', () => {
  it('lists the data centers Katapult names (the unmodified simulator)', async () => {
    gateway = createTestGateway();
    const { body } = await gateway.query(QUERY, { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    const counts = (body.data!.gpuTypes.edges as Array<{ node: { dataCenters: unknown[] } }>).map((e) => e.node.dataCenters.length);
    expect(counts.length).toBeGreaterThan(0);
    expect(counts.every((n) => n > 0)).toBe(true);
  });

  it('is an empty list, not an error, when Katapult sends data_centers: null', async () => {
    gateway = createTestGateway({ wrapFetch: rewritingGpuTypes(() => null) });
    const { body } = await gateway.query(QUERY, { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    expect(body.data!.organization.name).toBeTruthy();
    const nodes = (body.data!.gpuTypes.edges as Array<{ node: { dataCenters: unknown[] } }>).map((e) => e.node);
    expect(nodes.length).toBeGreaterThan(0);
    expect(nodes.map((n) => n.dataCenters)).toEqual(nodes.map(() => []));
  });

  it('skips null items and keeps the others', async () => {
    gateway = createTestGateway({ wrapFetch: rewritingGpuTypes((dataCenters) => [null, ...dataCenters, null]) });
    const { body } = await gateway.query(QUERY, { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    const edges = body.data!.gpuTypes.edges as Array<{ node: { dataCenters: Array<{ id: string }> } }>;
    expect(edges.every((e) => e.node.dataCenters.length > 0 && e.node.dataCenters.every((dc) => typeof dc.id === 'string'))).toBe(true);
  });

  it('is an empty list through node(id:) too (the single GPU type call)', async () => {
    gateway = createTestGateway({ wrapFetch: rewritingGpuTypes(() => null) });
    const list = await gateway.query('{ gpuTypes(first: 1) { edges { node { id } } } }', { token: DEMO_TOKENS.globex });
    const id = list.body.data!.gpuTypes.edges[0].node.id as string;
    const { body } = await gateway.query('query ($id: ID!) { node(id: $id) { ... on GpuType { id dataCenters { id } } } }', { token: DEMO_TOKENS.globex, variables: { id } });
    expect(body.errors).toBeUndefined();
    expect(body.data!.node).toEqual({ id, dataCenters: [] });
  });
});
