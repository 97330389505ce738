import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acceptByPreference, acceptsHtml } from '../../src/server/accept.js';
import { MIN_COMPRESS_BYTES, negotiateEncoding } from '../../src/server/compression.js';

/*
 * An independent reading of RFC 9110 §12.5.1 (Accept) and §12.5.3 (Accept-Encoding), narrowed to
 * the choices the gateway makes, checked against the code on random headers. Fixed seeds keep a
 * failure reproducible in CI.
 */

const RUNS = { seed: 9110, numRuns: 3000 };

// RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const isOws = (c: string) => c === ' ' || c === '\t';
function stripOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isOws(s[start]!)) start++;
  while (end > start && isOws(s[end - 1]!)) end--;
  return s.slice(start, end);
}

interface ModelMember {
  name: string;
  params: [string, string][];
}

/** A comma list of `name *( OWS ";" OWS param )`; members that do not parse are dropped, with their place kept. */
function members(header: string): (ModelMember | null)[] {
  return header.split(',').map((raw) => {
    const pieces = raw.split(';').map(stripOws);
    const name = pieces[0]!.toLowerCase();
    if (name === '') return null;
    const params: [string, string][] = [];
    for (const piece of pieces.slice(1)) {
      const eq = piece.indexOf('=');
      // A parameter without a value (`;q`): as a weight, not a valid qvalue.
      if (eq < 0) params.push([piece.toLowerCase(), '']);
      else params.push([stripOws(piece.slice(0, eq)).toLowerCase(), stripOws(piece.slice(eq + 1)).toLowerCase()]);
    }
    return { name, params };
  });
}

// --- Accept -----------------------------------------------------------------------------------

const ANSWER_TYPES = ['application/json', 'application/graphql-response+json', 'multipart/mixed', 'text/event-stream'];

interface ModelRange {
  type: string;
  subtype: string;
  q: number;
  index: number;
}

function modelRanges(accept: string): ModelRange[] {
  const ranges: ModelRange[] = [];
  members(accept).forEach((member, index) => {
    if (!member) return;
    // Leniency the RFC does not grant but that harms no one: `application/json/x` reads as
    // application/json (the code ignores a second slash and what follows it).
    const slash = member.name.split('/').slice(0, 2);
    if (slash.length !== 2 || !TOKEN.test(slash[0]!) || !TOKEN.test(slash[1]!)) return;
    const [type, subtype] = slash as [string, string];
    // `*/json` is no media range.
    if (type === '*' && subtype !== '*') return;
    let q = 1;
    let usable = true;
    for (const [name, value] of member.params) {
      // The accept module's comment: a malformed weight counts as none given, so a valid one still says.
      if (name === 'q' && QVALUE.test(value)) q = Number(value);
      if (name === 'charset' && value.replace(/"/g, '') !== 'utf-8') usable = false;
    }
    if (usable) ranges.push({ type, subtype, q, index });
  });
  return ranges;
}

/** The range that weighs `mediaType`: exact over `type/*` over `*\/*`, the first listed of equal ones. */
function modelMatch(ranges: ModelRange[], mediaType: string, wildcards: boolean) {
  const [type, subtype] = mediaType.split('/');
  const exact = ranges.find((r) => r.type === type && r.subtype === subtype);
  if (exact) return { range: exact, specificity: 2 };
  const sub = ranges.find((r) => r.type === type && r.subtype === '*');
  if (sub) return { range: sub, specificity: 1 };
  const any = wildcards ? ranges.find((r) => r.type === '*' && r.subtype === '*') : undefined;
  return any ? { range: any, specificity: 0 } : undefined;
}

function modelAcceptByPreference(accept: string): string {
  const ranges = modelRanges(accept);
  const taken = ANSWER_TYPES.flatMap((mediaType, order) => {
    const match = modelMatch(ranges, mediaType, true);
    return match && match.range.q > 0 ? [{ mediaType, order, ...match }] : [];
  });
  // Weight first; then a named type over a wildcard's, then the first listed, then yoga's own order.
  const key = (e: (typeof taken)[number]) => [-e.range.q, -e.specificity, e.range.index, e.order];
  taken.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return 0;
  });
  return taken.map((e) => e.mediaType).join(', ');
}

function modelAcceptsHtml(accept: string): boolean {
  return (modelMatch(modelRanges(accept), 'text/html', false)?.range.q ?? 0) > 0;
}

// --- Accept-Encoding --------------------------------------------------------------------------

function modelNegotiateEncoding(header: string): { encoding: 'br' | 'gzip' | null; minBytes: number } {
  const weights = new Map<string, number>();
  for (const member of members(header)) {
    if (!member || !TOKEN.test(member.name)) continue;
    let q: number | null = 1;
    for (const [name, value] of member.params) if (name === 'q') q = QVALUE.test(value) ? Number(value) : null;
    // An invalid weight drops its member (compression.ts); a repeated coding: the last one says.
    if (q !== null) weights.set(member.name, q);
  }
  // §12.5.3: `*` is every coding not listed; identity is acceptable unless refused.
  const weight = (coding: string) => weights.get(coding) ?? weights.get('*') ?? (coding === 'identity' ? 1 : 0);
  const br = weight('br');
  const gzip = weight('gzip');
  // The higher weight; brotli on a tie (smaller JSON).
  const encoding = br > 0 && br >= gzip ? 'br' : gzip > 0 ? 'gzip' : null;
  return { encoding, minBytes: encoding !== null && weight('identity') === 0 ? 0 : MIN_COMPRESS_BYTES };
}

// --- Headers ----------------------------------------------------------------------------------

const ows = fc.constantFrom('', '', ' ', '  ', '\t', ' \t');
const randomCase = (s: string) => fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
const validQ = fc.oneof(
  fc.constantFrom('0', '1', '0.0', '0.000', '1.0', '1.000', '0.001', '0.5', '0.999', '0.8', '0.80'),
  fc.integer({ min: 0, max: 1000 }).map((n) => (n === 1000 ? '1.000' : `0.${String(n).padStart(3, '0')}`)),
);
const junkQ = fc.constantFrom('', '-1', '-0.5', '1.5', '5', '1e-3', '.5', '0.0001', '0.0000', '1.0001', 'abc', '0x1', 'Infinity', 'NaN', '"0.5"', '0.5 0.1', '١', '0,5');
const weightParam = fc.tuple(ows, fc.constantFrom('q', 'Q'), fc.oneof({ weight: 4, arbitrary: validQ }, { weight: 1, arbitrary: junkQ }), ows).map(([a, name, value, b]) => `${a};${b}${name}=${value}`);
const charsetParam = fc.tuple(ows, randomCase('charset'), fc.constantFrom('utf-8', 'UTF-8', '"utf-8"', 'iso-8859-1', 'utf8')).map(([a, name, value]) => `${a};${name}=${value}`);
const otherParam = fc.constantFrom(';level=1', '; foo=bar', ';q', ';=', '; ;', ';version=2');

const mediaRange = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ANSWER_TYPES, 'application/*', 'text/*', 'multipart/*', '*/*', 'text/html', 'application/xml', 'image/png').chain(randomCase) },
  { weight: 1, arbitrary: fc.constantFrom('application', 'json', '*', '*/json', 'application/json/x', 'application/ json', '/', 'application/', '/json', 'text /html', 'garbage!', '"application/json"', 'ÄPPLICATION/JSON', 'a'.repeat(300)) },
);
const acceptMember = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(ows, mediaRange, fc.array(fc.oneof({ weight: 4, arbitrary: weightParam }, charsetParam, otherParam), { maxLength: 3 }), ows).map(([a, r, ps, b]) => `${a}${r}${ps.join('')}${b}`) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', ';q=0', 'q=1', '\u0000', '🙂/🙂') },
);
const acceptHeader = fc.oneof(
  { weight: 6, arbitrary: fc.array(acceptMember, { maxLength: 8 }).map((ms) => ms.join(',')) },
  // Long lists, with duplicates of the same few members.
  { weight: 1, arbitrary: fc.array(acceptMember, { minLength: 1, maxLength: 4 }).chain((pool) => fc.array(fc.constantFrom(...pool), { minLength: 50, maxLength: 400 })).map((ms) => ms.join(',')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
);

const coding = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('br', 'gzip', 'identity', '*', 'deflate', 'compress', 'zstd').chain(randomCase) },
  { weight: 1, arbitrary: fc.constantFrom('x-gzip', 'b r', '"br"', 'br/1', 'gzip!', 'ﬁ', 'b'.repeat(300)) },
);
const encodingMember = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(ows, coding, fc.array(fc.oneof({ weight: 4, arbitrary: weightParam }, otherParam), { maxLength: 2 }), ows).map(([a, c, ps, b]) => `${a}${c}${ps.join('')}${b}`) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', ';q=0', 'q=1', '\u0000') },
);
const encodingHeader = fc.oneof(
  { weight: 6, arbitrary: fc.array(encodingMember, { maxLength: 8 }).map((ms) => ms.join(',')) },
  { weight: 1, arbitrary: fc.array(encodingMember, { minLength: 1, maxLength: 4 }).chain((pool) => fc.array(fc.constantFrom(...pool), { minLength: 50, maxLength: 400 })).map((ms) => ms.join(',')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
);

describe('content negotiation against an RFC 9110 model', () => {
  it('orders the types yoga answers in as the model does, and never throws', () => {
    fc.assert(
      fc.property(acceptHeader, (accept) => {
        expect(acceptByPreference(accept)).toBe(modelAcceptByPreference(accept));
        expect(acceptsHtml(accept)).toBe(modelAcceptsHtml(accept));
      }),
      RUNS,
    );
  });

  it('chooses the content coding and the compression threshold as the model does, and never throws', () => {
    fc.assert(
      fc.property(encodingHeader, (header) => {
        expect(negotiateEncoding(header)).toEqual(modelNegotiateEncoding(header));
      }),
      RUNS,
    );
  });
});
