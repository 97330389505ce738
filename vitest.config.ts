import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// graphql 16 ships both index.mjs and index.js without an exports map: Vite would hand our
// sources the .mjs build while yoga and Pothos, loaded by Node, get the .js one. Two copies
// break `instanceof GraphQLError` and graphql's own realm check, so point ours at Node's.
const graphqlEntry = createRequire(import.meta.url).resolve('graphql');

export default defineConfig({
  resolve: {
    alias: [{ find: /^graphql$/, replacement: graphqlEntry }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
