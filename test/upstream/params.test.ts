import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { annotationParams, canonicalQuery, canonicalUrl, encodeQuery, lookupParams, pageParams } from '../../src/upstream/params.js';
import { parseNestedQuery } from '../../src/simulator/query.js';

/**
 * Katapult's query-string conventions: bracketed lookups sent percent-encoded, annotation
 * filters as interleaved key/value pairs, and a canonical form for cache keys that sorts
 * scalar parameters but never reorders the pairs of an array of sets.
 */

describe('query parameters', () => {
  it('names lookups with brackets, percent-encoded as Katapult’s clients send them', () => {
    expect(encodeQuery(lookupParams('organization', { sub_domain: 'acme' }))).toBe('organization%5Bsub_domain%5D=acme');
    expect(encodeQuery(lookupParams('virtual_machine', { fqdn: 'web-001.acme.katapult.cloud' }))).toBe('virtual_machine%5Bfqdn%5D=web-001.acme.katapult.cloud');
    // Unset members are left out, so a lookup never becomes ambiguous by accident.
    expect(lookupParams('organization', { id: 'org_1', sub_domain: undefined })).toEqual([['organization[id]', 'org_1']]);
    expect(lookupParams('organization', { id: null, sub_domain: 'acme' })).toEqual([['organization[sub_domain]', 'acme']]);
  });

  it('sends annotation filters as interleaved pairs, keys without a value alone and last', () => {
    const pairs = annotationParams([{ key: 'env', value: 'prod' }, { key: 'team' }, { key: 'tier', value: 'gold' }]);
    expect(pairs).toEqual([
      ['annotations[][key]', 'env'],
      ['annotations[][value]', 'prod'],
      ['annotations[][key]', 'tier'],
      ['annotations[][value]', 'gold'],
      ['annotations[][key]', 'team'],
    ]);
    expect(encodeQuery(pairs)).toBe(
      'annotations%5B%5D%5Bkey%5D=env&annotations%5B%5D%5Bvalue%5D=prod&annotations%5B%5D%5Bkey%5D=tier&annotations%5B%5D%5Bvalue%5D=gold&annotations%5B%5D%5Bkey%5D=team',
    );
  });

  it('encodes awkward values so they arrive intact', () => {
    const value = 'a&b=c [d] +e/ü';
    const query = encodeQuery([['organization[sub_domain]', value]]);
    expect(query).not.toMatch(/[[\] &+]/);
    expect(parseNestedQuery(query)).toEqual({ organization: { sub_domain: value } });
  });

  const filter = fc.record({ key: fc.string({ minLength: 1, maxLength: 8 }), value: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }) });
  const byKeyAndValue = (a: { key: unknown; value: unknown }, b: { key: unknown; value: unknown }) => JSON.stringify([a.key, a.value]).localeCompare(JSON.stringify([b.key, b.value]));

  it('pairs every filter correctly when parsed the way Katapult (Rack) parses it', () => {
    fc.assert(
      fc.property(fc.array(filter, { maxLength: 6 }), (filters) => {
        const parsed = parseNestedQuery(encodeQuery([...lookupParams('organization', { sub_domain: 'acme' }), ...annotationParams(filters)]));
        const annotations = (parsed.annotations ?? []) as Array<Record<string, unknown>>;
        expect(annotations.map((a) => ({ key: a.key, value: a.value ?? undefined })).sort(byKeyAndValue)).toEqual(filters.map((f) => ({ key: f.key, value: f.value })).sort(byKeyAndValue));
      }),
    );
  });

  it('pairs every filter correctly for a server that pairs the key and value lists by position', () => {
    fc.assert(
      fc.property(fc.array(filter, { maxLength: 6 }), (filters) => {
        const pairs = annotationParams(filters);
        const keys = pairs.filter(([name]) => name === 'annotations[][key]').map(([, value]) => value);
        const values = pairs.filter(([name]) => name === 'annotations[][value]').map(([, value]) => value);
        const paired = keys.map((key, i) => ({ key, value: values[i] }));
        expect(paired.sort(byKeyAndValue)).toEqual(filters.map((f) => ({ key: f.key, value: f.value ?? undefined })).sort(byKeyAndValue));
      }),
    );
  });

  it('pages with page and per_page', () => {
    expect(pageParams(3, 200)).toEqual([
      ['page', '3'],
      ['per_page', '200'],
    ]);
  });
});

describe('canonical query (cache keys)', () => {
  const scalar = fc.tuple(fc.constantFrom('page', 'per_page', 'organization[id]', 'organization[sub_domain]', 'zone[permalink]'), fc.string({ maxLength: 6 }));
  const annotation = fc.tuple(fc.constantFrom('annotations[][key]', 'annotations[][value]'), fc.string({ maxLength: 6 }));

  it('sorts scalars so their order does not matter', () => {
    fc.assert(
      fc.property(fc.uniqueArray(scalar, { selector: ([name]) => name, maxLength: 5 }), fc.array(annotation, { maxLength: 6 }), fc.nat(), (scalars, sets, seed) => {
        const shuffled = [...scalars].sort((a, b) => ((a[0].length * 31 + seed) % 7) - ((b[0].length * 31 + seed) % 7));
        expect(canonicalQuery([...scalars, ...sets])).toBe(canonicalQuery([...sets, ...shuffled]));
      }),
    );
  });

  it('keeps annotation pairs together and in order, after the scalars', () => {
    const params = [
      ['per_page', '200'],
      ['annotations[][key]', 'team'],
      ['annotations[][value]', 'web'],
      ['page', '1'],
      ['annotations[][key]', 'env'],
      ['annotations[][value]', 'prod'],
      ['organization[sub_domain]', 'acme'],
    ] as const;
    expect(canonicalQuery(params)).toBe(
      'organization%5Bsub_domain%5D=acme&page=1&per_page=200&annotations%5B%5D%5Bkey%5D=team&annotations%5B%5D%5Bvalue%5D=web&annotations%5B%5D%5Bkey%5D=env&annotations%5B%5D%5Bvalue%5D=prod',
    );
  });

  it('tells different filter pairings apart (they select different VMs)', () => {
    const a = annotationParams([{ key: 'env', value: 'prod' }, { key: 'team', value: 'web' }]);
    const b = annotationParams([{ key: 'env', value: 'web' }, { key: 'team', value: 'prod' }]);
    expect(canonicalQuery(a)).not.toBe(canonicalQuery(b));
  });

  it('leaves a path without parameters alone', () => {
    expect(canonicalUrl('/data_centers', [])).toBe('/data_centers');
    expect(canonicalUrl('/countries', pageParams(1, 200))).toBe('/countries?page=1&per_page=200');
  });
});
