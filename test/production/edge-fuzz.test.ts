import { createHash, randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS, type Simulator } from '../../src/simulator/index.js';
import { startGateway, type TestGateway } from './gateway.js';

/**
 * Adversarial requests at the HTTP edge, generated with a fixed seed and sent over raw sockets
 * (so that anything can be sent: odd methods, header bytes, framing): whatever arrives, the
 * answer is data or a coded error (never a 500, a stack, an internal path, a body that is not
 * JSON, or silence), and the server keeps answering. Requests are mostly what a client sends
 * with a few things made odd, so that they get past the first check to the ones behind it:
 * documents of the schema with odd arguments and variables, real cursors and ids, tampered ones.
 */

const SEED = 20260101;
/** No inbound limit (the properties send hundreds of requests), short receive limits, and fixed secrets so that cursors are the same in every run. */
const FIXED_ENV = {
  INBOUND_RATE_LIMIT_PER_MINUTE: '0',
  REQUEST_RECEIVE_TIMEOUT_MS: '2000',
  LIMIT_BODY_BYTES: '65536',
  CURSOR_SECRET: 'edge-fuzz-cursor-secret-0123456789abcdef',
  CACHE_KEY_SECRET: 'edge-fuzz-cache-key-secret-0123456789ab',
};
/** Longer than any answer takes here: a request unanswered by then counts as a hang. */
const ANSWER_WITHIN_MS = 5_000;

interface Exchange {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

/** Splits a chunked body; null while incomplete. */
function dechunk(bytes: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size)) throw new Error(`bad chunk size in answer: ${bytes.subarray(at, lineEnd).toString('latin1')}`);
    if (size === 0) return Buffer.concat(parts);
    if (bytes.length < lineEnd + 2 + size + 2) return null;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** One answer out of the bytes received so far: null while incomplete (or only 1xx so far). */
function parseAnswer(bytes: Buffer, method: string, closed: boolean): Exchange | null {
  let start = 0;
  for (;;) {
    const end = bytes.indexOf('\r\n\r\n', start);
    if (end < 0) return null;
    const head = bytes.subarray(start, end).toString('latin1').split('\r\n');
    const status = Number(head[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const rest = bytes.subarray(end + 4);
    if (status >= 100 && status < 200) {
      start = end + 4;
      continue;
    }
    let body: Buffer | null;
    if (method === 'HEAD' || status === 204 || status === 304) body = Buffer.alloc(0);
    else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) body = dechunk(rest);
    else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      body = rest.length >= length ? rest.subarray(0, length) : null;
    } else body = closed ? rest : null;
    if (body === null) return null;
    const encoding = headers['content-encoding'];
    if (body.length > 0 && encoding === 'gzip') body = gunzipSync(body);
    else if (body.length > 0 && encoding === 'br') body = brotliDecompressSync(body);
    else if (body.length > 0 && encoding === 'deflate') body = inflateSync(body);
    return { status, headers, body, text: body.toString('utf8') };
  }
}

/**
 * Sends `bytes` as they are on a fresh connection and reads one answer. A connection closed
 * with no answer is reported as status 0; no answer in time, as a hang.
 */
function exchange(port: number, bytes: Buffer, method: string): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      let answer: Exchange | null;
      try {
        answer = parseAnswer(received, method, closed);
      } catch (error) {
        settled = true;
        socket.destroy();
        reject(error as Error);
        return;
      }
      if (answer) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(answer);
      } else if (closed) {
        settled = true;
        clearTimeout(timer);
        resolve({ status: 0, headers: {}, body: received, text: received.toString('utf8') });
      }
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new Error(`no answer within ${ANSWER_WITHIN_MS} ms (received ${received.length} bytes: ${received.toString('latin1').slice(0, 200)})`));
    }, ANSWER_WITHIN_MS);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    // The server may refuse before reading everything sent (a 413, a 405): what it answered counts.
    socket.on('error', () => finish(true));
    socket.write(bytes);
  });
}

interface FuzzRequest {
  method: string;
  target: string;
  /** Header lines as sent (name, value), values as raw bytes when a Buffer. */
  headers: Array<[string, string | Buffer]>;
  body?: Buffer;
  /** Frame the body as chunked instead of with Content-Length. */
  chunked?: boolean;
}

function encodeRequest(request: FuzzRequest): Buffer {
  const parts: Buffer[] = [Buffer.from(`${request.method} ${request.target} HTTP/1.1\r\nhost: gateway\r\nconnection: close\r\n`, 'latin1')];
  for (const [name, value] of request.headers) parts.push(Buffer.from(`${name}: `, 'latin1'), typeof value === 'string' ? Buffer.from(value, 'utf8') : value, Buffer.from('\r\n'));
  if (request.body !== undefined) {
    if (request.chunked) {
      parts.push(Buffer.from('transfer-encoding: chunked\r\n\r\n'));
      if (request.body.length > 0) parts.push(Buffer.from(`${request.body.length.toString(16)}\r\n`), request.body, Buffer.from('\r\n'));
      parts.push(Buffer.from('0\r\n\r\n'));
    } else {
      parts.push(Buffer.from(`content-length: ${request.body.length}\r\n\r\n`), request.body);
    }
  } else parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** What no answer may contain: stack frames and paths inside the server. */
const LEAKS = [/\bat [\w$.<>[\] ]+ \((?:file:|\/|node:)/, /\n\s+at /, /\/src\//, /node_modules/, /\.ts:\d+/, /\bfile:\/\//];

/** The contract's checks on one answer to `request`; returns the failure, or null. */
function violation(request: FuzzRequest, answer: Exchange): string | null {
  if (answer.status === 0) {
    // Closing without an answer is only right after an answer the request already had (a
    // refusal made before its body arrived) – which a fresh connection never has.
    return 'the connection closed without an answer';
  }
  if (answer.status >= 500) {
    const upstreamFault = [502, 503, 504].includes(answer.status);
    if (!upstreamFault) return `HTTP ${answer.status}`;
  }
  const type = answer.headers['content-type'] ?? '';
  // The GraphiQL page bundles third-party code whose build left its own relative paths in comments.
  const leaks = type.startsWith('text/html') ? [new RegExp(process.cwd().replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))] : LEAKS;
  for (const leak of leaks) if (leak.test(answer.text)) return `the body leaks ${leak}: ${answer.text.slice(0, 300)}`;
  const bodiless = request.method === 'HEAD' || answer.status === 204 || answer.status === 304;
  if (bodiless) return null;
  if (type.startsWith('text/html')) {
    // The GraphiQL page, only ever as a 200 to a GET (or HEAD) on /graphql.
    return answer.status === 200 && request.method === 'GET' && request.target.split('?')[0] === '/graphql' ? null : `an HTML body with HTTP ${answer.status}`;
  }
  if (type.startsWith('text/event-stream') || type.startsWith('multipart/mixed')) return null;
  if (type.startsWith('text/plain') && request.target.startsWith('/metrics')) return null;
  let json: { errors?: Array<{ extensions?: { code?: unknown } }> } | null;
  try {
    json = JSON.parse(answer.text) as typeof json;
  } catch {
    return `HTTP ${answer.status} with a body that is not JSON (${type}): ${answer.text.slice(0, 200)}`;
  }
  const codes = Array.isArray(json?.errors) ? json.errors.map((e) => e?.extensions?.code) : [];
  if (codes.includes('INTERNAL_SERVER_ERROR')) return `INTERNAL_SERVER_ERROR: ${answer.text.slice(0, 300)}`;
  // Readiness says what is wrong in a shape of its own; every other refusal is a coded error.
  if (answer.status >= 400 && !(request.target.startsWith('/ready') && answer.status === 503)) {
    if (codes.length === 0 || codes.some((c) => typeof c !== 'string')) return `HTTP ${answer.status} without errors[].extensions.code: ${answer.text.slice(0, 200)}`;
  }
  return null;
}

// ---- Generators ----------------------------------------------------------------------

const TOKENS = [DEMO_TOKENS.globex, DEMO_TOKENS.user, DEMO_TOKENS.noVmScope, DEMO_TOKENS.suspended, 'kp_load_fuzz', 'kp_unknown_token'];

const oneOf = <T>(...values: T[]) => fc.constantFrom(...values);
/** `arbitrary` once in `1 + rarity` draws, else `otherwise`. */
const sometimes = <T, U>(arbitrary: fc.Arbitrary<T>, otherwise: U, rarity = 3): fc.Arbitrary<T | U> =>
  fc.oneof({ weight: rarity, arbitrary: fc.constant(otherwise) }, { weight: 1, arbitrary });
/** Values of any types, for members that should hold one type and get another. */
const values = (...choices: unknown[]): fc.Arbitrary<unknown> => fc.constantFrom(...choices);

const weirdString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  oneOf('', ' ', '\u0000', '\ud800', '\udfff', 'é', '💥', '"', '\\', '%', '%zz', 'a'.repeat(600), '\u2028', 'null', 'undefined', '__proto__', 'constructor'),
);

const idValue = fc.oneof(
  fc.tuple(oneOf('vm_', 'org_', 'zone_', 'dc_', 'loc_', 'ctry_', 'gput_', 'vmpkg_', 'vmpkgrp_', 'ip_', 'apitoken_', '', 'VM_', 'org-'), weirdString).map(([p, s]) => p + s),
  oneOf('vm_', 'org_', 'org_globex', 'zone_x', 'dc_', 'loc_x', 'ctry_x', `vm_${'9'.repeat(400)}`, 'org_../../users/current', 'org_%2F..%2Fx', 'org_?x=1', 'vm_ ', 'vm_\n'),
);

const cursorValue = fc.oneof(
  weirdString,
  fc.base64String({ maxLength: 40 }),
  fc.tuple(fc.base64String({ maxLength: 24 }), fc.base64String({ maxLength: 16 })).map(([a, b]) => `${a}.${b}`),
  oneOf('.', 'WzAsInZtXyJd.AAAAAAAAAAAAAAAA', 'W1swXSwiIl0.aaaaaaaaaaaaaaaa', Buffer.from('[-1,"x"]').toString('base64url') + '.AAAAAAAAAAAAAAAA'),
);

const graphqlString = (s: string) => JSON.stringify(s);

/** Like encodeURIComponent, but a lone surrogate is sent (as U+FFFD's bytes) rather than thrown on. */
const percentEncode = (s: string) => Array.from(Buffer.from(s, 'utf8'), (b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

/** A literal of any type, valid for the argument or not. */
const literal: fc.Arbitrary<string> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer().map(String),
    oneOf('-1', '0', '1', '101', '1000000', '2147483647', '2147483648', '-2147483649', '99999999999999999999999', '1.5', '1e3', '-0', '0.0', 'NaN', 'true', 'false', 'null', 'FOO', 'PUBLIC', '""'),
    weirdString.map(graphqlString),
    idValue.map(graphqlString),
    cursorValue.map(graphqlString),
    fc.constant('"""block\nstring"""'),
    fc.constant('$v'),
    fc.array(tie('value') as fc.Arbitrary<string>, { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
    fc
      .array(fc.tuple(oneOf('id', 'subDomain', 'key', 'value', 'x'), tie('value') as fc.Arbitrary<string>), { maxLength: 3 })
      .map((members) => `{${members.map(([k, v]) => `${k}: ${v}`).join(', ')}}`),
  ),
})).value;

/**
 * Real positions and ids, read from the gateway before the properties run: cursors other
 * connections issued, tampered ones, and ids of each kind, so that arguments get past their
 * syntax to the checks behind it.
 */
interface Known {
  cursors: string[];
  ids: string[];
}

/**
 * An argument slot: a literal written into the document, or a variable of `type` whose value
 * travels in `variables`. Variables are named once the whole document is known.
 */
type Slot = { literal: string } | { type: string; value: unknown };

const lit = (literal: string): Slot => ({ literal });

/** Mostly the slot's own type with odd values, sometimes a literal of any type. */
function slot(literals: fc.Arbitrary<string>, types: string[], variableValues: fc.Arbitrary<unknown>): fc.Arbitrary<Slot> {
  return fc.oneof(
    { weight: 6, arbitrary: literals.map(lit) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...types), variableValues).map(([type, value]): Slot => ({ type, value })) },
    { weight: 1, arbitrary: literal.map(lit) },
  );
}

const ODD_INTS = [-1, 0, 1, 2, 20, 100, 101, 200, 1000, 2 ** 31 - 1, -(2 ** 31)];
const intSlot = slot(
  fc.oneof(fc.integer({ min: 0, max: 30 }), oneOf(...ODD_INTS)).map(String),
  ['Int', 'Int', 'Int!', 'Int!', 'Int', 'Float'],
  fc.oneof({ weight: 4, arbitrary: fc.oneof(fc.integer({ min: -2, max: 120 }), oneOf(...ODD_INTS)) }, { weight: 1, arbitrary: values(2 ** 31, -(2 ** 31) - 1, 1e21, 1.5, -0, '5', null, true, [1], { n: 1 }, Number.MAX_SAFE_INTEGER) }),
);
const boolSlot = slot(oneOf('true', 'false'), ['Boolean!', 'Boolean!', 'Boolean!', 'Boolean'], fc.oneof(fc.boolean(), values(null, 'true', 0, 1)));

function slots(known: Known) {
  const cursor = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...known.cursors) }, { weight: 2, arbitrary: cursorValue });
  const id = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...known.ids) }, { weight: 2, arbitrary: idValue });
  return {
    cursor: slot(fc.oneof(cursor.map(graphqlString), fc.constant('null')), ['String', 'String', 'String!', 'String', 'ID'], fc.oneof({ weight: 4, arbitrary: cursor }, { weight: 1, arbitrary: values(null, 5, [], {}) })),
    id: slot(fc.oneof(id.map(graphqlString), fc.integer().map(String)), ['ID!', 'ID!', 'ID!', 'ID!', 'String'], fc.oneof({ weight: 4, arbitrary: id }, { weight: 1, arbitrary: values(null, 5, 1.5, [], {}, true) })),
    ids: slot(
      fc.array(id.map(graphqlString), { maxLength: 6 }).map((items) => `[${items.join(', ')}]`),
      ['[ID!]!', '[ID!]!', '[ID!]!', '[ID!]!', '[ID!]', 'ID!'],
      fc.oneof({ weight: 4, arbitrary: fc.array(id, { maxLength: 6 }) }, { weight: 1, arbitrary: values(null, [null], 'vm_x', Array.from({ length: 101 }, (_, i) => `vm_${i}`), [5]) }),
    ),
    subDomain: slot(fc.oneof(oneOf('"globex"', '"acme"', '"initech"', '""'), weirdString.map(graphqlString)), ['String', 'String', 'String!'], fc.oneof(oneOf('globex', 'acme', ''), weirdString, oneOf(null, 1))),
    lookup: slot(
      fc.oneof(oneOf('{subDomain: "globex"}', '{id: "org_x"}', '{}', '{id: "org_x", subDomain: "globex"}', '{subDomain: null}'), fc.constant('null')),
      ['OrganizationLookup', 'OrganizationLookup', 'OrganizationLookup!'],
      fc.oneof(values({ subDomain: 'globex' }, { id: 'org_x' }, {}, { id: 'org_x', subDomain: 'globex' }, { subDomain: null }, { nope: 1 }, null, 'globex'), fc.record({ id: id }, { requiredKeys: [] })),
    ),
    annotations: slot(
      oneOf('[]', '[{key: "env"}]', '[{key: "env", value: "prod"}]', '[{key: ""}]', `[${Array.from({ length: 21 }, () => '{key: "k"}').join(', ')}]`, 'null', '{key: "env"}'),
      ['[AnnotationFilter!]', '[AnnotationFilter!]', '[AnnotationFilter!]!', '[AnnotationFilter]'],
      fc.oneof(fc.array(fc.record({ key: weirdString, value: fc.option(weirdString, { nil: undefined }) }, { requiredKeys: ['key'] }), { maxLength: 3 }), values([null], [{}], [{ key: null }], Array.from({ length: 25 }, () => ({ key: 'k' })), { key: 'env' })),
    ),
  };
}

/** A field text with slots in it: `\u0000n` marks slot n. */
interface Piece {
  text: string;
  slots: Slot[];
}

const piece = (parts: Array<string | Slot>): Piece => {
  const out: Piece = { text: '', slots: [] };
  for (const part of parts) {
    if (typeof part === 'string') out.text += part;
    else {
      out.text += `\u0000${out.slots.length}\u0000`;
      out.slots.push(part);
    }
  }
  return out;
};

/** `(name: slot, …)` for the slots given; each is left out half of the time. */
const argList = (entries: Array<[string, fc.Arbitrary<Slot>]>) =>
  fc.tuple(...entries.map(([name, arb]) => fc.option(arb.map((s) => [name, s] as [string, Slot]), { nil: undefined, freq: 2 }))).map((chosen) => {
    const given = chosen.filter((c): c is [string, Slot] => c !== undefined);
    if (given.length === 0) return [] as Array<string | Slot>;
    const parts: Array<string | Slot> = ['('];
    given.forEach(([name, s], i) => parts.push(`${i ? ', ' : ''}${name}: `, s));
    parts.push(')');
    return parts;
  });

const directiveParts = sometimes(
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(oneOf(' @skip', ' @include'), boolSlot).map(([d, b]): Array<string | Slot> => [`${d}(if: `, b, ')']) },
    { weight: 1, arbitrary: oneOf<Array<string | Slot>>([' @skip'], [' @include(if: "yes")'], [' @deprecated'], [' @nope'], [' @skip(if: true) @skip(if: false)']) },
  ),
  [] as Array<string | Slot>,
);

const VM_FIELDS = ['id name', 'id name state cpuCores memoryInGb', 'fqdn zone { name dataCenter { name } }', 'organization { name suspended }', 'package { name cpuCores privacy }', 'ipAddresses { address reverseDns addressWithMask }', 'annotations { key value } tagNames', 'gpuType { name memoryInGb }', 'hypervisor { name }', 'createdAt description'];
const PAGE = ' { edges { cursor node { id name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount }';

function rootFields(known: Known): fc.Arbitrary<Piece> {
  const s = slots(known);
  const page = argList([
    ['first', intSlot],
    ['last', intSlot],
    ['after', s.cursor],
    ['before', s.cursor],
  ]);
  return fc.oneof(
    fc.tuple(oneOf('countries', 'gpuTypes'), page, directiveParts).map(([f, a, d]) => piece([f, ...a, ...d, PAGE])),
    fc.tuple(s.id, directiveParts).map(([id, d]) => piece(['node(id: ', id, ')', ...d, ' { id __typename ... on VirtualMachine { name state } ... on Organization { name } ... on Zone { permalink } ... on VirtualMachinePackage { cpuCores } }'])),
    s.ids.map((ids) => piece(['nodes(ids: ', ids, ') { id __typename }'])),
    fc
      .tuple(argList([['id', s.id], ['subDomain', s.subDomain]]), argList([['first', intSlot], ['last', intSlot], ['after', s.cursor], ['before', s.cursor], ['annotations', s.annotations]]), fc.constantFrom(...VM_FIELDS), directiveParts)
      .map(([o, p, f, d]) => piece(['organization', ...o, ...d, ' { name virtualMachines', ...p, ` { edges { cursor node { ${f} } } pageInfo { endCursor hasNextPage } totalCount } virtualMachinePackages(first: 2) { edges { node { name } } } }`])),
    fc.tuple(argList([['id', s.id], ['fqdn', s.subDomain]]), fc.constantFrom(...VM_FIELDS)).map(([a, f]) => piece(['virtualMachine', ...a, ` { ${f} }`])),
    fc.tuple(argList([['first', intSlot], ['last', intSlot], ['after', s.cursor], ['before', s.cursor], ['organization', s.lookup]])).map(([a]) => piece(['virtualMachinePackages', ...a, ' { edges { cursor node { id name privacy group { name } icon { url } } } totalCount }'])),
    oneOf('zones { id name dataCenter { name country { isoCode2 eu } } }', 'dataCenters { id permalink zones { id } }', 'viewer { firstName organizations { name } }', 'organizations { id name suspended virtualMachines(first: 1) { totalCount } }', '__typename', '__schema { queryType { name } }', '__type(name: "Node") { name possibleTypes { name } }').map((text) => piece([text])),
  );
}

/** A document of one to three root fields, with its variables: mostly valid, with odd values in it. */
function typedDocument(known: Known): fc.Arbitrary<{ query: string; variables: Record<string, unknown> }> {
  return fc
    .tuple(oneOf('query', 'query Q', '', 'query Q'), fc.array(fc.tuple(fc.option(oneOf('a', 'b', 'c', 'a'), { nil: undefined, freq: 2 }), rootFields(known)), { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([head, fields, defaulted]) => {
      const declarations: string[] = [];
      const variables: Record<string, unknown> = {};
      const body = fields
        .map(([alias, field], i) => {
          const text = field.text.replace(/\u0000(\d+)\u0000/g, (_, n: string) => {
            const filled = field.slots[Number(n)]!;
            if ('literal' in filled) return filled.literal;
            const name = `v${declarations.length}`;
            // Now and then the first variable, when nullable, is left out of `variables` for its default.
            if (defaulted && declarations.length === 0 && !filled.type.endsWith('!')) declarations.push(`$${name}: ${filled.type} = null`);
            else {
              declarations.push(`$${name}: ${filled.type}`);
              variables[name] = filled.value;
            }
            return `$${name}`;
          });
          // Mostly an alias of its own; the same one twice, now and then, for graphql to refuse.
          return alias ? `${alias === 'a' ? `a${i}` : alias}: ${text}` : `f${i}: ${text}`;
        })
        .join(' ');
      const operation = declarations.length ? `${head || 'query'}(${declarations.join(', ')})` : head;
      return { query: `${operation} { ${body} }`, variables };
    });
}

/** Documents odd in their structure: fragments, operations, limits. */
const fragmentDocuments = oneOf(
  'query { ...A } fragment A on Query { zones { id } }',
  'query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }',
  'query { ...Missing }',
  'query { zones { ...Z } } fragment Z on Zone { id ... on Zone { name } ... { permalink } }',
  'query { node(id: "zone_x") { ...on Nope { id } } }',
  'query { node(id: "zone_x") { ...on Country { name } } }',
  'fragment A on Query { zones { id } }',
  'query A { zones { id } } query A { zones { id } }',
  'query A { zones { id } } query B { countries { totalCount } }',
  'query A { zones { id } } mutation B { zones { id } }',
  'mutation { zones { id } }',
  'subscription { zones { id } }',
  '{ a: zones { id } b: zones { id } }',
  '{ zones { id } zones { name } }',
  '{ zones { id: name } zones { id } }',
  'query ($v: Int) { zones { id } }',
  'query ($v: Int, $v: Int) { countries(first: $v) { totalCount } }',
  'query { countries(first: $undeclared) { totalCount } }',
  'query ($v: Nope) { zones { id } }',
  'query ($v: Zone) { zones { id } }',
  '{ __schema { types { name } } s: __schema { types { name } } }',
  '{ ...S } fragment S on Query { __schema { queryType { name } } } query Q { __schema { types { name } } }',
  `{ ${'zones { dataCenter { zones { '.repeat(10)}id${' } } }'.repeat(10)} }`,
  `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: __typename`).join(' ')} }`,
  `query { ${'countries(first: 100) { edges { node { id } } } '.repeat(5)} }`,
  `query { organizations { virtualMachines(first: 100) { edges { node { state ipAddresses { reverseDns } } } } } }`,
  `{ ${Array.from({ length: 8 }, (_, i) => `...F${i}`).join(' ')} } ${Array.from({ length: 8 }, (_, i) => `fragment F${i} on Query { ${i < 7 ? `...F${i + 1} ...F${i + 1}` : 'zones { id }'} }`).join(' ')}`,
  '{ organization(subDomain: "globex") { virtualMachines(last: 5) { edges { cursor } } } }',
  '{ organization(subDomain: "globex") { virtualMachines(first: 1, last: 1) { edges { cursor } } } }',
  '{ nodes(ids: []) { id } }',
  '{ node(id: "") { id } }',
  '{ __typename @skip(if: true) }',
  'query @skip(if: true) { zones { id } }',
  '{ zones @include(if: false) { id } }',
);

const TOKENS_OF_GRAPHQL = ['{', '}', '(', ')', '[', ']', ':', '!', '$', '@', '...', '=', '|', '&', 'query', 'fragment', 'on', 'mutation', 'zones', 'id', 'node', 'first', '1', '-1', '1.5e', '"', '"""', '"\\u"', '"\\ud800"', '#', '\n', ',', 'true', 'null', '\u0000', '\ufeff', '0x1', '.', '..', '&&'];
const tokenSoup = fc.array(fc.constantFrom(...TOKENS_OF_GRAPHQL), { maxLength: 30 }).map((tokens) => tokens.join(' '));

const document = fc.oneof({ weight: 3, arbitrary: fragmentDocuments }, { weight: 2, arbitrary: tokenSoup }, { weight: 1, arbitrary: weirdString });

/** A JSON value (as a JS value) for any member: often the right type, often not. */
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  values(null, 0, -1, 1.5, true, [], {}, '', 'null', '{}', '[]', { __proto__: null }, [null], { persistedQuery: null }),
);

const variablesValue = fc.oneof(
  fc.dictionary(oneOf('v', 'w', '__proto__', ''), anyJson, { maxKeys: 2 }),
  fc.record({ v: fc.oneof(anyJson, values(2 ** 31, -(2 ** 31) - 1, 1e308, 0.5, '5', [1], { id: 'org_x' }, { id: 'org_x', subDomain: 'globex' }, [{ key: 'a' }], [{ key: null }], Array.from({ length: 30 }, () => ({ key: 'k' })))) }),
  anyJson,
);

const persistedQuery = fc.oneof(
  anyJson,
  fc.record({ version: fc.oneof(values(1, 2, '1', null), anyJson), sha256Hash: fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }), fc.string({ maxLength: 70 }), anyJson) }, { requiredKeys: [] }),
);

/** One member of a request's parameters of the wrong type or odd value. */
const oddMember: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ query: fc.oneof(document, anyJson) }),
  fc.record({ variables: variablesValue }),
  fc.record({ operationName: fc.oneof(oneOf('Q', 'A', 'B', '', 'Nope'), anyJson) }),
  fc.record({ extensions: fc.oneof(anyJson, fc.record({ persistedQuery }, { requiredKeys: [] })) }),
  fc.record({ documentId: fc.oneof(weirdString, anyJson, oneOf('sha256:00', 'sha256:')) }),
  fc.record({ doc_id: fc.oneof(weirdString, anyJson) }),
  fc.record({ query: values(null, undefined), documentId: fc.oneof(weirdString, anyJson) }),
  fc.dictionary(weirdString, anyJson, { maxKeys: 2 }),
);

/** A request's parameters: a typed document with its variables, or an odd one, now and then with one member made odd. */
const paramsObject = (known: Known) =>
  fc
    .tuple(fc.oneof({ weight: 3, arbitrary: typedDocument(known) }, { weight: 1, arbitrary: document.map((query) => ({ query, variables: {} })) }), sometimes(oddMember, {}, 2), fc.boolean())
    .map(([base, odd, named]): Record<string, unknown> => {
      const name = /^query (\w+)/.exec(base.query)?.[1];
      return { ...base, ...(named && name ? { operationName: name } : {}), ...odd };
    });

/** JSON opened thousands of levels deep and never closed. */
const unclosedJson = fc.tuple(fc.integer({ min: 1, max: 5000 }), oneOf('[', '{"query":', '{"variables":[')).map(([depth, open]) => open.repeat(depth));
/** Well-formed JSON twenty thousand levels deep, where a member of any type is read. */
const deepJson = (member: string) => `{"query":"{ zones { id } }","${member}":{"v":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`;

const ODD_BODIES = [
  '{"query":"\\ud800"}',
  '{"query":"{ node(id: \\"\\udfff\\") { id } }"}',
  '{"query":"{ zones { id } }","variables":{"v":"\\ud800"}}',
  '\ufeff{"query":"{ zones { id } }"}',
  '{"query":"{ zones { id } }"}{"x":1}',
  '{"query":"{ zones { id } }",}',
  '{"query":"{ zones { id } }","query":1}',
  '{"__proto__":{"query":"{ zones { id } }"}}',
  '{"query":"{ zones { id } }","variables":{"__proto__":{"v":1}}}',
  '{"query":"{ zones { id } }","variables":{"v":1e400}}',
  deepJson('variables'),
  deepJson('extensions'),
  '',
  ' ',
  'null',
  '"{ zones { id } }"',
  '1e99999',
];

const jsonBody = (known: Known): fc.Arbitrary<Buffer> => {
  const params = paramsObject(known);
  return fc.oneof(
    { weight: 8, arbitrary: params.map((p) => Buffer.from(JSON.stringify(p))) },
    { weight: 1, arbitrary: fc.array(params, { maxLength: 3 }).map((batch) => Buffer.from(JSON.stringify(batch))) },
    { weight: 1, arbitrary: anyJson.map((v) => Buffer.from(JSON.stringify(v) ?? 'undefined')) },
    {
      weight: 1,
      arbitrary: fc.tuple(params, fc.nat()).map(([p, cut]) => {
        const whole = Buffer.from(JSON.stringify(p));
        return whole.subarray(0, cut % whole.length);
      }),
    },
    { weight: 1, arbitrary: unclosedJson.map((text) => Buffer.from(text)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.concat([Buffer.from('{"query":"{ zones { id } }","operationName":"'), Buffer.from(bytes), Buffer.from('"}')])) },
    { weight: 1, arbitrary: fc.constantFrom(...ODD_BODIES).map((text) => Buffer.from(text)) },
    // Bytes that are not UTF-8: a lone surrogate's, a UTF-16 byte-order mark, a sequence cut short.
    { weight: 1, arbitrary: oneOf(Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff, 0xfe, 0x7b, 0x00]), Buffer.concat([Buffer.from('{"query":"{ node(id: \\"'), Buffer.from([0xed, 0xa0, 0x80, 0xc3]), Buffer.from('\\") { id } }"}')])) },
  );
};

const formBody = fc
  .array(
    fc.tuple(
      oneOf('query', 'variables', 'operationName', 'extensions', 'documentId', 'query', '%zz', ''),
      fc.oneof(document.map(percentEncode), anyJson.map((v) => percentEncode(JSON.stringify(v) ?? '')), oneOf('%', '%zz', '%E0%A4', '+')),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => Buffer.from(pairs.map(([k, v]) => `${k}=${v}`).join('&')));

/** Odd query-string parameters: repeated, misnamed, badly percent-encoded. */
const oddPairs = fc.array(
  fc.tuple(
    oneOf('query', 'variables', 'operationName', 'extensions', 'documentId', 'doc_id', 'query', 'query', '?query', 'QUERY', ''),
    fc.oneof(document.map(percentEncode), anyJson.map((v) => percentEncode(JSON.stringify(v) ?? '')), oneOf('%', '%zz', '%E0%A4%', '%ED%A0%80', '%FF', '+', '&', '=', '%00', '[]', '%7B%22persistedQuery%22%3A1%7D')),
  ),
  { maxLength: 3 },
);

/** A GET's query string: a typed document and its variables, then odd parameters. */
const queryString = (known: Known) =>
  fc.tuple(fc.option(typedDocument(known), { nil: undefined, freq: 4 }), oddPairs).map(([typed, pairs]) => {
    const parts = typed ? [`query=${percentEncode(typed.query)}`, `variables=${percentEncode(JSON.stringify(typed.variables))}`] : [];
    return [...parts, ...pairs.map(([k, v]) => `${k}=${v}`)].join('&');
  });

const headerValue = (values: string[]) => fc.oneof({ weight: 4, arbitrary: oneOf(...values) }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, ' ')) });

const contentType = headerValue(['application/json', 'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json ; charset=UTF-16', 'application/json, text/plain', 'application/graphql', 'application/graphql+json', 'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=latin1', 'text/plain', 'multipart/form-data; boundary=x', 'multipart/form-data', 'multipart/mixed', '', ';;;', ',', 'application/', '*/*', 'application/json; charset=nope']);
const accept = headerValue(['application/json', 'application/graphql-response+json', 'application/graphql-response+json, application/json;q=0.9', '*/*', 'text/html', 'text/html, */*', 'text/event-stream', 'multipart/mixed', 'multipart/mixed;deferSpec=20220824', 'application/json;q=0', '*/*;q=0', 'image/png', '', ',,,', 'application/json;q=abc', 'application/json;q=1e400', 'application/*', '*/json', 'text/event-stream;q=0.5, application/xml']);
const acceptEncoding = headerValue(['gzip', 'br', 'deflate', 'identity;q=0', '*;q=0', 'br;q=0, gzip;q=0, identity;q=0', 'gzip;q=abc', 'zstd', '', '*', 'gzip, br;q=1.0001', ';;']);
const authorization = fc.oneof(
  fc.constantFrom(...TOKENS).map((t) => `Bearer ${t}`),
  oneOf('', 'Bearer', 'Bearer ', 'bearer x', 'BEARER kp_x', `Bearer  ${DEMO_TOKENS.globex}`, `Bearer ${DEMO_TOKENS.globex} `, `Basic ${Buffer.from('a:b').toString('base64')}`, `Bearer ${'x'.repeat(8000)}`, 'Bearer é', 'Bearer \u0000', 'Bearer kp_load_', 'Bearer kp_load_x y', 'Token abc', 'Bearer ,'),
  fc.string({ maxLength: 40 }).map((s) => `Bearer ${s.replace(/[\r\n]/g, '')}`),
);
const cacheControl = headerValue(['no-cache', 'no-store', 'max-age=0', 'max-age=-1', 'max-age=abc', 'only-if-cached', 'no-cache, no-cache', 'must-revalidate', '']);
const timeout = headerValue(['0', '-1', '1', '50', 'NaN', 'Infinity', '1e309', '999999999999999999999', '0.5', 'abc', '', ' 100 ', '0x10']);
const requestId = headerValue(['abc', 'a'.repeat(129), 'x y', '../../etc', '%00', '']);
const origin = headerValue(['http://evil.example', 'null', 'https://app.example', '', 'http://[::1', 'file://']);
const csrf = oneOf<Array<[string, string]>>([['x-graphql-csrf', '1']], [['apollo-require-preflight', 'true']], [['graphql-preflight', '']], [['x-apollo-operation-name', 'Q']], []);
/** Bytes outside ASCII (obs-text, which HTTP lets through), now and then a control byte, which it does not. */
const rawValue = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16, min: 0x20, max: 0xff }).map((bytes) => Buffer.from(bytes.map((b) => (b === 0x7f ? 0x80 : b)))) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16 }).map((bytes) => Buffer.from(bytes.map((b) => (b === 0x0d || b === 0x0a ? 0x20 : b)))) },
);

/** Header values other than the sane defaults below, one generator per header. */
const oddHeaders: Record<string, fc.Arbitrary<string>> = {
  'content-type': contentType,
  accept,
  'accept-encoding': acceptEncoding,
  authorization,
  'cache-control': cacheControl,
  'x-request-timeout-ms': timeout,
  'x-request-id': requestId,
  origin,
  'if-none-match': headerValue(['*', '"x"', 'W/"x"', '', ',']),
  'content-encoding': headerValue(['gzip', 'identity', 'none', 'br', '']),
  expect: headerValue(['100-continue', '200-ok']),
  'x-forwarded-for': headerValue(['203.0.113.1', 'nonsense', '', '::1, ::ffff:1.2.3.4']),
};

/**
 * What a client sends, with up to three headers made odd (or left out): a request odd in
 * everything is refused by the first check and reaches nothing behind it.
 */
const headers = fc
  .tuple(
    fc.constantFrom(...TOKENS),
    fc.uniqueArray(fc.constantFrom(...Object.keys(oddHeaders)), { maxLength: 3 }).chain((names) => fc.tuple(...names.map((name) => fc.option(oddHeaders[name]!.map((value) => [name, value] as [string, string]), { nil: [name, null] as [string, null], freq: 4 })))),
    csrf,
    sometimes(fc.tuple(oneOf('authorization', 'content-type', 'accept', 'x-request-timeout-ms', 'x-odd', 'accept-encoding'), rawValue), undefined, 7),
    fc.boolean(),
  )
  .map(([token, odd, preflight, extra, repeat]) => {
    const chosen = new Map<string, string | null>([
      ['content-type', 'application/json'],
      ['accept', 'application/graphql-response+json, application/json'],
      ['authorization', `Bearer ${token}`],
    ]);
    for (const [name, value] of odd) chosen.set(name, value);
    const lines: Array<[string, string | Buffer]> = [];
    for (const [name, value] of chosen) if (value !== null) lines.push([name, value]);
    lines.push(...preflight);
    if (extra) lines.push(extra);
    // A header sent twice: node joins some, keeps the first of others.
    if (repeat && lines.length > 0) lines.push(lines[0]!);
    return lines;
  });

const method = fc.oneof({ weight: 6, arbitrary: oneOf('POST') }, { weight: 3, arbitrary: oneOf('GET') }, { weight: 1, arbitrary: oneOf('HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'PROPFIND', 'SEARCH', 'QUERY') });

const path = fc.oneof(
  { weight: 10, arbitrary: fc.constant('/graphql') },
  { weight: 1, arbitrary: oneOf('/graphql/', '//graphql', '/GRAPHQL', '/graphql;x', '/health', '/ready', '/metrics', '/x/../graphql', 'http://gateway/graphql', 'http://gateway:99999/graphql', '*', '/%zz', '/\u00e9') },
);

const httpRequest = (known: Known): fc.Arbitrary<FuzzRequest> =>
  fc
    .tuple(method, path, fc.option(queryString(known), { nil: undefined, freq: 3 }), headers, fc.oneof({ weight: 6, arbitrary: jsonBody(known) }, { weight: 1, arbitrary: formBody }, { weight: 1, arbitrary: document.map((d) => Buffer.from(d)) }), fc.boolean(), fc.boolean())
    .map(([m, p, search, hs, body, withBody, chunked]) => ({
      method: m,
      target: search === undefined ? p : `${p}?${search}`,
      headers: hs,
      body: m === 'GET' || m === 'HEAD' ? (withBody && chunked ? body : undefined) : m === 'POST' || withBody ? body : undefined,
      chunked,
    }));

const saneAccept = fc.oneof({ weight: 6, arbitrary: oneOf('application/json', 'application/graphql-response+json', 'application/graphql-response+json, application/json;q=0.9', '*/*') }, { weight: 1, arbitrary: accept });
const saneExtras = sometimes(oneOf<Array<[string, string]>>([['x-request-timeout-ms', '1']], [['x-request-timeout-ms', '100']], [['cache-control', 'no-cache']], [['accept-encoding', 'gzip']], [['if-none-match', '*']]), [] as Array<[string, string]>, 2);

/** A well-formed JSON POST of a generated document, as an app would send it. */
const wellFormedPost = (known: Known): fc.Arbitrary<FuzzRequest> =>
  fc.tuple(paramsObject(known), fc.constantFrom(...TOKENS), saneAccept, saneExtras).map(([params, token, acceptValue, extras]) => ({
    method: 'POST',
    target: '/graphql',
    headers: [['content-type', 'application/json'], ['accept', acceptValue], ['authorization', `Bearer ${token}`], ...extras],
    body: Buffer.from(JSON.stringify(params)),
  }));

const wellFormedGet = (known: Known): fc.Arbitrary<FuzzRequest> =>
  fc.tuple(queryString(known), fc.constantFrom(...TOKENS), saneAccept, fc.boolean(), saneExtras).map(([search, token, acceptValue, head, extras]) => ({
    method: head ? 'HEAD' : 'GET',
    target: `/graphql?${search}`,
    headers: [['accept', acceptValue], ['authorization', `Bearer ${token}`], ['x-graphql-csrf', '1'], ...extras],
  }));

// ---- The tests -----------------------------------------------------------------------

const NORMAL: FuzzRequest = {
  method: 'POST',
  target: '/graphql',
  headers: [
    ['content-type', 'application/json'],
    ['authorization', `Bearer ${DEMO_TOKENS.globex}`],
  ],
  body: Buffer.from(JSON.stringify({ query: '{ organization(subDomain: "globex") { name } }' })),
};

/** Cursors and ids from real answers, and variations on them. */
async function readKnown(port: number): Promise<Known> {
  const document = `{
    countries(first: 2) { edges { cursor node { id } } }
    gpuTypes(first: 1) { edges { cursor node { id } } }
    zones { id dataCenter { id country { id } } }
    organization(subDomain: "globex") { id virtualMachines(first: 2) { edges { cursor node { id package { id } } } } virtualMachinePackages(first: 1) { edges { cursor } } }
  }`;
  const request: FuzzRequest = { ...NORMAL, body: Buffer.from(JSON.stringify({ query: document })) };
  const answer = await exchange(port, encodeRequest(request), 'POST');
  const text = answer.text;
  const cursors = [...text.matchAll(/"cursor":"([^"]+)"/g)].map((m) => m[1]!);
  const ids = [...new Set([...text.matchAll(/"id":"([^"]+)"/g)].map((m) => m[1]!))];
  expect(cursors.length).toBeGreaterThan(4);
  expect(ids.length).toBeGreaterThan(4);
  const tampered = cursors.flatMap((c) => [c.slice(0, -1) + (c.endsWith('A') ? 'B' : 'A'), `${c}!!`, c.split('.')[0]!, `${c}.${c}`, c.toUpperCase()]);
  // A cursor naming an offset past any list, and one whose payload is not what the gateway writes, both unsigned.
  tampered.push(`${Buffer.from('[99999999,"vm_x"]').toString('base64url')}.${cursors[0]!.split('.')[1]}`, `${Buffer.from('{"a":1}').toString('base64url')}.${cursors[0]!.split('.')[1]}`);
  return { cursors: [...cursors, ...tampered], ids: [...ids, ...ids.map((id) => id.toUpperCase()), ...ids.map((id) => `${id} `)] };
}

/** The contract's checks on one exchange, failing with the request that broke it. */
function checked(port: () => number) {
  return async (request: FuzzRequest): Promise<Exchange> => {
    const answer = await exchange(port(), encodeRequest(request), request.method);
    const failure = violation(request, answer);
    if (failure) throw new Error(`${failure}\nrequest: ${JSON.stringify({ ...request, body: request.body?.toString('latin1').slice(0, 500) })}`);
    return answer;
  };
}

/**
 * A gateway (in front of an in-process simulator) for the properties of one describe block,
 * with what they need to know of it; closed after the block, once it has shown it still
 * answers an ordinary query, its readiness and its metrics.
 */
function fuzzedGateway(env: Record<string, string> = {}, faults: Parameters<Simulator['setFaults']>[0] = {}) {
  const state = {} as { gateway: TestGateway; simulator: Simulator; port: number; known: Known };
  const check = checked(() => state.port);
  beforeAll(async () => {
    state.simulator = createSimulator();
    state.gateway = await startGateway({ simulator: state.simulator, env: { ...FIXED_ENV, ...env } });
    state.port = Number(new URL(state.gateway.url).port);
    state.known = await readKnown(state.port);
    state.simulator.setFaults(faults);
  });
  afterAll(async () => {
    if (state.port) {
      state.simulator.setFaults({ failureRatio: 0, resetRatio: 0, malformedRatio: 0, latencyMs: 0 });
      // From an address of its own, for a gateway behind a trusted proxy whose inbound limit the properties spent.
      const normal = await exchange(state.port, encodeRequest({ ...NORMAL, headers: [...NORMAL.headers, ['cache-control', 'no-cache'], ['x-forwarded-for', '198.51.100.1']] }), 'POST');
      expect(normal.status).toBe(200);
      expect(JSON.parse(normal.text)).toMatchObject({ data: { organization: { name: expect.any(String) } } });
      for (const probe of ['/health', '/metrics']) expect((await exchange(state.port, encodeRequest({ method: 'GET', target: probe, headers: [] }), 'GET')).status).toBe(200);
    }
    await state.gateway?.close();
    await state.simulator?.close();
  });
  return { state, check };
}

/** Status, data and error codes: what two answers to one request must agree on, whichever way each was made. */
function gist(answer: Exchange): string {
  let json: { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> } | undefined;
  try {
    json = JSON.parse(answer.text) as typeof json;
  } catch {
    // A streamed answer (its framing) or a HEAD's: the status says it.
  }
  return JSON.stringify({ status: answer.status, type: answer.headers['content-type'], data: json?.data, codes: [...new Set((json?.errors ?? []).map((e) => e.extensions?.code))].sort() });
}

describe('the HTTP edge under adversarial requests', () => {
  const { state, check } = fuzzedGateway();

  it('answers any request at /graphql (methods, headers, bodies, query strings) within the error contract', async () => {
    await fc.assert(fc.asyncProperty(httpRequest(state.known), async (r) => void (await check(r))), { seed: SEED, numRuns: 200 });
  });

  it('answers well-formed POSTs of odd documents, arguments and variables within the error contract', async () => {
    await fc.assert(fc.asyncProperty(wellFormedPost(state.known), async (r) => void (await check(r))), { seed: SEED, numRuns: 200 });
  });

  it('answers GETs with odd query strings within the error contract', async () => {
    await fc.assert(fc.asyncProperty(wellFormedGet(state.known), async (r) => void (await check(r))), { seed: SEED, numRuns: 120 });
  });
});

describe('the HTTP edge behind a trusted proxy, open to every origin, with a small inbound limit', () => {
  const { state, check } = fuzzedGateway({ CORS_ORIGINS: '*', TRUST_PROXY: 'true', INBOUND_RATE_LIMIT_PER_MINUTE: '30', CACHE_EXTENSIONS: 'true', APQ_ENABLED: 'false' });

  it('answers any request within the error contract', async () => {
    await fc.assert(fc.asyncProperty(httpRequest(state.known), async (r) => void (await check(r))), { seed: SEED, numRuns: 80 });
  });
});

describe('the HTTP edge while Katapult fails', () => {
  const { state, check } = fuzzedGateway({ REQUEST_DEADLINE_MS: '1500', UPSTREAM_TIMEOUT_MS: '500', QUEUE_CIRCUIT_OPEN_MS: '300' }, { failureRatio: 0.25, resetRatio: 0.15, malformedRatio: 0.15, latencyMs: 2 });

  it('answers every request with data or a coded error, never a 500, while Katapult answers 503s, resets and cut-off bodies', async () => {
    // Mostly documents that run, half of them asking past the cache, so that Katapult is called.
    const request = fc
      .tuple(typedDocument(state.known), fc.constantFrom(...TOKENS), oneOf('application/json', 'application/graphql-response+json'), fc.boolean(), fc.boolean(), oneOf(undefined, '50', '400'))
      .map(([params, token, acceptValue, refresh, asGet, timeoutMs]): FuzzRequest => {
        const headers: Array<[string, string]> = [['accept', acceptValue], ['authorization', `Bearer ${token}`]];
        if (refresh) headers.push(['cache-control', 'no-cache']);
        if (timeoutMs) headers.push(['x-request-timeout-ms', timeoutMs]);
        if (asGet) return { method: 'GET', target: `/graphql?query=${percentEncode(params.query)}&variables=${percentEncode(JSON.stringify(params.variables))}`, headers: [...headers, ['x-graphql-csrf', '1']] };
        return { method: 'POST', target: '/graphql', headers: [...headers, ['content-type', 'application/json']], body: Buffer.from(JSON.stringify(params)) };
      });
    await fc.assert(fc.asyncProperty(fc.oneof({ weight: 4, arbitrary: request }, { weight: 1, arbitrary: wellFormedPost(state.known) }), async (r) => void (await check(r))), { seed: SEED, numRuns: 80 });
  });
});

describe('the HTTP edge under bursts of identical requests', () => {
  const { state } = fuzzedGateway();

  it('answers every request of a burst (some of whose clients hang up) within the error contract', async () => {
    const burst = fc.tuple(wellFormedPost(state.known), fc.array(fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }), { minLength: 2, maxLength: 8 }));
    await fc.assert(
      fc.asyncProperty(burst, async ([request, hangUps]) => {
        const bytes = encodeRequest(request);
        const answers = await Promise.all(
          hangUps.map(async (hangUpAfterMs) => {
            if (hangUpAfterMs === undefined) return exchange(state.port, bytes, request.method);
            // A client that sends the request and goes away before (or while) it is answered.
            const socket = createConnection({ host: '127.0.0.1', port: state.port }, () => socket.write(bytes));
            socket.on('error', () => {});
            await new Promise((resolve) => setTimeout(resolve, hangUpAfterMs));
            socket.destroy();
            return null;
          }),
        );
        for (const answer of answers) {
          if (!answer) continue;
          const failure = violation(request, answer);
          if (failure) throw new Error(`${failure}\nrequest: ${JSON.stringify({ ...request, body: request.body?.toString('latin1').slice(0, 500) })}`);
        }
        // Identical requests answered cleanly get identical answers, whichever of them ran.
        const bodies = new Set(answers.filter((a): a is Exchange => a !== null && a.status === 200 && !a.text.includes('"errors"')).map((a) => a.text));
        expect(bodies.size).toBeLessThanOrEqual(1);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });
});

describe('the HTTP edge answering from stored answers', () => {
  const { state, check } = fuzzedGateway();
  const fresh = fuzzedGateway({ RESPONSE_CACHE_MAX_BYTES: '0' });

  it('answers a request repeated (as a HEAD, revalidating its ETag, compressed) within the error contract, as it answers it without stored answers', async () => {
    const variant = fc.tuple(fc.boolean(), fc.boolean(), oneOf(undefined, 'gzip', 'br', 'identity;q=0, br'));
    const repeated = fc.tuple(fc.oneof(wellFormedGet(state.known), wellFormedPost(state.known)), fc.array(variant, { minLength: 2, maxLength: 4 }));
    await fc.assert(
      fc.asyncProperty(repeated, async ([request, variants]) => {
        let etag: string | undefined;
        let last: Exchange | undefined;
        for (const [head, revalidate, encoding] of variants) {
          const isGet = request.method === 'GET' || request.method === 'HEAD';
          const headers = request.headers.filter(([name]) => name !== 'accept-encoding' && name !== 'if-none-match');
          if (encoding) headers.push(['accept-encoding', encoding]);
          if (revalidate && etag) headers.push(['if-none-match', etag]);
          last = await check({ ...request, method: isGet ? (head ? 'HEAD' : 'GET') : 'POST', headers });
          etag = last.headers.etag ?? etag;
        }
        // Once more as first sent: a stored answer (the third sending's) says what a fresh run says. A deadline makes either a race.
        if (request.headers.some(([name]) => name === 'x-request-timeout-ms')) return;
        const replayed = await check(request);
        expect(gist(replayed)).toBe(gist(await fresh.check(request)));
      }),
      { seed: SEED, numRuns: 60 },
    );
  });
});

describe('the HTTP edge with every document compiled', () => {
  const { state, check } = fuzzedGateway({ GRAPHQL_JIT_AFTER: '0' });
  const interpreted = fuzzedGateway({ GRAPHQL_JIT: 'false' });

  it('answers compiled documents within the error contract, with the status and data the interpreter gives', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(wellFormedPost(state.known), wellFormedGet(state.known)), async (request) => {
        const compiled = await check(request);
        // A deadline makes both a race. Which errors there are may differ where several fields under one object fail (see jit.ts).
        if (request.headers.some(([name]) => name === 'x-request-timeout-ms')) return;
        const withoutCodes = (answer: Exchange) => ({ ...JSON.parse(gist(answer)), codes: undefined });
        expect(withoutCodes(compiled)).toEqual(withoutCodes(await interpreted.check(request)));
      }),
      { seed: SEED, numRuns: 120 },
    );
  });
});

describe('the HTTP edge with persisted documents', () => {
  const listed = '{ zones { id name } }';
  const listedHash = createHash('sha256').update(listed).digest('hex');
  // Named here, written when the suite runs: a run that filters this suite out runs no hooks,
  // and a file made while collecting would be left behind.
  const file = join(tmpdir(), `edge-fuzz-persisted-${process.pid}-${randomUUID()}.json`);
  beforeAll(() => writeFileSync(file, JSON.stringify({ [listedHash]: listed, relay_md5_0123: 'query R { organizations { name } }' })));
  afterAll(() => rmSync(file, { force: true }));
  const { state, check } = fuzzedGateway({ PERSISTED_OPERATIONS_FILE: file });

  it('answers documents named by id, by hash, and registered by hash within the error contract', async () => {
    const id = fc.oneof(oneOf(listedHash, listedHash.toUpperCase(), `sha256:${listedHash}`, 'relay_md5_0123', 'sha256:', `sha256:${'0'.repeat(64)}`), weirdString);
    const hashOf = (query: string) => createHash('sha256').update(query).digest('hex');
    const params = fc.oneof(
      fc.tuple(oneOf('documentId', 'doc_id'), id, fc.option(oneOf(listed, '{ zones { id } }', null), { nil: undefined })).map(([name, value, query]) => ({ [name]: value, ...(query === undefined ? {} : { query }) })),
      fc.tuple(typedDocument(state.known), fc.boolean(), oneOf<1 | 2 | '1'>(1, 1, 2, '1')).map(([typed, withDocument, version]) => ({
        ...(withDocument ? typed : { variables: typed.variables }),
        extensions: { persistedQuery: { version, sha256Hash: hashOf(typed.query) } },
      })),
      oneOf({ extensions: { persistedQuery: { version: 1, sha256Hash: listedHash } } }, { query: listed, extensions: { persistedQuery: { version: 1, sha256Hash: listedHash.toUpperCase() } } }, { query: '{ zones { id } }', extensions: { persistedQuery: { version: 1, sha256Hash: listedHash } } }),
    );
    const request = fc.tuple(params, fc.constantFrom(...TOKENS), saneAccept, fc.boolean()).map(([body, token, acceptValue, asGet]): FuzzRequest => {
      const auth: Array<[string, string]> = [['accept', acceptValue], ['authorization', `Bearer ${token}`]];
      if (!asGet) return { method: 'POST', target: '/graphql', headers: [['content-type', 'application/json'], ...auth], body: Buffer.from(JSON.stringify(body)) };
      const search = Object.entries(body).map(([k, v]) => `${k}=${percentEncode(typeof v === 'string' ? v : JSON.stringify(v))}`);
      return { method: 'GET', target: `/graphql?${search.join('&')}`, headers: [...auth, ['x-graphql-csrf', '1']] };
    });
    // Each request twice: the second may be answered from the first's stored answer.
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        await check(r);
        await check(r);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });
});

describe('the HTTP edge given malformed HTTP', () => {
  const { state, check } = fuzzedGateway();
  const post = (headers: string, body: string) => Buffer.from(`POST /graphql HTTP/1.1\r\nhost: gateway\r\n${headers}\r\n${body}`, 'latin1');
  const query = JSON.stringify({ query: '{ zones { id } }' });
  const auth = `authorization: Bearer ${DEMO_TOKENS.globex}\r\ncontent-type: application/json\r\n`;

  it.each([
    ['a Content-Length and chunked framing at once', post(`${auth}content-length: 5\r\ntransfer-encoding: chunked\r\n`, `${query.length.toString(16)}\r\n${query}\r\n0\r\n\r\n`)],
    ['two different Content-Lengths', post(`${auth}content-length: ${query.length}\r\ncontent-length: 3\r\n`, query)],
    ['a negative Content-Length', post(`${auth}content-length: -1\r\n`, query)],
    ['a chunk size that is not hex', post(`${auth}transfer-encoding: chunked\r\n`, `zz\r\n${query}\r\n0\r\n\r\n`)],
    ['a chunk larger than the body limit', post(`${auth}transfer-encoding: chunked\r\n`, `ffffffff\r\n${' '.repeat(70_000)}${query}`)],
    ['a folded header', post(`${auth}x-folded: a\r\n b\r\ncontent-length: ${query.length}\r\n`, query)],
    ['a header without a colon', post(`${auth}nonsense\r\ncontent-length: ${query.length}\r\n`, query)],
    ['HTTP/1.0 without Host', Buffer.from(`POST /graphql HTTP/1.0\r\n${auth}content-length: ${query.length}\r\n\r\n${query}`)],
    ['HTTP/1.1 without Host', Buffer.from(`GET /graphql?query=%7Bzones%7Bid%7D%7D HTTP/1.1\r\nx-graphql-csrf: 1\r\nconnection: close\r\n\r\n`)],
    ['an HTTP version that does not exist', Buffer.from(`GET /graphql HTTP/9.9\r\nhost: x\r\n\r\n`)],
    ['a lower-case method', Buffer.from(`get /graphql HTTP/1.1\r\nhost: x\r\n\r\n`)],
    ['a target with a fragment', Buffer.from(`GET /graphql?query=%7Bzones%7Bid%7D%7D#x HTTP/1.1\r\nhost: x\r\nx-graphql-csrf: 1\r\nconnection: close\r\n\r\n`)],
    ['an absolute target with a bad port', Buffer.from(`GET http://gateway:99999/graphql HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)],
    ['an asterisk target', Buffer.from(`OPTIONS * HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)],
    ['CONNECT', Buffer.from(`CONNECT gateway:443 HTTP/1.1\r\nhost: gateway:443\r\n\r\n`)],
    ['a NUL in the target', Buffer.from(`GET /graphql?query=\u0000 HTTP/1.1\r\nhost: x\r\n\r\n`, 'latin1')],
    ['a request line of bare LFs', Buffer.from(`POST /graphql HTTP/1.1\nhost: x\n${auth.replace(/\r\n/g, '\n')}content-length: ${query.length}\nconnection: close\n\n${query}`)],
    ['Expect: 100-continue with its body', post(`${auth}expect: 100-continue\r\ncontent-length: ${query.length}\r\nconnection: close\r\n`, query)],
    ['2,000 headers', post(`${auth}${Array.from({ length: 2000 }, (_, i) => `x-h${i}: ${i}\r\n`).join('')}content-length: ${query.length}\r\nconnection: close\r\n`, query)],
    ['a header of 15 KB', post(`${auth}x-big: ${'a'.repeat(15_000)}\r\ncontent-length: ${query.length}\r\nconnection: close\r\n`, query)],
    ['a Bearer token of 15 KB', post(`authorization: Bearer ${'k'.repeat(15_000)}\r\ncontent-type: application/json\r\ncontent-length: ${query.length}\r\nconnection: close\r\n`, query)],
  ])('answers %s within the contract, and keeps serving', async (_case, bytes) => {
    const method = bytes.toString('latin1').split(' ')[0]!;
    const target = bytes.toString('latin1').split(' ')[1]!;
    const answer = await exchange(state.port, bytes, method.toUpperCase());
    const failure = violation({ method, target, headers: [] }, answer);
    expect(failure).toBeNull();
    await check(NORMAL);
  });

  it('answers pipelined requests on one connection, each in order', async () => {
    const one = `POST /graphql HTTP/1.1\r\nhost: x\r\n${auth}content-length: ${query.length}\r\n\r\n${query}`;
    const bad = `POST /graphql HTTP/1.1\r\nhost: x\r\n${auth}content-length: 5\r\n\r\n{"que`;
    // Refused before its body is read: the body is read past, not taken for the next request.
    const refused = `PUT /graphql HTTP/1.1\r\nhost: x\r\ncontent-length: ${query.length}\r\n\r\n${query}`;
    const last = `GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`;
    const text = await new Promise<string>((resolve, reject) => {
      const socket = createConnection({ host: '127.0.0.1', port: state.port }, () => socket.write(one + bad + refused + one + last));
      let received = '';
      const timer = setTimeout(() => reject(new Error(`no end within ${ANSWER_WITHIN_MS} ms: ${received.slice(0, 300)}`)), ANSWER_WITHIN_MS);
      socket.on('data', (chunk) => (received += chunk.toString('latin1')));
      socket.on('close', () => (clearTimeout(timer), resolve(received)));
      socket.on('error', reject);
    });
    expect([...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])).toEqual(['200', '400', '405', '200', '200']);
  });
});
