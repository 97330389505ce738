import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../src/config.js';
import { simulatorOptionsFromEnv } from '../src/simulator/index.js';

function readExample(): Map<string, string> {
  const text = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) entries.set(match[1]!, match[2]!);
  }
  return entries;
}

describe('.env.example', () => {
  it('lists every variable the gateway reads', () => {
    const example = readExample();
    const missing = CONFIG_VARIABLES.filter((name) => !example.has(name));
    expect(missing).toEqual([]);
  });

  it('names no variable that nothing reads', () => {
    const known = new Set(CONFIG_VARIABLES);
    const unknown = [...readExample().keys()].filter((name) => !known.has(name) && !name.startsWith('SIMULATOR_'));
    expect(unknown).toEqual([]);
    const simulatorNames = [...readExample().keys()].filter((name) => name.startsWith('SIMULATOR_'));
    // Each simulator variable must be read by simulatorOptionsFromEnv: an unknown name would be
    // silently ignored, so a bad value must be reported or a good one must change the result.
    const defaults = JSON.stringify(simulatorOptionsFromEnv({}));
    for (const name of simulatorNames) {
      let reacted = false;
      try {
        reacted = JSON.stringify(simulatorOptionsFromEnv({ [name]: 'not-a-valid-value' })) !== defaults;
      } catch (error) {
        reacted = String(error).includes(name);
      }
      expect(reacted, name).toBe(true);
    }
  });

  it('states the defaults loadConfig uses', () => {
    const env = Object.fromEntries(readExample());
    const fromExample = loadConfig(env);
    const defaults = loadConfig({});
    const withoutSecrets = (config: ReturnType<typeof loadConfig>) => ({ ...config, secrets: undefined, nodeEnv: undefined });
    expect(withoutSecrets(fromExample)).toEqual(withoutSecrets(defaults));
    expect(() => simulatorOptionsFromEnv(env)).not.toThrow();
  });
});
