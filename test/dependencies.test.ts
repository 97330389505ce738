import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * package.json holds two of yoga's helper packages at their last releases for Node 20, below the
 * ranges some of their dependents ask for. That works only while every name those dependents
 * import exists in the releases installed: an upgrade that starts using a newer helper would
 * otherwise fail at run time, on the first request that reaches it.
 */
describe('the helper packages held back for Node 20', () => {
  const HELD = ['@whatwg-node/promise-helpers', '@whatwg-node/disposablestack'] as const;
  const IMPORT = /import\s*\{([^}]*)\}\s*from\s*['"](@whatwg-node\/(?:promise-helpers|disposablestack))['"]/g;

  /** Every ES module of the packages that use them (yoga, envelop, graphql-tools, whatwg-node), with the names it imports from each. */
  function importsOfDependents(): Map<string, Set<string>> {
    const wanted = new Map<string, Set<string>>(HELD.map((name) => [name, new Set<string>()]));
    for (const scope of ['graphql-yoga', '@graphql-yoga', '@envelop', '@graphql-tools', '@whatwg-node']) {
      const dir = join(root, 'node_modules', scope);
      let files: string[];
      try {
        files = readdirSync(dir, { recursive: true, encoding: 'utf8' });
      } catch {
        continue;
      }
      for (const file of files) {
        if (!file.endsWith('.js') || !file.split(/[\\/]/).includes('esm')) continue;
        const text = readFileSync(join(dir, file), 'utf8');
        for (const [, names, from] of text.matchAll(IMPORT)) {
          for (const name of names!.split(',')) {
            const imported = name.trim().split(/\s+as\s+/)[0]!;
            if (imported) wanted.get(from!)!.add(imported);
          }
        }
      }
    }
    return wanted;
  }

  it('export every name their dependents import', async () => {
    const wanted = importsOfDependents();
    // The scan must see the imports it guards (graphql-tools' executor uses both packages).
    expect(wanted.get('@whatwg-node/promise-helpers')!.has('handleMaybePromise')).toBe(true);
    expect(wanted.get('@whatwg-node/disposablestack')!.has('DisposableSymbols')).toBe(true);
    for (const name of HELD) {
      const exported = Object.keys(await import(name));
      const missing = [...wanted.get(name)!].filter((imported) => !exported.includes(imported));
      expect(missing, `${name} lacks what its dependents import`).toEqual([]);
    }
  });

  it('are the releases package.json holds them at', () => {
    const overrides = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { overrides: Record<string, string> }).overrides;
    for (const name of HELD) {
      const installed = (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
      expect(installed, name).toBe(overrides[name]);
    }
  });
});
