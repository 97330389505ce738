import { spawnSync } from 'node:child_process';
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

/**
 * The commit the gateway was compiled from (read-only git queries), marked when src/ differs
 * from it: the bench compiles the work tree as it is.
 */
function gatewayCommit(repoRoot: string): string | null {
  const head = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' });
  if (head.status !== 0) return null;
  const dirty = spawnSync('git', ['diff', '--quiet', 'HEAD', '--', 'src'], { cwd: repoRoot }).status === 1;
  return `${head.stdout.trim()}${dirty ? ' + uncommitted changes in src/' : ''}`;
}

const pick = (root: string, names: readonly string[]) => Object.fromEntries(names.map((n) => [n, versionOf(root, n)]));

export function collectVersions(repoRoot: string, benchDir: string): Record<string, Record<string, string | null>> {
  const own = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  return {
    gateway: { [own.name]: own.version, commit: gatewayCommit(repoRoot), ...pick(repoRoot, ['graphql-yoga', 'graphql', '@pothos/core', '@pothos/plugin-relay', 'lru-cache', 'undici', 'pino']) },
    apollo: pick(benchDir, ['@apollo/server', '@apollo/datasource-rest', '@apollo/server-plugin-response-cache', 'graphql']),
    mesh: pick(benchDir, ['@graphql-hive/gateway-runtime', '@graphql-mesh/compose-cli', '@omnigraph/openapi', '@graphql-mesh/plugin-response-cache', '@graphql-mesh/cache-inmemory-lru', 'graphql']),
    load: pick(benchDir, ['autocannon']),
    runner: pick(repoRoot, ['tsx', 'typescript']),
  };
}
