/**
 * Gateway-side failures that are the client's doing (bad arguments, cursors, a missing
 * token). Upstream failures live in `upstream/errors.ts`; both are mapped to GraphQL errors
 * in one place, `schema/errors.ts`.
 */

/** The request needs Katapult data but carried no `Authorization: Bearer` token. */
export class MissingTokenError extends Error {
  constructor() {
    super('This field needs a Katapult API token: send it as "Authorization: Bearer <token>"');
    this.name = 'MissingTokenError';
  }
}

/** Arguments the gateway rejects before calling Katapult (maps to BAD_USER_INPUT). */
export class InvalidInputError extends Error {
  constructor(
    message: string,
    readonly argument?: string,
  ) {
    super(message);
    this.name = 'InvalidInputError';
  }
}
