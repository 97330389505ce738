import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Installed versions of each system's key packages, read from their package.json files. */
function versionOf(root: string, name: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

const pick = (root: string, names: readonly string[]) => Object.fromEntries(names.map((n) => [n, versionOf(root, n)]));

export function collectVersions(repoRoot: string, benchDir: string): Record<string, Record<string, string | null>> {
  const own = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  return {
    gateway: { [own.name]: own.version, ...pick(repoRoot, ['graphql-yoga', 'graphql', '@pothos/core', '@pothos/plugin-relay', 'lru-cache', 'undici', 'pino']) },
    apollo: pick(benchDir, ['@apollo/server', '@apollo/datasource-rest', '@apollo/server-plugin-response-cache', 'graphql']),
    mesh: pick(benchDir, ['@graphql-hive/gateway-runtime', '@graphql-mesh/compose-cli', '@omnigraph/openapi', '@graphql-mesh/plugin-response-cache', '@graphql-mesh/cache-inmemory-lru', 'graphql']),
    load: pick(benchDir, ['autocannon']),
    runner: pick(repoRoot, ['tsx', 'typescript']),
  };
}
