import { describe, expect, it } from 'vitest';
import { simulatorOptionsFromEnv } from '../../src/simulator/main.js';

describe('simulatorOptionsFromEnv', () => {
  it('defaults to 127.0.0.1:4010 with no fault knobs', () => {
    expect(simulatorOptionsFromEnv({})).toEqual({ port: 4010, host: '127.0.0.1' });
  });

  it('reads every knob', () => {
    const options = simulatorOptionsFromEnv({
      SIMULATOR_PORT: '0',
      SIMULATOR_HOST: '::1',
      SIMULATOR_LATENCY_MS: '25',
      SIMULATOR_FAILURE_RATIO: '0.1',
      SIMULATOR_RESET_RATIO: '.02',
      SIMULATOR_MALFORMED_RATIO: '1',
      SIMULATOR_RATE_LIMIT: '120',
      SIMULATOR_RATE_LIMIT_WINDOW_MS: '10000',
      SIMULATOR_RATE_LIMIT_HEADERS: 'false',
      SIMULATOR_HYPERVISOR: 'TRUE',
      SIMULATOR_SEED: '42',
    });
    expect(options).toEqual({
      port: 0,
      host: '::1',
      latencyMs: 25,
      failureRatio: 0.1,
      resetRatio: 0.02,
      malformedRatio: 1,
      rateLimitPerMinute: 120,
      rateLimitWindowMs: 10000,
      rateLimitHeaders: false,
      hypervisor: true,
      seed: 42,
    });
    expect(Object.isFrozen(options)).toBe(true);
  });

  it('treats empty variables as unset', () => {
    expect(simulatorOptionsFromEnv({ SIMULATOR_PORT: '', SIMULATOR_FAILURE_RATIO: '  ' })).toEqual({ port: 4010, host: '127.0.0.1' });
  });

  it('lists every bad variable in one error, quoting the value and the expected form', () => {
    let message = '';
    try {
      simulatorOptionsFromEnv({
        SIMULATOR_PORT: '70000',
        SIMULATOR_FAILURE_RATIO: '1.5',
        SIMULATOR_RATE_LIMIT_HEADERS: 'yes',
        SIMULATOR_LATENCY_MS: '10ms',
        SIMULATOR_RATE_LIMIT_WINDOW_MS: '0',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('SIMULATOR_PORT="70000": expected an integer from 0 to 65535');
    expect(message).toContain('SIMULATOR_FAILURE_RATIO="1.5": expected a number from 0 to 1');
    expect(message).toContain('SIMULATOR_RATE_LIMIT_HEADERS="yes": expected true or false');
    expect(message).toContain('SIMULATOR_LATENCY_MS="10ms"');
    expect(message).toContain('SIMULATOR_RATE_LIMIT_WINDOW_MS="0"');
    expect(message.split('\n')).toHaveLength(6);
  });
});
