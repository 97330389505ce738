/**
 * Rack-style nested parameter parsing, which is what Katapult (an Apia app on Rack) does to
 * the query string. Order matters: `annotations[][key]=a&annotations[][value]=1` builds one
 * element per pair, and a new element starts whenever a key repeats in the current one, so
 * grouped keys-then-values pair up differently from interleaved ones.
 *
 * A key without `=` gives null (Rack's nil), which lookups treat as "not given".
 * Where Rack would raise on a type clash (`a=1&a[b]=2`) the later value simply wins.
 */
export type ParamValue = string | number | boolean | null | ParamValue[] | ParamHash;
export interface ParamHash {
  [key: string]: ParamValue;
}

export function isParamHash(value: unknown): value is ParamHash {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function newHash(): ParamHash {
  return Object.create(null) as ParamHash;
}

function decode(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** Parses a raw query string (without the `?`) into nested params. */
export function parseNestedQuery(query: string): ParamHash {
  const params = newHash();
  for (const part of query.split(/[&;]/)) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? null : decode(part.slice(eq + 1));
    normalize(params, name, value);
  }
  return params;
}

function hasKey(hash: ParamHash, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(hash, key);
}

function normalize(params: ParamHash, name: string, value: ParamValue): ParamHash {
  const match = /^[[\]]*([^[\]]+)\]*/.exec(name);
  const key = match?.[1] ?? '';
  if (key === '') return params;
  const after = name.slice(match?.[0].length ?? 0);

  if (after === '') {
    params[key] = value;
  } else if (after === '[]') {
    const list = Array.isArray(params[key]) ? (params[key] as ParamValue[]) : [];
    list.push(value);
    params[key] = list;
  } else if (after.startsWith('[]')) {
    const childMatch = /^\[\]\[([^[\]]+)\]$/.exec(after);
    const childKey = childMatch?.[1] ?? after.slice(2);
    const list = Array.isArray(params[key]) ? (params[key] as ParamValue[]) : [];
    const last = list[list.length - 1];
    if (isParamHash(last) && !hasKey(last, childKey.replace(/^\[/, '').split('[')[0] ?? childKey)) {
      normalize(last, childKey, value);
    } else {
      list.push(normalize(newHash(), childKey, value));
    }
    params[key] = list;
  } else {
    const child = isParamHash(params[key]) ? (params[key] as ParamHash) : newHash();
    params[key] = normalize(child, after, value);
  }
  return params;
}

/** Apia merges a JSON body over the query params; the body wins on collisions. */
export function deepMerge(base: ParamHash, over: ParamHash): ParamHash {
  const out = newHash();
  for (const [k, v] of Object.entries(base)) out[k] = v;
  for (const [k, v] of Object.entries(over)) {
    const current = out[k];
    out[k] = isParamHash(current) && isParamHash(v) ? deepMerge(current, v) : v;
  }
  return out;
}
