/**
 * Katapult's query-string conventions (Apia on Rack): lookups are bracketed
 * (`organization[sub_domain]=acme`), arrays of sets are built by the *order* of their pairs,
 * so annotation filters must go out interleaved (`annotations[][key]`, `annotations[][value]`,
 * `annotations[][key]`, …). Params are kept as an ordered list of pairs for that reason.
 */

export type QueryParams = ReadonlyArray<readonly [name: string, value: string]>;

export interface AnnotationFilterParam {
  key: string;
  /** Absent or null matches any value of the key. */
  value?: string | null;
}

/** `{ id }` or `{ sub_domain }` style lookup: exactly one member should be set. */
export type Lookup = Readonly<Record<string, string | null | undefined>>;

export function lookupParams(argument: string, lookup: Lookup): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [member, value] of Object.entries(lookup)) {
    if (value !== undefined && value !== null) pairs.push([`${argument}[${member}]`, value]);
  }
  return pairs;
}

/**
 * Interleaved, with the filters that have a value first: Rack pairs by order (a key without a
 * value stays alone), while Katapult's reference also asks for as many values as keys, which a
 * server pairing the two lists by position would need. With the keys that have no value last,
 * both readings pair every value with its own key.
 */
export function annotationParams(filters: readonly AnnotationFilterParam[]): [string, string][] {
  const pairs: [string, string][] = [];
  const valued = (filter: AnnotationFilterParam) => filter.value !== undefined && filter.value !== null;
  for (const filter of filters) if (valued(filter)) pairs.push(['annotations[][key]', filter.key], ['annotations[][value]', filter.value!]);
  for (const filter of filters) if (!valued(filter)) pairs.push(['annotations[][key]', filter.key]);
  return pairs;
}

export function pageParams(page: number, perPage: number): [string, string][] {
  return [
    ['page', String(page)],
    ['per_page', String(perPage)],
  ];
}

/** A surrogate half without its partner: a JavaScript string can hold one, UTF-8 cannot. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// Brackets are percent-encoded as Katapult's own clients send them; both forms parse.
function encodeComponent(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    // A client's string (a JSON variable can carry "\ud800") with a lone surrogate: encoded as
    // U+FFFD, as the WHATWG URL encoder does, so the lookup finds nothing instead of failing.
    return encodeURIComponent(text.replace(LONE_SURROGATE, '\uFFFD'));
  }
}

/** The query string in the given order (the order Katapult pairs arrays by). */
export function encodeQuery(params: QueryParams): string {
  return params.map(([name, value]) => `${encodeComponent(name)}=${encodeComponent(value)}`).join('&');
}

const ARRAY_OF_SETS = /^[^[\]]+\[\]\[/;

/**
 * A canonical form for cache keys: scalar parameters sorted by name, while members of
 * arrays of sets (`annotations[][…]`) keep their relative order and are grouped after the
 * scalars, because reordering them would pair keys with other values.
 */
export function canonicalQuery(params: QueryParams): string {
  const scalars: (readonly [string, string])[] = [];
  const sets: (readonly [string, string])[] = [];
  for (const pair of params) (ARRAY_OF_SETS.test(pair[0]) ? sets : scalars).push(pair);
  scalars.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encodeQuery([...scalars, ...sets]);
}

export function canonicalUrl(path: string, params: QueryParams): string {
  const query = canonicalQuery(params);
  return query ? `${path}?${query}` : path;
}
