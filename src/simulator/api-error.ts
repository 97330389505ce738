import type { TrashObjectDto } from '../upstream/dto.js';

/**
 * Katapult's errors, with the exact codes, statuses and descriptions the real API sends.
 * Handlers throw these; one place turns them into the `{"error":{…}}` envelope.
 */
export class SimulatorApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string | null,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(`${status} ${code}`);
    this.name = 'SimulatorApiError';
  }
}

const NOT_FOUND = {
  organization_not_found: 'No organization was found matching any of the criteria provided in the arguments',
  virtual_machine_not_found: 'No virtual machine was found matching any of the criteria provided in the arguments',
  data_center_not_found: 'No data center was found matching any of the criteria provided in the arguments',
  zone_not_found: 'No zone was found matching any of the criteria provided in the arguments',
  country_not_found: 'No country was found matching any of the criteria provided in the arguments',
  gpu_type_not_found: 'No GPU type was found matching any of the criteria provided in the arguments',
  package_not_found: 'No package was found matching any of the criteria provided in the arguments',
} as const;

export type NotFoundCode = keyof typeof NOT_FOUND;

/** Apia's wording for each `invalid_argument` issue; `validation_errors` has none (Apia looks up a key that does not exist). */
const ISSUE_DESCRIPTIONS: Record<string, string | null> = {
  invalid_scalar:
    'The value provided was not of an appropriate type for the scalar that was requested. For example, you may have passed a string where an integer was required etc...',
  parse_error:
    'The value provided could not be parsed into an appropriate value by the server. For example, if a date was expected and the value could not be interpretted as such.',
  validation_errors: null,
  invalid_enum_value: 'The value provided was not one of the options suitable for the enum.',
  missing_lookup_value: 'A value for a lookup argument set has not been provided but at least one value is required.',
  ambiguous_lookup_values: 'More than one value has been provided for a lookup argument set. Only one option may be provided.',
  array_expected: null,
  object_expected: null,
};

/** An argument as Apia names it in error details. */
export interface ArgumentRef {
  id: string;
  name: string;
  description: string | null;
}

export const apiErrors = {
  missingApiToken: () =>
    new SimulatorApiError(400, 'missing_api_token', 'No API token was provided in the Authorization header. Ensure a token is provided prefixed with Bearer'),
  invalidApiToken: () =>
    new SimulatorApiError(403, 'invalid_api_token', 'The API token provided was not valid (it may not exist or have expired)', { details: null }),
  scopeNotGranted: (scopes: readonly string[]) =>
    new SimulatorApiError(403, 'scope_not_granted', 'The scope required for this endpoint has not been granted to the authenticating identity', {
      scopes: [...scopes],
    }),
  organizationSuspended: () =>
    new SimulatorApiError(403, 'organization_suspended', 'An organization was found from the arguments provided but it was suspended'),
  notFound: (code: NotFoundCode) => new SimulatorApiError(404, code, NOT_FOUND[code]),
  noUserAssociatedWithIdentity: () => new SimulatorApiError(404, 'no_user_associated_with_identity', 'There is no user associated with this API token'),
  objectInTrash: (trashObject: TrashObjectDto | null) =>
    new SimulatorApiError(
      406,
      'object_in_trash',
      'The object found is in the trash and therefore cannot be manipulated through the API. It should be restored in order to run this operation.',
      { trash_object: trashObject },
    ),
  rateLimitReached: (totalPermitted: number) =>
    new SimulatorApiError(429, 'rate_limit_reached', 'You have reached the rate limit for this type of request', { total_permitted: totalPermitted }),
  serviceUnavailable: () => new SimulatorApiError(503, 'service_unavailable', 'The service is currently unavailable, please try again later'),
  routeNotFound: (apiPath: string, method: string) => new SimulatorApiError(404, 'route_not_found', `No route matches '${apiPath}' for ${method}`),
  invalidJsonBody: (message: string) =>
    new SimulatorApiError(400, 'invalid_json_body', 'The JSON body provided with this request is invalid', { details: message }),
  invalidArgument: (path: readonly ArgumentRef[], issue: string, options: { errors?: string[]; index?: number | null } = {}) => {
    const argument = path[path.length - 1];
    if (!argument) throw new Error('invalidArgument needs a path');
    return new SimulatorApiError(400, 'invalid_argument', `The '${path.map((a) => a.name).join('.')}' argument is invalid`, {
      path: path.map((a) => a.name),
      index: options.index ?? null,
      issue,
      issue_description: ISSUE_DESCRIPTIONS[issue] ?? null,
      errors: options.errors ?? [],
      argument: { id: argument.id, name: argument.name, description: argument.description },
    });
  },
  missingRequiredArgument: (path: readonly ArgumentRef[]) => {
    const argument = path[path.length - 1];
    if (!argument) throw new Error('missingRequiredArgument needs a path');
    return new SimulatorApiError(
      400,
      'missing_required_argument',
      `The '${path.map((a) => a.name).join('.')}' argument is required but has not been provided`,
      { path: path.map((a) => a.name), argument: { name: argument.name, description: argument.description } },
    );
  },
};
