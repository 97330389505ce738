import type { KeyValueDto } from '../upstream/dto.js';
import { apiErrors, type ArgumentRef } from './api-error.js';
import { isParamHash, type ParamHash, type ParamValue } from './query.js';

/**
 * Apia's argument processing for the endpoints the simulator serves: arguments are parsed in
 * definition order and the first problem wins, before any lookup touches the data.
 */
export type ArgumentSpec =
  | { kind: 'lookup'; name: string; set: string; keys: readonly string[]; required: boolean; description?: string }
  | { kind: 'annotations' }
  | { kind: 'pagination' };

/** The chosen member of a lookup set; `value` null when every given member was null. */
export interface LookupValue {
  key: string;
  value: string | null;
}

export interface ParsedArguments {
  /** Lookup sets by argument name; absent when an optional set was not given. */
  lookups: Map<string, LookupValue>;
  /** Annotation filters, in the order Rack built them. */
  annotations: KeyValueDto[];
  page: number;
  perPage: number;
}

const KEY_VALUE_SET = 'CoreAPI/ArgumentSets/KeyValue';

function camelize(name: string): string {
  return name.replace(/(^|_)([a-z0-9])/g, (_m, _u: string, c: string) => c.toUpperCase());
}

function ref(setId: string, name: string, description: string | null = null): ArgumentRef {
  return { id: `${setId}/${camelize(name)}Argument`, name, description };
}

function parseString(value: ParamValue, path: ArgumentRef[]): string | null {
  if (value === null || typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw apiErrors.invalidArgument(path, 'invalid_scalar');
}

function parseInteger(value: ParamValue, path: ArgumentRef[]): number | null {
  if (value === null) return null;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number.parseInt(value, 10);
  throw apiErrors.invalidArgument(path, 'parse_error', { errors: ['Integer must be provided as an integer or a string only containing numbers'] });
}

function parseLookup(spec: Extract<ArgumentSpec, { kind: 'lookup' }>, value: ParamValue, argument: ArgumentRef): LookupValue | null {
  if (!isParamHash(value)) {
    if (value === null) return null;
    throw apiErrors.invalidArgument([argument], 'object_expected');
  }
  const given: LookupValue[] = [];
  for (const key of spec.keys) {
    if (!(key in value)) continue;
    given.push({ key, value: parseString(value[key] ?? null, [argument, ref(`CoreAPI/ArgumentSets/${spec.set}`, key)]) });
  }
  if (given.length === 0) throw apiErrors.invalidArgument([argument], 'missing_lookup_value');
  const nonNull = given.filter((g) => g.value !== null);
  if (nonNull.length > 1) throw apiErrors.invalidArgument([argument], 'ambiguous_lookup_values');
  return nonNull[0] ?? { key: spec.keys[0] ?? 'id', value: null };
}

function parseAnnotations(value: ParamValue, argument: ArgumentRef): KeyValueDto[] {
  if (value === null) return [];
  if (!Array.isArray(value)) throw apiErrors.invalidArgument([argument], 'array_expected');
  return value.map((item, index) => {
    if (!isParamHash(item)) throw apiErrors.invalidArgument([argument], 'object_expected', { index });
    const keyRef = ref(KEY_VALUE_SET, 'key');
    const key = 'key' in item ? parseString(item['key'] ?? null, [argument, keyRef]) : null;
    if (key === null) throw apiErrors.missingRequiredArgument([argument, keyRef]);
    const given = 'value' in item ? parseString(item['value'] ?? null, [argument, ref(KEY_VALUE_SET, 'value')]) : null;
    return { key, value: given };
  });
}

/**
 * `routeParams` holds the placeholder segments of the path: when a lookup set is not in the
 * params at all, its segment is used as the set's first member (the id), as Apia does.
 */
export function parseArguments(endpointId: string, specs: readonly ArgumentSpec[], params: ParamHash, routeParams: Record<string, string>): ParsedArguments {
  const setId = `${endpointId}/BaseArgumentSet`;
  const parsed: ParsedArguments = { lookups: new Map(), annotations: [], page: 1, perPage: 30 };
  for (const spec of specs) {
    if (spec.kind === 'lookup') {
      const argument = ref(setId, spec.name, spec.description ?? null);
      const fromRoute = routeParams[spec.name];
      const raw: ParamValue | undefined = spec.name in params ? (params[spec.name] ?? null) : fromRoute !== undefined ? { [spec.keys[0] ?? 'id']: fromRoute } : undefined;
      if (raw === undefined) {
        if (spec.required) throw apiErrors.missingRequiredArgument([argument]);
        continue;
      }
      const lookup = parseLookup(spec, raw, argument);
      if (lookup) parsed.lookups.set(spec.name, lookup);
      else if (spec.required) throw apiErrors.missingRequiredArgument([argument]);
    } else if (spec.kind === 'annotations') {
      if ('annotations' in params) parsed.annotations = parseAnnotations(params['annotations'] ?? null, ref(setId, 'annotations', 'An array of annotations to filter by.'));
    } else {
      const pageRef = ref(setId, 'page');
      const page = 'page' in params ? parseInteger(params['page'] ?? null, [pageRef]) : null;
      if (page !== null && page <= 0) throw apiErrors.invalidArgument([pageRef], 'validation_errors', { errors: ['greater_than_zero'] });
      const perPageRef = ref(setId, 'per_page');
      const perPage = 'per_page' in params ? parseInteger(params['per_page'] ?? null, [perPageRef]) : null;
      if (perPage !== null) {
        const errors = [...(perPage <= 0 ? ['greater_than_zero'] : []), ...(perPage > 200 ? ['less_than_or_equal_to_one_hundred'] : [])];
        if (errors.length > 0) throw apiErrors.invalidArgument([perPageRef], 'validation_errors', { errors });
      }
      parsed.page = page ?? 1;
      parsed.perPage = perPage ?? 30;
    }
  }
  return parsed;
}
