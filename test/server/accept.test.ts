import { describe, expect, it } from 'vitest';
import { acceptByPreference, acceptsHtml, needsNegotiation } from '../../src/server/accept.js';

const JSON_TYPE = 'application/json';
const GRAPHQL_RESPONSE = 'application/graphql-response+json';

describe('acceptByPreference', () => {
  it('orders the types yoga answers in by the client’s weights, most preferred first', () => {
    expect(acceptByPreference(`${JSON_TYPE};q=0.5, ${GRAPHQL_RESPONSE}`).split(', ').slice(0, 2)).toEqual([GRAPHQL_RESPONSE, JSON_TYPE]);
    expect(acceptByPreference(`${GRAPHQL_RESPONSE};q=0.8, ${JSON_TYPE};q=0.8`)).toBe(`${GRAPHQL_RESPONSE}, ${JSON_TYPE}`);
  });

  it('drops what the client refuses, even when a wildcard would take it', () => {
    expect(acceptByPreference(`${GRAPHQL_RESPONSE};q=0, ${JSON_TYPE}`)).toBe(JSON_TYPE);
    // A specific range says more than a wildcard (RFC 9110 §12.5.1).
    expect(acceptByPreference(`${JSON_TYPE};q=0, */*`).split(', ')[0]).toBe(GRAPHQL_RESPONSE);
    expect(acceptByPreference(`${JSON_TYPE};q=0, */*`).split(', ')).not.toContain(JSON_TYPE);
    expect(acceptByPreference(`${JSON_TYPE};q=0.5, */*`).split(', ')[0]).toBe(GRAPHQL_RESPONSE);
    expect(acceptByPreference(`application/*;q=0, text/event-stream;q=0.2`)).toBe('text/event-stream');
  });

  it('answers nothing when every type yoga answers in is refused', () => {
    expect(acceptByPreference(`${JSON_TYPE};q=0, ${GRAPHQL_RESPONSE};Q=0.000`)).toBe('');
    expect(acceptByPreference(`*/*;q=0`)).toBe('');
    expect(acceptByPreference(`text/html;q=0.9`)).toBe('');
  });

  it('of equal weights, prefers the type the client named over one a wildcard stands for', () => {
    expect(acceptByPreference(`*/*;q=0.9, ${JSON_TYPE};q=0.9`).split(', ')[0]).toBe(JSON_TYPE);
    expect(acceptByPreference(`*/*, ${GRAPHQL_RESPONSE}`).split(', ')[0]).toBe(GRAPHQL_RESPONSE);
  });

  it('is needed for weights, parameters and wildcards, and not for a plain list of types', () => {
    expect(needsNegotiation(`${JSON_TYPE};charset=iso-8859-1, ${GRAPHQL_RESPONSE}`)).toBe(true);
    expect(needsNegotiation('*/*')).toBe(true);
    expect(needsNegotiation(`${GRAPHQL_RESPONSE}, ${JSON_TYPE}`)).toBe(false);
  });

  it('gives a bare wildcard JSON first, as yoga does, and reads odd weights leniently within 0 to 1', () => {
    expect(acceptByPreference('*/*;q=0.3').split(', ')[0]).toBe(JSON_TYPE);
    expect(acceptByPreference(`${JSON_TYPE};q=x, ${GRAPHQL_RESPONSE};q=0.9`).split(', ')[0]).toBe(JSON_TYPE);
    // q=5 is not a weight above 1: it ties with an unweighted type, and the one listed first wins.
    expect(acceptByPreference(`${GRAPHQL_RESPONSE}, ${JSON_TYPE};q=5`).split(', ')[0]).toBe(GRAPHQL_RESPONSE);
  });

  it('reads a weight that is no RFC 9110 qvalue as none given, never as a refusal', () => {
    expect(acceptByPreference(`${JSON_TYPE};q=-1`)).toBe(JSON_TYPE);
    expect(acceptByPreference(`${JSON_TYPE};q=0.0000`)).toBe(JSON_TYPE);
    // Not 0.5 or 0.001: each counts as 1, ahead of the valid 0.9.
    expect(acceptByPreference(`${GRAPHQL_RESPONSE};q=0.9, ${JSON_TYPE};q=.5`).split(', ')[0]).toBe(JSON_TYPE);
    expect(acceptByPreference(`${GRAPHQL_RESPONSE};q=0.9, ${JSON_TYPE};q=1e-3`).split(', ')[0]).toBe(JSON_TYPE);
    expect(acceptsHtml('text/html;q=-0.5')).toBe(true);
  });

  it('does not take a range whose charset yoga cannot write', () => {
    expect(acceptByPreference(`${JSON_TYPE};charset=iso-8859-1;q=1, ${GRAPHQL_RESPONSE};q=0.5`)).toBe(GRAPHQL_RESPONSE);
    expect(acceptByPreference(`${JSON_TYPE};charset=UTF-8;q=0.9`)).toBe(JSON_TYPE);
  });
});

describe('acceptsHtml', () => {
  it('is true for what browsers send, and false when HTML is refused or only a wildcard is given', () => {
    expect(acceptsHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')).toBe(true);
    expect(acceptsHtml('text/*')).toBe(true);
    expect(acceptsHtml('text/html;q=0, */*')).toBe(false);
    expect(acceptsHtml('*/*')).toBe(false);
    expect(acceptsHtml(null)).toBe(false);
  });
});
