import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS, LOAD_TOKEN_PREFIX } from '../../src/simulator/index.js';
import type { FetchLike } from '../../src/upstream/http.js';
import { createTestGateway, type GatewayResponse, type TestGateway } from '../helpers/gateway.js';

/**
 * The simulator's own answers, each edited in one place, against queries that select
 * everything. Whatever Katapult sends, a field the edit touches is either read (a null where
 * the reference lets it be null) or refused with a coded error on the fields that needed it,
 * never an internal error, and the rest of the response still arrives. Edits the reference
 * allows (a nullable field null or left out, an unknown field added) must come back as data.
 *
 * Fixed seed, and a token of its own for each run (see `runMenu`): a cached answer from an
 * earlier run would hide the edit, and a failure must come back the same way every time. The
 * nullable and optional fields are those of Katapult's references (the OpenAPI document, Apia's
 * schema and recorded answers), listed in ALLOWED_GAPS.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Location = Array<string | number>;

const SEED = 20260101;
const token = DEMO_TOKENS.globex;
const userToken = DEMO_TOKENS.user;

const COUNTRY = 'id name isoCode2 isoCode3 eu timeZone';
const DATA_CENTER = `id name permalink country { ${COUNTRY} }`;
const ZONE = `id name permalink dataCenter { ${DATA_CENTER} }`;
const GPU_TYPE = `id name permalink manufacturer memoryInGb memoryType dataCenters { id name permalink }`;
const PACKAGE = 'id name permalink cpuCores ipv4Addresses memoryInGb storageInGb monthlyBandwidthAllowanceInGb privacy useDedicatedCpus group { id name } icon { url fileName fileType fileSize digest }';
const ORGANIZATION = 'id name subDomain infrastructureDomain createdAt activatedAt suspended managed';
const PAGE = 'totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';
const VM = `id name hostname fqdn createdAt description state cpuCores memoryInGb useDedicatedCpus tagNames
  annotations { key value } hypervisor { id name ipAddress }
  ipAddresses { address addressWithMask id label reverseDns vip }
  zone { ${ZONE} } package { ${PACKAGE} } gpuType { ${GPU_TYPE} } organization { ${ORGANIZATION} }`;

/** One query per endpoint family; the ids are filled in from a clean run (`ids`). */
const menu = (ids: Ids): Array<{ name: string; document: string; token: string }> => [
  {
    name: 'organization',
    token,
    document: `{ organization(subDomain: "globex") { ${ORGANIZATION} virtualMachines(first: 3) { ${PAGE} edges { cursor node { ${VM} } } } virtualMachinePackages(first: 3) { ${PAGE} edges { node { ${PACKAGE} } } } } }`,
  },
  { name: 'virtual machine', token, document: `{ virtualMachine(id: "${ids.vm}") { ${VM} } }` },
  { name: 'data centers', token, document: `{ dataCenters { ${DATA_CENTER} zones { ${ZONE} } } }` },
  { name: 'zones', token, document: `{ zones { ${ZONE} } }` },
  { name: 'countries', token, document: `{ countries(first: 5) { ${PAGE} edges { cursor node { ${COUNTRY} } } } }` },
  { name: 'gpu types', token, document: `{ gpuTypes(first: 5) { ${PAGE} edges { node { ${GPU_TYPE} } } } }` },
  { name: 'packages', token, document: `{ virtualMachinePackages(first: 5) { ${PAGE} edges { node { ${PACKAGE} } } } }` },
  { name: 'organizations', token, document: `{ organizations { ${ORGANIZATION} } }` },
  { name: 'viewer', token: userToken, document: `{ viewer { id firstName lastName avatarUrl organizations { ${ORGANIZATION} } } }` },
  {
    name: 'nodes',
    token,
    document: `{ nodes(ids: ["${ids.package}", "${ids.country}", "${ids.gpuType}", "${ids.zone}", "${ids.dataCenter}", "${ids.organization}"]) {
      ... on VirtualMachinePackage { ${PACKAGE} } ... on Country { ${COUNTRY} } ... on GpuType { ${GPU_TYPE} }
      ... on Zone { ${ZONE} } ... on DataCenter { ${DATA_CENTER} } ... on Organization { ${ORGANIZATION} } } }`,
  },
];

interface Ids {
  vm: string;
  package: string;
  country: string;
  gpuType: string;
  zone: string;
  dataCenter: string;
  organization: string;
}

/** Every endpoint the gateway reads; each run edits the answers of one. */
const ENDPOINTS = [
  '/organizations/organization/virtual_machines',
  '/virtual_machines/virtual_machine',
  '/virtual_machine_packages',
  '/virtual_machine_packages/virtual_machine_package',
  '/organizations',
  '/organizations/organization',
  '/data_centers',
  '/data_centers/data_center',
  '/zones',
  '/zones/zone',
  '/countries',
  '/countries/country',
  '/gpu_types',
  '/gpu_types/gpu_type',
  '/users/current',
] as const;

/**
 * What the reference lets be null or left out, by endpoint (`*` for any item): nullable in the
 * OpenAPI document or Apia's schema, or absent from real answers. Not the fields the gateway
 * happens to tolerate: this is the list it is held to.
 */
const ALLOWED_GAPS: Record<string, string[]> = {
  '/organizations/organization/virtual_machines': [
    'pagination.total',
    'pagination.total_pages',
    'virtual_machines.*.package',
    'virtual_machines.*.gpu_type',
    'virtual_machines.*.hypervisor',
    'virtual_machines.*.zone.permalink',
    'virtual_machines.*.zone.data_center.permalink',
  ],
  '/virtual_machines/virtual_machine': [
    'virtual_machine.description',
    'virtual_machine.initial_root_password',
    'virtual_machine.group',
    'virtual_machine.package',
    'virtual_machine.attached_iso',
    'virtual_machine.memory_in_gb',
    'virtual_machine.cpu_cores',
    'virtual_machine.use_dedicated_cpus',
    'virtual_machine.gpu_type',
    'virtual_machine.hypervisor',
    'virtual_machine.zone.permalink',
    'virtual_machine.zone.data_center.permalink',
    'virtual_machine.zone.data_center.country.time_zone',
    'virtual_machine.organization.activated_at',
    'virtual_machine.organization.country',
    'virtual_machine.organization.country_state',
    'virtual_machine.organization.billing_name',
    'virtual_machine.package.monthly_bandwidth_allowance_in_gb',
    'virtual_machine.package.icon',
    'virtual_machine.package.group',
    'virtual_machine.ip_addresses.*.label',
    'virtual_machine.ip_addresses.*.allocation_id',
    'virtual_machine.ip_addresses.*.allocation_type',
    'annotations.*.value',
  ],
  '/virtual_machine_packages': [
    'pagination.total',
    'pagination.total_pages',
    'virtual_machine_packages.*.monthly_bandwidth_allowance_in_gb',
    'virtual_machine_packages.*.icon',
    'virtual_machine_packages.*.group',
  ],
  '/virtual_machine_packages/virtual_machine_package': [
    'virtual_machine_package.monthly_bandwidth_allowance_in_gb',
    'virtual_machine_package.icon',
    'virtual_machine_package.group',
  ],
  '/organizations': ['organizations.*.activated_at'],
  '/organizations/organization': ['organization.activated_at', 'organization.country', 'organization.country_state', 'organization.vat_number', 'organization.phone_number'],
  '/data_centers': ['data_centers.*.permalink', 'data_centers.*.country'],
  '/data_centers/data_center': ['data_center.permalink', 'data_center.country'],
  '/zones': ['zones.*.permalink', 'zones.*.data_center.permalink'],
  '/zones/zone': ['zone.permalink', 'zone.data_center.permalink', 'zone.data_center.country.time_zone'],
  '/countries': ['pagination.total', 'pagination.total_pages'],
  '/countries/country': ['country.time_zone'],
  '/gpu_types': ['pagination.total', 'pagination.total_pages', 'gpu_types.*.data_centers'],
  '/gpu_types/gpu_type': ['gpu_type.data_centers'],
  '/users/current': ['api_token_id'],
};

type Edit =
  | { kind: 'delete' }
  | { kind: 'set'; value: Json }
  | { kind: 'extra'; key: string; value: Json }
  | { kind: 'duplicate' }
  | { kind: 'empty' }
  /** Fields of the body's `pagination` set (or, for `undefined`, left out). */
  | { kind: 'pagination'; changes: Record<string, Json | undefined> };

const unicode = 'Zürich – 東京 🚀 \u202e\u0000';
const oddValues: Json[] = [null, '', 'x', unicode, '42', 0, -1, 1.5, 2 ** 53 + 1, 1e308, -1e308, true, false, {}, [], [null], { id: 'x' }];

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.constant<Edit>({ kind: 'delete' }),
  fc.constantFrom(...oddValues).map((value): Edit => ({ kind: 'set', value })),
  fc.record({ key: fc.constantFrom('unknown_field', 'id_2', '__proto__', 'constructor'), value: fc.constantFrom<Json>(1, 'x', null, { a: [] }) }).map((e): Edit => ({ kind: 'extra', ...e })),
  fc.constant<Edit>({ kind: 'duplicate' }),
  fc.constant<Edit>({ kind: 'empty' }),
);

/** Every place in `body`, parents before children. */
function locations(body: Json, at: Location = [], into: Location[] = []): Location[] {
  if (Array.isArray(body)) body.forEach((item, index) => (into.push([...at, index]), locations(item, [...at, index], into)));
  else if (body !== null && typeof body === 'object') for (const key of Object.keys(body)) into.push([...at, key]), locations(body[key]!, [...at, key], into);
  return into;
}

const parentOf = (body: Json, location: Location): any => location.slice(0, -1).reduce((value: any, segment) => value?.[segment], body);

function apply(body: Json, location: Location, edit: Edit): void {
  const parent = location.length === 0 ? null : parentOf(body, location);
  const last = location[location.length - 1]!;
  const target = location.length === 0 ? body : parent?.[last];
  switch (edit.kind) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else if (parent) delete parent[last];
      break;
    case 'set':
      if (parent) parent[last] = structuredClone(edit.value);
      break;
    case 'extra': {
      const object = target !== null && typeof target === 'object' && !Array.isArray(target) ? target : parent;
      if (object && !Array.isArray(object)) Object.defineProperty(object, edit.key, { value: edit.value, enumerable: true, writable: true, configurable: true });
      break;
    }
    case 'duplicate':
      if (Array.isArray(target) && target.length > 0) target.push(structuredClone(target[0]!));
      else if (Array.isArray(parent)) parent.splice(last as number, 0, structuredClone(target));
      break;
    case 'pagination': {
      const pagination = (body as any)?.pagination;
      if (pagination && typeof pagination === 'object') {
        for (const [key, value] of Object.entries(edit.changes)) {
          if (value === undefined) delete pagination[key];
          else pagination[key] = value;
        }
      }
      break;
    }
    case 'empty':
      if (parent) parent[last] = Array.isArray(target) ? [] : typeof target === 'string' ? '' : typeof target === 'number' ? 0 : Array.isArray(parent) ? [] : {};
      break;
  }
}

/** The locations a gap pattern names in `body`. */
function expand(body: Json, pattern: string): Location[] {
  let found: Location[] = [[]];
  for (const segment of pattern.split('.')) {
    found = found.flatMap((location) => {
      const value = location.reduce((v: any, s) => v?.[s], body);
      if (segment === '*') return Array.isArray(value) ? value.map((_, index) => [...location, index]) : [];
      return value !== null && typeof value === 'object' && segment in value ? [[...location, segment]] : [];
    });
  }
  return found;
}

/** One run's change to the answers of `path`: the `pick`-th place of each body, or the places `pattern` names. */
interface Plan {
  path: string;
  edit: Edit;
  pick?: number;
  pattern?: string;
  /** Edits every place named as the `everywhere`-th of the body's field names is, instead. */
  everywhere?: number;
}

/**
 * Endpoints the gateway reads only for an object its list lacks: while one is edited, its list
 * comes back empty, so that a lookup by id reaches it.
 */
const ONLY_PAST_LIST: Record<string, { path: string; key: string }> = {
  '/data_centers/data_center': { path: '/data_centers', key: 'data_centers' },
  '/zones/zone': { path: '/zones', key: 'zones' },
  '/gpu_types/gpu_type': { path: '/gpu_types', key: 'gpu_types' },
};

function editing(plan: () => Plan | null) {
  return (simulator: FetchLike): FetchLike =>
    async (input, init) => {
      const response = await simulator(input, init);
      const current = plan();
      const url = new URL(input);
      const list = current ? ONLY_PAST_LIST[current.path] : undefined;
      if (list && response.ok && url.pathname === `/core/v1${list.path}`) {
        const body = (await response.json()) as Record<string, Json>;
        body[list.key] = [];
        return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
      }
      if (!current || !response.ok || url.pathname !== `/core/v1${current.path}`) return response;
      const body = (await response.json()) as Json;
      if (current.everywhere !== undefined) {
        const all = locations(body);
        const names = [...new Set(all.map((location) => location[location.length - 1]).filter((segment) => typeof segment === 'string'))];
        const name = names[current.everywhere % names.length];
        for (const location of all.filter((location) => location[location.length - 1] === name).reverse()) apply(body, location, current.edit);
      } else if (current.pattern !== undefined) {
        for (const location of expand(body, current.pattern).reverse()) apply(body, location, current.edit);
      } else {
        const all = locations(body);
        if (all.length > 0) apply(body, all[(current.pick ?? 0) % all.length]!, current.edit);
      }
      return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
    };
}

/** Codes an edited Katapult answer may bring: its refusal, or an object it named that is not there. */
const EXPECTED_CODES = new Set(['UPSTREAM_UNAVAILABLE', 'NOT_FOUND']);

function checkContract(response: GatewayResponse, what: string): void {
  const { body, text, status } = response;
  expect(status, what).toBe(200);
  expect(body.data, `${what}: a response with data`).toBeDefined();
  for (const error of body.errors ?? []) {
    expect(EXPECTED_CODES.has(String(error.extensions?.code)), `${what}: ${error.extensions?.code} ${error.message}`).toBe(true);
    expect(error.path, `${what}: an error on a field`).toBeDefined();
    expect(typeof error.extensions?.requestId, what).toBe('string');
  }
  expect(text, what).not.toMatch(/\bat [\w.<>]+ \(|node:internal|node_modules|\/src\/|\.ts:\d+|file:\/\//);
  for (const secret of [token, userToken, LOAD_TOKEN_PREFIX]) expect(text, what).not.toContain(secret);
  expect(text, what).not.toContain('/core/v1');
}

let ids: Ids;
let shared: TestGateway | undefined;
let sharedPlan: Plan | null = null;
let runs = 0;
/** The endpoints each query of the menu reads, from a run with nothing edited: a run asks only the queries its edit can reach. */
let readers: Map<string, Set<string>> | undefined;
afterAll(async () => {
  await shared?.close();
});

beforeAll(async () => {
  const gateway = createTestGateway();
  try {
    const response = await gateway.query(
      `{ organization(subDomain: "globex") { id virtualMachines(first: 1) { edges { node { id zone { id dataCenter { id country { id } } } } } } }
        virtualMachinePackages(first: 1) { edges { node { id } } } gpuTypes(first: 1) { edges { node { id } } } }`,
      { token },
    );
    expect(response.body.errors).toBeUndefined();
    const data = response.body.data!;
    const vm = data.organization.virtualMachines.edges[0].node;
    ids = {
      vm: vm.id,
      package: data.virtualMachinePackages.edges[0].node.id,
      country: vm.zone.dataCenter.country.id,
      gpuType: data.gpuTypes.edges[0].node.id,
      zone: vm.zone.id,
      dataCenter: vm.zone.dataCenter.id,
      organization: data.organization.id,
    };
  } finally {
    await gateway.close();
  }
});

/**
 * Each run's organization-token queries go through one gateway under a token of their own (the
 * simulator's load tokens act for globex), so no run reads another's cached answers; a gateway
 * per run would do as well but keeps some 15 MB alive for a while after it is closed, which
 * a few hundred runs add up to. The viewer needs a user token, so it gets a gateway per run.
 */
async function runMenu(plan: Plan): Promise<Array<{ name: string; response: GatewayResponse }>> {
  shared ??= createTestGateway({ wrapFetch: editing(() => sharedPlan) });
  sharedPlan = plan;
  const runToken = `${LOAD_TOKEN_PREFIX}answer-fuzz-${++runs}`;
  const answers: Array<{ name: string; response: GatewayResponse }> = [];
  for (const query of menu(ids)) {
    if (readers && !readers.get(query.name)!.has(ONLY_PAST_LIST[plan.path]?.path ?? plan.path)) continue;
    if (query.token === token) {
      answers.push({ name: query.name, response: await shared.query(query.document, { token: runToken }) });
      continue;
    }
    const own = createTestGateway({ wrapFetch: editing(() => plan) });
    try {
      answers.push({ name: query.name, response: await own.query(query.document, { token: query.token }) });
    } finally {
      await own.close();
    }
  }
  return answers;
}

const describePlan = (plan: Plan) => JSON.stringify(plan);

describe('edited Katapult answers', () => {
  it('the menu answers cleanly when nothing is edited, and reads every endpoint', async () => {
    const found = new Map<string, Set<string>>();
    for (const query of menu(ids)) {
      const gateway = createTestGateway();
      try {
        const response = await gateway.query(query.document, { token: query.token });
        expect(response.body.errors, query.name).toBeUndefined();
        found.set(query.name, new Set(gateway.sim.requests.map((r) => r.path.replace(/^\/core\/v1/, ''))));
      } finally {
        await gateway.close();
      }
    }
    for (const path of ENDPOINTS.filter((path) => !ONLY_PAST_LIST[path])) expect([...found.values()].some((paths) => paths.has(path)), path).toBe(true);
    readers = found;
  });

  /** Edits of any endpoint's answer, placed by a number `place` turns into a plan: every query reading it keeps the contract. */
  const keepsContract = (place: (n: number) => Pick<Plan, 'pick' | 'everywhere'>, numRuns: number) =>
    fc.assert(
      fc.asyncProperty(fc.constantFrom(...ENDPOINTS), editArb, fc.nat({ max: 10_000 }), async (path, edit, n) => {
        const plan: Plan = { path, edit, ...place(n) };
        for (const { name, response } of await runMenu(plan)) checkContract(response, `${name} after ${describePlan(plan)}`);
      }),
      { seed: SEED, numRuns },
    );

  it('any edit anywhere: data or a coded error on the fields it touches, never an internal error', () => keepsContract((pick) => ({ pick }), 400));

  it('one field edited wherever it is: data or a coded error, never an internal error', () => keepsContract((everywhere) => ({ everywhere }), 300));

  it('gaps the reference allows: null or left out, the answer is data', async () => {
    const gaps = Object.entries(ALLOWED_GAPS).flatMap(([path, patterns]) => patterns.map((pattern) => ({ path, pattern })));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...gaps), fc.constantFrom<Edit>({ kind: 'delete' }, { kind: 'set', value: null }), async ({ path, pattern }, edit) => {
        const plan: Plan = { path, edit, pattern };
        for (const { name, response } of await runMenu(plan)) {
          const what = `${name} after ${describePlan(plan)}`;
          checkContract(response, what);
          expect(response.body.errors, what).toBeUndefined();
        }
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('pagination objects with odd values: data or UPSTREAM_UNAVAILABLE, never an internal error', async () => {
    const paged = ['/organizations/organization/virtual_machines', '/virtual_machine_packages', '/countries', '/gpu_types'];
    const count = fc.constantFrom<Json | undefined>(undefined, null, 0, 1, 2, 3, 7, -1, 1.5, 2 ** 31, '1', true);
    const paginationArb = fc.record(
      { current_page: count, total_pages: count, total: count, per_page: count, large_set: fc.constantFrom<Json | undefined>(undefined, true, false, null, 'true') },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paged), paginationArb, async (path, changes) => {
        const plan: Plan = { path, edit: { kind: 'pagination', changes: changes as Record<string, Json | undefined> } };
        for (const { name, response } of await runMenu(plan)) checkContract(response, `${name} after ${describePlan(plan)}`);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('unknown fields anywhere are ignored', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ENDPOINTS), fc.nat({ max: 10_000 }), async (path, pick) => {
        const plan: Plan = { path, edit: { kind: 'extra', key: 'unknown_field', value: { nested: [1, 'x', null] } }, pick };
        for (const { name, response } of await runMenu(plan)) {
          const what = `${name} after ${describePlan(plan)}`;
          checkContract(response, what);
          expect(response.body.errors, what).toBeUndefined();
        }
      }),
      { seed: SEED, numRuns: 40 },
    );
  });
});
