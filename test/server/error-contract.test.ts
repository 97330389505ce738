import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { useErrorContract } from '../../src/server/error-contract.js';

describe('useErrorContract', () => {
  it('adds a code and the request id to an error that has no extensions object (graphql-jit makes such errors)', () => {
    const bare = new GraphQLError('boom', { path: ['a'] });
    Object.defineProperty(bare, 'extensions', { value: undefined });
    const withExtensions = new GraphQLError('other', { extensions: { code: 'BAD_USER_INPUT' } });
    let set: { errors: GraphQLError[] } | undefined;
    const onResultProcess = useErrorContract({ clock: systemClock }).onResultProcess as unknown as (payload: unknown) => void;
    onResultProcess({ result: { data: { a: null }, errors: [bare, withExtensions] }, setResult: (r: typeof set) => (set = r), serverContext: { scope: { requestId: 'req-7' } } });
    expect(set!.errors.map((e) => e.toJSON())).toEqual([
      { message: 'boom', path: ['a'], extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'req-7' } },
      { message: 'other', extensions: { code: 'BAD_USER_INPUT', requestId: 'req-7' } },
    ]);
  });

  it('answers 429 only when the rate limit is all that failed under every root field', () => {
    const onResultProcess = useErrorContract({ clock: systemClock }).onResultProcess as unknown as (payload: unknown) => void;
    const statusOf = (data: Record<string, unknown> | null, errors: GraphQLError[]) => {
      let set: { extensions?: { http?: { status?: number } } } | undefined;
      onResultProcess({ result: { data, errors }, setResult: (r: typeof set) => (set = r), serverContext: { scope: { requestId: 'req-8' } } });
      return set?.extensions?.http?.status ?? 200;
    };
    const limited = (...path: Array<string | number>) => new GraphQLError('budget', { path, extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 30 } });
    const forbidden = (...path: Array<string | number>) => new GraphQLError('suspended', { path, extensions: { code: 'FORBIDDEN' } });
    expect(statusOf({ organization: null, zones: null }, [limited('organization', 'name'), limited('zones')])).toBe(429);
    expect(statusOf(null, [limited('organization', 'id')])).toBe(429);
    // The organization is null because it is suspended; its VM list also hit the budget. Waiting would not help.
    expect(statusOf({ organization: null }, [limited('organization', 'virtualMachines'), forbidden('organization', 'name'), forbidden('organization', 'id')])).toBe(200);
    expect(statusOf(null, [limited('organization', 'virtualMachines'), forbidden('organization', 'id')])).toBe(200);
    expect(statusOf({ organization: null, zones: null }, [forbidden('organization'), limited('zones')])).toBe(200);
  });
});
