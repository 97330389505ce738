import { parse } from 'graphql';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { createDocumentCaches, documentTokens, parsedDocumentBytes } from '../../src/server/document-cache.js';
import { createTestGateway } from '../helpers/gateway.js';

const MIB = 1024 * 1024;

function fullGc(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  gc();
  gc();
}

/** Documents of different shapes, each made distinct by `i`. */
const SHAPES: Record<string, (i: number) => string> = {
  // The common case: a short query.
  small: (i) => `query Q${i} { organization(subDomain: "acme") { virtualMachines(first: 30) { edges { node { id name zone { id name } } } } } }`,
  // As many tokens as LIMIT_TOKENS allows, in little text.
  dense: (i) => `{ ${Array.from({ length: 2990 }, (_, j) => `f${j}_${i}`).join(' ')} }`,
  // Mostly a comment: much text, few tokens.
  commented: (i) => `# ${'x'.repeat(60_000)} ${i}\n{ a { ${Array.from({ length: 500 }, (_, j) => `f${j}`).join(' ')} } }`,
};

describe('the estimate of what a parsed document keeps alive', () => {
  for (const [shape, make] of Object.entries(SHAPES)) {
    it(`is never below what the heap shows, nor far above it, for ${shape} documents`, () => {
      const count = 60;
      const texts = Array.from({ length: count }, (_, i) => make(i));
      fullGc();
      const before = process.memoryUsage().heapUsed;
      const kept = new Map(texts.map((text) => [text, parse(text, { maxTokens: 3000 })]));
      fullGc();
      const measured = (process.memoryUsage().heapUsed - before) / count;
      const estimated = [...kept].reduce((sum, [text, document]) => sum + parsedDocumentBytes(text, document), 0) / count;
      expect(kept.size).toBe(count);
      expect(estimated, `measured ${Math.round(measured)} bytes a document`).toBeGreaterThanOrEqual(measured);
      expect(estimated, `measured ${Math.round(measured)} bytes a document`).toBeLessThanOrEqual(3 * measured);
    });
  }

  it('counts comments among the tokens, since the document keeps them', () => {
    expect(documentTokens(parse('{ a }'))).toBe(5); // <SOF> { a } <EOF>
    expect(documentTokens(parse('# note\n{ a }'))).toBe(6);
    expect(documentTokens(parse('{ a b }', { noLocation: true }))).toBeGreaterThan(0);
  });
});

describe('yoga\'s parser caches', () => {
  it('keep documents and parse errors within their byte budgets', () => {
    const caches = createDocumentCaches({ maxBytes: 4 * MIB });
    for (let i = 0; i < 20; i++) {
      const text = SHAPES.dense!(i);
      caches.documentCache.set(text, parse(text, { maxTokens: 3000 }));
      caches.errorCache.set(`${text} {`, new Error('syntax'));
    }
    expect(caches.documentCache.size).toBeGreaterThan(0);
    expect(caches.documentCache.size).toBeLessThan(20);
    expect(caches.documentCache.calculatedSize).toBeLessThanOrEqual(4 * MIB);
    expect(caches.errorCache.calculatedSize).toBeLessThanOrEqual(MIB / 2);
  });

  describe('behind the gateway', () => {
    const gateway = createTestGateway({ env: { DOCUMENT_CACHE_MAX_BYTES: String(4 * MIB), RESPONSE_CACHE_MAX_BYTES: '0' } });
    afterAll(() => gateway.close());

    it('do not grow the heap with each distinct large document a client sends, token or not', async () => {
      // Each of these parses (LIMIT_TOKENS allows it) and then fails validation; a parsed
      // document keeps about 1.5 MB, so 120 of them held by count would keep 180 MB.
      const send = (i: number) => gateway.query(SHAPES.dense!(i), { token: `not-a-katapult-token-${i}` });
      const first = await send(1000);
      expect(first.body.errors?.[0]?.extensions?.code, first.text.slice(0, 300)).toBe('GRAPHQL_VALIDATION_FAILED');
      fullGc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 120; i++) await send(i);
      fullGc();
      const grown = process.memoryUsage().heapUsed - before;
      expect(grown, `the heap grew by ${Math.round(grown / MIB)} MB`).toBeLessThan(60 * MIB);
      const metrics = await gateway.app.metrics.render();
      const parsedBytes = Number(/^document_cache_bytes (\d+)/m.exec(metrics)?.[1]);
      expect(parsedBytes).toBeGreaterThan(0);
      expect(parsedBytes).toBeLessThanOrEqual(4 * MIB);
    });
  });
});
