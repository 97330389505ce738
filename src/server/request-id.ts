import { randomUUID } from 'node:crypto';

/**
 * The id that ties a client's request to our log lines and to the ids Katapult returns.
 * A caller's `X-Request-Id` is kept when it is a plausible id (so a proxy's or an app's id
 * carries through); anything else, including text that could forge log fields, is replaced.
 */
const PLAUSIBLE_ID = /^[\w.:-]{1,128}$/;

export function requestIdFrom(header: string | null | undefined): string {
  return header && PLAUSIBLE_ID.test(header) ? header : randomUUID();
}
