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
});
