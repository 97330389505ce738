import {
  CircuitOpenError,
  QueueFullError,
  RateLimitedError,
  UpstreamApiError,
  UpstreamCancelledError,
  UpstreamError,
  UpstreamShapeError,
  isNotFoundCode,
} from '../upstream/errors.js';

/**
 * Which failures the cache may hide behind an older answer, and which it remembers.
 *
 * Stale data beats an error only when the failure says nothing about the data: Katapult
 * being down, slow or failing (retryable errors, any 5xx, an answer not of the shape it sends),
 * the token's budget being spent (429, or the gateway declining to send), or the gateway
 * protecting itself (open circuit, full queue).
 * A 403 or 404 is an answer about the resource or the token, so serving the old copy would
 * hide a real change; those always reach the caller.
 */
export function canServeStaleOnError(error: unknown): boolean {
  if (!(error instanceof UpstreamError)) return false;
  if (error.retryable || error instanceof UpstreamShapeError) return true;
  // A 5xx in Katapult's own JSON is Katapult failing, as the same status as an HTML page is.
  if (error instanceof UpstreamApiError) return error.status === 429 || error.status >= 500;
  return error instanceof RateLimitedError || error instanceof CircuitOpenError || error instanceof QueueFullError;
}

/**
 * A failure the gateway decided on without Katapult's answer: the queue holding the call past
 * its request's deadline, or too full, or the caller going away. A client can bring these about
 * (a short `X-Request-Timeout-Ms`), so they do not let a token past its check be served its
 * kept entries (see the REST cache's token checks), where Katapult's own failures still do.
 */
export function isGatewayRefusal(error: unknown): boolean {
  return error instanceof RateLimitedError || error instanceof QueueFullError || error instanceof UpstreamCancelledError;
}

/**
 * Katapult's refusals of the token itself, whatever was asked: it is not valid (revoked,
 * expired), the capabilities token sent with it is not, it was not sent, or it may not be used
 * from the gateway's network address (which does not change from one call to the next).
 */
const TOKEN_REFUSALS = new Set(['invalid_api_token', 'invalid_capabilities_token', 'missing_api_token', 'unauthorized_network_for_api_token']);

/** The token itself was refused: nothing cached under it may be served any more. */
export function isInvalidTokenError(error: unknown): error is UpstreamApiError {
  return error instanceof UpstreamApiError && TOKEN_REFUSALS.has(error.code);
}

/**
 * A lookup that found nothing (`vm_not_found`, …, and `object_in_trash`, which the schema reads
 * as not found too) is worth remembering briefly, so a client polling a deleted or trashed VM
 * does not spend the token's budget; `route_not_found` is a
 * misconfiguration and must not be. An organization-level token's current user
 * (`no_user_associated_with_identity`, which `viewer` answers as null) is such a lookup too:
 * a stored answer cannot stand in for it (nothing cached backs the null), so without this a
 * client asking for `viewer` would call Katapult on every request.
 */
export function isRememberedNotFound(error: unknown): error is UpstreamApiError {
  return error instanceof UpstreamApiError && (isNotFoundCode(error.code) || error.code === 'object_in_trash' || error.code === 'no_user_associated_with_identity');
}
