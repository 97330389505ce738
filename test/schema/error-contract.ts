import { expect } from 'vitest';
import { closedAfterEach } from '../helpers/closed-after-each.js';
import { createTestGateway, type GatewayResponse } from '../helpers/gateway.js';

/** The organization-name query both error suites start from. */
export const ORG_NAME = '{ organization(subDomain: "globex") { name } }';

/** Builds in-process gateways closed after each test of the calling file; call it once, at the top. */
export const gatewayPerTest = () => closedAfterEach(createTestGateway);

/**
 * What every error response of the gateway must satisfy, whatever went wrong: each error
 * carries the request id, and nothing of the token, the upstream URL or Katapult's own
 * wording reaches the client.
 */

/** Katapult's own error wording (the simulator sends it verbatim); none of it may be echoed. */
const UPSTREAM_WORDING = [
  'No API token was provided',
  'The API token provided was not valid',
  'The scope required for this endpoint',
  'An organization was found from the arguments',
  'was found matching any of the criteria',
  'You have reached the rate limit',
  'The service is currently unavailable',
  'No route matches',
  'argument is invalid',
  'is in the trash and therefore',
];

/** Put in canned upstream descriptions: it must never come back out. */
export const CANNED_MARKER = 'canned-upstream-description-7f3a';

export function expectContract(response: GatewayResponse, token?: string): void {
  const { body, text } = response;
  expect(body.errors?.length ?? 0).toBeGreaterThan(0);
  for (const error of body.errors!) {
    expect(typeof error.extensions?.requestId).toBe('string');
    expect(String(error.extensions?.requestId).length).toBeGreaterThan(0);
    expect(error.extensions?.http).toBeUndefined();
  }
  if (token) expect(text).not.toContain(token);
  expect(text).not.toContain('127.0.0.1');
  expect(text).not.toContain('/core/v1');
  expect(text).not.toContain(CANNED_MARKER);
  for (const wording of UPSTREAM_WORDING) expect(text).not.toContain(wording);
}

/** A canned Katapult error envelope whose description must not leak. */
export function cannedError(status: number, code: string, detail: Record<string, unknown> = {}): Response {
  return new Response(JSON.stringify({ error: { code, description: `Katapult says ${CANNED_MARKER}`, detail } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}
