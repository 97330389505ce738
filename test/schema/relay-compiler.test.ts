import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import { createTestGateway, startLoopbackGateway, type GraphQLBody, type LoopbackGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * The printed schema as a Relay app meets it: Relay's own compiler (the release package.json
 * holds) compiles a small app against `schema.graphql`, and the operations it generates, with
 * the `id`, `__typename`, `cursor` and `pageInfo` selections it adds itself, run against the
 * gateway. Paging a connection runs the refetch query the compiler generated: `node(id:)` with
 * the organization's id and the cursor the first query gave.
 */
const SCHEMA = fileURLToPath(new URL('../../schema.graphql', import.meta.url));
const require = createRequire(import.meta.url);

/** The compiler's binary for this platform, as its launcher picks it; null where the package has none. */
function compilerBinary(): string | null {
  const root = dirname(require.resolve('relay-compiler/package.json'));
  const platform = process.platform === 'darwin' ? 'macos' : process.platform === 'win32' ? 'win' : process.platform;
  const binary = join(root, `${platform}-${process.arch}`, process.platform === 'win32' ? 'relay.exe' : 'relay');
  return existsSync(binary) ? binary : null;
}

const binary = compilerBinary();
if (binary === null) console.warn(`Skipping the Relay compiler test: relay-compiler has no binary for ${process.platform}-${process.arch}`);
const relayTest = binary === null ? it.skip : it;

/** The app: a paginated, refetchable VM list on an organization, a refetchable VM, and connections at the root. */
const APP = `
import { graphql } from 'react-relay';

export const dashboard = graphql\`
  query DashboardQuery($subDomain: String!, $count: Int!, $cursor: String) {
    organization(subDomain: $subDomain) {
      name
      ...Dashboard_virtualMachines @arguments(count: $count, cursor: $cursor)
    }
    viewer { firstName lastName organizations { name } }
    zones { ...Dashboard_zone }
  }
\`;

export const virtualMachines = graphql\`
  fragment Dashboard_virtualMachines on Organization
  @refetchable(queryName: "DashboardVirtualMachinesPaginationQuery")
  @argumentDefinitions(count: { type: "Int", defaultValue: 30 }, cursor: { type: "String" }) {
    virtualMachines(first: $count, after: $cursor) @connection(key: "Dashboard__virtualMachines") {
      totalCount
      edges { node { ...Dashboard_vm } }
    }
  }
\`;

export const vm = graphql\`
  fragment Dashboard_vm on VirtualMachine @refetchable(queryName: "DashboardVmRefetchQuery") {
    name
    hostname
    fqdn
    state
    createdAt
    zone { ...Dashboard_zone }
    package { name cpuCores memoryInGb }
    ipAddresses { address }
    hypervisor { id }
  }
\`;

export const zone = graphql\`
  fragment Dashboard_zone on Zone {
    name
    dataCenter { name country { name } }
  }
\`;

export const catalogue = graphql\`
  query CatalogueQuery($count: Int!, $cursor: String) {
    virtualMachinePackages(first: $count, after: $cursor) @connection(key: "Catalogue__virtualMachinePackages") {
      edges { node { name cpuCores } }
    }
    countries(first: 3) @connection(key: "Catalogue__countries") { edges { node { name } } }
  }
\`;

export const backwards = graphql\`
  query BackwardsQuery($subDomain: String!, $count: Int!, $cursor: String) {
    organization(subDomain: $subDomain) {
      virtualMachines(last: $count, before: $cursor) @connection(key: "Backwards__virtualMachines") {
        edges { node { name } }
      }
    }
  }
\`;
`;

/** Compiles the app in `dir` with these config options; the artifacts' directory. */
async function compile(dir: string, config: Record<string, unknown> = {}): Promise<string> {
  await mkdir(join(dir, 'src'), { recursive: true });
  await writeFile(join(dir, 'src', 'Dashboard.ts'), APP);
  await writeFile(join(dir, 'relay.config.json'), JSON.stringify({ src: './src', schema: SCHEMA, language: 'typescript', ...config }));
  await promisify(execFile)(binary!, ['--output', 'quiet'], { cwd: dir, timeout: 60_000 });
  return join(dir, 'src', '__generated__');
}

/** A JSON string literal's value, where the artifact has one for this property. */
const property = (source: string, name: string): string | undefined => {
  const literal = new RegExp(`"${name}":\\s*("(?:[^"\\\\]|\\\\.)*")`).exec(source)?.[1];
  return literal === undefined ? undefined : (JSON.parse(literal) as string);
};

/** Each generated operation's text (or, built with persisted queries, its id), by operation name, from the artifacts' `params`. */
async function operations(generated: string, what: 'text' | 'id'): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const file of await readdir(generated)) {
    const params = /"params":\s*\{([\s\S]*?)\n {2}\}/.exec(await readFile(join(generated, file), 'utf8'))?.[1];
    if (params === undefined || !/"operationKind":\s*"query"/.test(params)) continue;
    const name = property(params, 'name');
    const value = property(params, what);
    if (name !== undefined && value !== undefined) found.set(name, value);
  }
  return found;
}

/** Fields that reach the same kind of object as another. */
const SAME_KIND: Record<string, string> = { zones: 'zone', organizations: 'organization' };

/** Every object in an answer that has an `id`, with the field it was reached by. */
function identified(value: unknown, field = '', out: Array<{ id: string; field: string }> = []): Array<{ id: string; field: string }> {
  if (Array.isArray(value)) for (const item of value) identified(item, field, out);
  else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.id === 'string') out.push({ id: record.id, field });
    for (const [name, child] of Object.entries(record)) identified(child, name, out);
  }
  return out;
}

describe('a Relay app compiled against schema.graphql', () => {
  let work = '';
  let texts = new Map<string, string>();
  /** The same app built with Relay's local query persisting: ids, and the file of id → text it wrote. */
  let persistedIds = new Map<string, string>();
  let persistedFile = '';
  let gateway: TestGateway;

  beforeAll(async () => {
    // With the hypervisor Katapult sometimes names on VMs, so the app's every identified object is answered.
    gateway = createTestGateway({ simulatorOptions: { hypervisor: true } });
    if (binary === null) return;
    work = await mkdtemp(join(tmpdir(), 'relay-app-'));
    texts = await operations(await compile(join(work, 'plain')), 'text');
    persistedFile = join(work, 'persisted', 'persisted.json');
    await mkdir(dirname(persistedFile));
    // Relay writes its list into a file that must exist.
    await writeFile(persistedFile, '{}');
    persistedIds = await operations(await compile(join(work, 'persisted'), { persistConfig: { file: './persisted.json' } }), 'id');
  }, 90_000);

  afterAll(async () => {
    await gateway.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const run = async (name: string, variables: Record<string, unknown>, token: string = DEMO_TOKENS.user): Promise<GraphQLBody> => {
    const text = texts.get(name);
    if (text === undefined) throw new Error(`the compiler generated no ${name}; it generated ${[...texts.keys()].join(', ')}`);
    const response = await gateway.query(text, { token, variables });
    expect(response.body.errors, name).toBeUndefined();
    expect(response.status).toBe(200);
    return response.body;
  };

  relayTest('compiles, generating every operation the app declares', () => {
    expect([...texts.keys()].sort()).toEqual(['BackwardsQuery', 'CatalogueQuery', 'DashboardQuery', 'DashboardVirtualMachinesPaginationQuery', 'DashboardVmRefetchQuery']);
    // What the compiler adds on its own: ids for the store, cursors and page info for the connection.
    const dashboard = texts.get('DashboardQuery')!;
    expect(dashboard).toMatch(/pageInfo\s*\{\s*endCursor\s+hasNextPage\s*\}/);
    expect(dashboard).toMatch(/\bcursor\b/);
    // IPAddress's id is a String, so Relay does not select it (it costs a Katapult call per VM).
    expect(dashboard).toMatch(/ipAddresses\s*\{\s*address\s*\}/);
  });

  relayTest('answers the first page, and the next through the generated refetch query with the cursor it gave', async () => {
    const first = (await run('DashboardQuery', { subDomain: 'acme', count: 5 })).data!;
    const connection = first.organization.virtualMachines;
    expect(connection.edges).toHaveLength(5);
    // acme has 1,250 VMs: Katapult does not count a list of more than 1,000.
    expect(connection.totalCount).toBeNull();
    expect(connection.pageInfo.hasNextPage).toBe(true);
    expect(first.viewer.organizations.map((o: { name: string }) => o.name)).toContain(first.organization.name);
    expect(first.zones.length).toBeGreaterThan(0);

    // What Relay's loadNext sends: the organization by its id, and the page after the end cursor.
    const next = (await run('DashboardVirtualMachinesPaginationQuery', { id: first.organization.id, count: 5, cursor: connection.pageInfo.endCursor })).data!;
    expect(next.node.__typename).toBe('Organization');
    expect(next.node.id).toBe(first.organization.id);
    const straight = (await run('DashboardQuery', { subDomain: 'acme', count: 10 })).data!.organization.virtualMachines;
    const ids = (edges: Array<{ node: { id: string } }>) => edges.map((edge) => edge.node.id);
    expect([...ids(connection.edges), ...ids(next.node.virtualMachines.edges)]).toEqual(ids(straight.edges));
    expect(next.node.virtualMachines.pageInfo.hasNextPage).toBe(true);

    // And backwards from the second page's first item, as a connection with `last`/`before`.
    const back = (await run('BackwardsQuery', { subDomain: 'acme', count: 5, cursor: next.node.virtualMachines.edges[0].cursor })).data!;
    expect(ids(back.organization.virtualMachines.edges)).toEqual(ids(connection.edges));
  });

  relayTest('refetches a VM by its id through node(id:)', async () => {
    const first = (await run('DashboardQuery', { subDomain: 'acme', count: 1 })).data!;
    const vm = first.organization.virtualMachines.edges[0].node;
    const again = (await run('DashboardVmRefetchQuery', { id: vm.id })).data!;
    expect(again.node).toMatchObject({ __typename: 'VirtualMachine', id: vm.id, name: vm.name, fqdn: vm.fqdn });
  });

  relayTest('pages the root connections', async () => {
    const first = (await run('CatalogueQuery', { count: 2 }, DEMO_TOKENS.acme)).data!;
    expect(first.virtualMachinePackages.edges).toHaveLength(2);
    expect(first.countries.edges).toHaveLength(3);
    const next = (await run('CatalogueQuery', { count: 2, cursor: first.virtualMachinePackages.pageInfo.endCursor }, DEMO_TOKENS.acme)).data!;
    const names = (data: GraphQLBody['data']) => data!.virtualMachinePackages.edges.map((edge: { node: { id: string } }) => edge.node.id);
    expect(names(next)).toHaveLength(2);
    expect(names(next).filter((id: string) => names(first).includes(id))).toEqual([]);
  });

  relayTest('gives no two different objects one id, as Relay\'s store keys records by id alone', async () => {
    const answer = (await run('DashboardQuery', { subDomain: 'acme', count: 50 })).data!;
    const seen = identified(answer);
    // The answer must hold every kind of identified object the app selects, or the check proves little.
    expect(new Set(seen.map((entry) => entry.field))).toEqual(new Set(['organization', 'organizations', 'viewer', 'node', 'zone', 'zones', 'dataCenter', 'country', 'package', 'hypervisor']));
    const fieldsById = new Map<string, Set<string>>();
    for (const { id, field } of seen) fieldsById.set(id, (fieldsById.get(id) ?? new Set()).add(SAME_KIND[field] ?? field));
    const shared = [...fieldsById].filter(([, fields]) => fields.size > 1);
    expect(shared).toEqual([]);
  });

  relayTest('runs the build\'s persisted queries, its own file as the allow-list, by doc_id as its network layer sends them', async () => {
    expect([...persistedIds.keys()].sort()).toEqual([...texts.keys()].sort());
    const listed = JSON.parse(await readFile(persistedFile, 'utf8')) as Record<string, string>;
    expect(Object.keys(listed).sort()).toEqual([...persistedIds.values()].sort());
    const served: LoopbackGateway = await startLoopbackGateway({ env: { PERSISTED_OPERATIONS_FILE: persistedFile, PERSISTED_OPERATIONS_ONLY: 'true' } });
    try {
      const post = async (body: Record<string, unknown>) => {
        const response = await fetch(`${served.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_TOKENS.user}` },
          body: JSON.stringify(body),
        });
        return { status: response.status, body: (await response.json()) as GraphQLBody };
      };
      const first = await post({ doc_id: persistedIds.get('DashboardQuery'), query: null, variables: { subDomain: 'acme', count: 3 } });
      expect(first.body.errors).toBeUndefined();
      const organization = first.body.data!.organization;
      expect(organization.virtualMachines.edges).toHaveLength(3);
      const next = await post({
        doc_id: persistedIds.get('DashboardVirtualMachinesPaginationQuery'),
        query: null,
        variables: { id: organization.id, count: 3, cursor: organization.virtualMachines.pageInfo.endCursor },
      });
      expect(next.body.errors).toBeUndefined();
      expect(next.body.data!.node.virtualMachines.edges).toHaveLength(3);
      // A document the build did not list does not run; its listed text, sent as text, does.
      const unlisted = await post({ query: '{ zones { name } }' });
      expect(unlisted.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_ALLOWED');
      const asText = await post({ query: listed[persistedIds.get('DashboardQuery')!], variables: { subDomain: 'acme', count: 3 } });
      expect(asText.body.errors).toBeUndefined();
    } finally {
      await served.close();
    }
  });
});
