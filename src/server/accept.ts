/**
 * Content negotiation on the Accept header (RFC 9110 §12.5.1), for what yoga does not do:
 * yoga takes media types in the order they are listed and ignores quality values, so `q=0`
 * ("not this one") and a lower `q` listed first would still choose a type.
 */

/** The media types yoga answers in, in the order it serves them when the client's preferences tie (a bare wildcard gets JSON). */
const ANSWER_TYPES = ['application/json', 'application/graphql-response+json', 'multipart/mixed', 'text/event-stream'] as const;

/** RFC 9110's qvalue: 0 to 1 with at most three decimals (for Accept and Accept-Encoding alike). */
export const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  /** Where the range stands in the header: of equal preferences, the one listed first wins. */
  index: number;
}

function parseRanges(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  accept.split(',').forEach((entry, index) => {
    const [range, ...params] = entry.split(';');
    const [type, subtype] = (range ?? '').trim().toLowerCase().split('/');
    if (!type || !subtype) return;
    let q = 1;
    let usable = true;
    for (const param of params) {
      const [name, value] = param.split('=').map((part) => part.trim().toLowerCase());
      // A malformed weight counts as none given (1), as lenient servers read it. Clamping it into
      // 0 to 1 instead would make `q=-1` or `q=0.0000` refuse a type the client never refused.
      if (name === 'q' && value !== undefined && QVALUE.test(value)) q = Number(value);
      // yoga writes UTF-8 only (as it reads the header).
      if (name === 'charset' && value && value.replace(/"/g, '') !== 'utf-8') usable = false;
    }
    if (usable) ranges.push({ type, subtype, q, index });
  });
  return ranges;
}

/**
 * The range that says how much `mediaType` is wanted: the most specific that matches it (a
 * full type over `type/*` over `*\/*`), the first listed of equal ones. `wildcards: false`
 * counts `*\/*` out, for a type a client must name to get (an HTML page).
 */
function rangeFor(ranges: readonly MediaRange[], mediaType: string, wildcards = true): { range: MediaRange; specificity: number } | undefined {
  const [type, subtype] = mediaType.split('/');
  let best: { range: MediaRange; specificity: number } | undefined;
  for (const range of ranges) {
    const specificity = range.type === type && range.subtype === subtype ? 2 : range.type === type && range.subtype === '*' ? 1 : range.type === '*' && range.subtype === '*' && wildcards ? 0 : -1;
    if (specificity > (best?.specificity ?? -1)) best = { range, specificity };
  }
  return best;
}

/**
 * Whether yoga could misread this header: it has weights, parameters or wildcards. A plain list
 * of types is read alike by yoga and by this module, and is passed as it is.
 */
export function needsNegotiation(accept: string): boolean {
  return accept.includes(';') || accept.includes('*');
}

/**
 * An Accept header rewritten for yoga: the types yoga answers in that the client takes (`q` > 0,
 * each weighed by its most specific range), most preferred first; of equal weights, the type the
 * client named over one a wildcard stands for, then the one listed first. '' when the client
 * takes none of them.
 */
export function acceptByPreference(accept: string): string {
  const ranges = parseRanges(accept);
  return ANSWER_TYPES.map((mediaType, order) => ({ mediaType, order, match: rangeFor(ranges, mediaType) }))
    .filter((entry) => (entry.match?.range.q ?? 0) > 0)
    .sort((a, b) => b.match!.range.q - a.match!.range.q || b.match!.specificity - a.match!.specificity || a.match!.range.index - b.match!.range.index || a.order - b.order)
    .map((entry) => entry.mediaType)
    .join(', ');
}

/** The Accept header as yoga is to read it: rewritten by `acceptByPreference` when yoga could misread it, else as sent. */
export function acceptForYoga(accept: string): string {
  return needsNegotiation(accept) ? acceptByPreference(accept) : accept;
}

/** Whether the client asks for an HTML page: it names text/html (or text/*) and does not refuse it. */
export function acceptsHtml(accept: string | null): boolean {
  if (!accept || !accept.toLowerCase().includes('text/')) return false;
  return (rangeFor(parseRanges(accept), 'text/html', false)?.range.q ?? 0) > 0;
}
