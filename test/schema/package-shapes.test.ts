import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_TOKENS } from '../../src/simulator/index.js';
import type { FetchLike } from '../../src/upstream/http.js';
import { createTestGateway, requestsTo, rewritingAnswers, type TestGateway } from '../helpers/gateway.js';

/**
 * Katapult's references disagree on what a package record holds. Apia's list endpoint names a
 * subset of fields (and only the icon's URL), and Apia's package object has no `group`; the
 * OpenAPI document and recorded answers have everything. A VM list names its package only, and
 * a package may no longer be in any list. The simulator always sends the full shape, so these
 * tests rewrite its answers.
 */

type Body = Record<string, any>;

/** The fields Apia's package list endpoint names, with the icon reduced to its URL. */
const LIST_FIELDS = ['id', 'name', 'permalink', 'cpu_cores', 'memory_in_gb', 'storage_in_gb', 'privacy', 'ipv4_addresses', 'icon'];
const apiaPackageList = rewritingAnswers(/\/virtual_machine_packages$/, (body) => {
  body.virtual_machine_packages = body.virtual_machine_packages.map((full: Body) => {
    const short: Body = Object.fromEntries(LIST_FIELDS.map((name) => [name, full[name]]));
    if (full.icon) short.icon = { url: full.icon.url };
    return short;
  });
});

const PACKAGE_FIELDS = 'id name cpuCores useDedicatedCpus monthlyBandwidthAllowanceInGb group { id name } icon { url fileName fileSize }';
const PACKAGES = `{ virtualMachinePackages(first: 100) { edges { node { ${PACKAGE_FIELDS} } } } }`;

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

describe('package records', () => {
  it('a list in Apia’s shorter shape: the missing fields come from each package’s own record', async () => {
    gateway = createTestGateway();
    const full = await gateway.query(PACKAGES, { token: DEMO_TOKENS.globex });
    expect(full.body.errors).toBeUndefined();
    expect(requestsTo(gateway.sim, '/virtual_machine_packages/virtual_machine_package')).toHaveLength(0);
    await gateway.close();

    gateway = createTestGateway({ wrapFetch: apiaPackageList });
    const short = await gateway.query(PACKAGES, { token: DEMO_TOKENS.globex });
    expect(short.body.errors).toBeUndefined();
    expect(short.body.data).toEqual(full.body.data);
    const packages = (full.body.data!.virtualMachinePackages.edges as unknown[]).length;
    expect(packages).toBeGreaterThan(1);
    // One read per package, shared by all of its fields.
    expect(requestsTo(gateway.sim, '/virtual_machine_packages/virtual_machine_package')).toHaveLength(packages);
  });

  it('a name two packages of the list share: the VM’s own record says which package the VM has', async () => {
    const query = '{ organization(subDomain: "globex") { virtualMachines(first: 5) { edges { node { id package { id name cpuCores } } } } } }';
    gateway = createTestGateway();
    const plain = await gateway.query(query, { token: DEMO_TOKENS.globex });
    expect(plain.body.errors).toBeUndefined();
    await gateway.close();

    // Each package gets a private twin of the same name, listed before it: nothing in Katapult's
    // reference makes a name unique, and a VM list names its package only.
    const withTwins = rewritingAnswers(/\/virtual_machine_packages$/, (body) => {
      const twins = body.virtual_machine_packages.map((p: Body) => ({ ...p, id: `${p.id}_twin`, cpu_cores: 999, privacy: 'private' }));
      body.virtual_machine_packages = [...twins, ...body.virtual_machine_packages];
    });
    gateway = createTestGateway({ wrapFetch: withTwins });
    const twinned = await gateway.query(query, { token: DEMO_TOKENS.globex });
    expect(twinned.body.errors).toBeUndefined();
    expect(twinned.body.data).toEqual(plain.body.data);
    // Read from each VM's own record, since the list could not tell.
    expect(requestsTo(gateway.sim, '/virtual_machines/virtual_machine').length).toBeGreaterThan(0);
  });

  it('a list that has every field asked for costs no other call', async () => {
    gateway = createTestGateway({ wrapFetch: apiaPackageList });
    const { body } = await gateway.query('{ virtualMachinePackages(first: 100) { edges { node { name cpuCores memoryInGb icon { url } } } } }', { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    expect(requestsTo(gateway.sim, '/virtual_machine_packages/virtual_machine_package')).toHaveLength(0);
  });

  it('a list that leaves out a package’s privacy: it comes from the package’s own record, not as UNKNOWN', async () => {
    const noPrivacy = rewritingAnswers(/\/virtual_machine_packages$/, (body) => {
      for (const pkg of body.virtual_machine_packages) delete pkg.privacy;
    });
    gateway = createTestGateway({ wrapFetch: noPrivacy });
    const { body } = await gateway.query('{ virtualMachinePackages(first: 100) { edges { node { id privacy } } } }', { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    const edges = body.data!.virtualMachinePackages.edges as Array<{ node: { id: string; privacy: string } }>;
    expect(edges.length).toBeGreaterThan(1);
    const own = new Map(gateway.sim.dataset.packages.map((p) => [p.package.id, p.package.privacy.toUpperCase()]));
    for (const { node } of edges) expect(node.privacy).toBe(own.get(node.id));
    expect(requestsTo(gateway.sim, '/virtual_machine_packages/virtual_machine_package')).toHaveLength(edges.length);
  });

  it('a list whose icons carry some of the file’s details: the rest come from the package’s own record', async () => {
    const someDetails = rewritingAnswers(/\/virtual_machine_packages$/, (body) => {
      for (const pkg of body.virtual_machine_packages) if (pkg.icon) delete pkg.icon.file_type;
    });
    gateway = createTestGateway({ wrapFetch: someDetails });
    const { body } = await gateway.query('{ virtualMachinePackages(first: 100) { edges { node { id icon { url fileName fileType } } } } }', { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    const own = new Map(gateway.sim.dataset.packages.map((p) => [p.package.id, p.package.icon?.file_type ?? null]));
    const edges = body.data!.virtualMachinePackages.edges as Array<{ node: { id: string; icon: { fileType: string } | null } }>;
    const withIcons = edges.filter(({ node }) => node.icon !== null);
    expect(withIcons.length).toBeGreaterThan(0);
    for (const { node } of withIcons) expect(node.icon!.fileType).toBe(own.get(node.id));
  });

  it('a package record without `group` (Apia’s object has none) gives group: null and keeps the package', async () => {
    const noGroup = rewritingAnswers(/\/virtual_machine(_package)?s?(\/virtual_machine(_package)?)?$/, (body) => {
      for (const pkg of [body.virtual_machine_package, body.virtual_machine?.package, ...(body.virtual_machine_packages ?? [])]) if (pkg) delete pkg.group;
    });
    gateway = createTestGateway({ wrapFetch: noGroup });
    const vm = gateway.sim.dataset.virtualMachines.find((v) => v.trash === null && v.virtualMachine.organization.sub_domain === 'globex' && v.virtualMachine.package)!;
    const { body } = await gateway.query(`{ virtualMachine(id: "${vm.virtualMachine.id}") { package { name cpuCores group { name } } } }`, { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    expect(body.data!.virtualMachine.package).toEqual({ name: vm.virtualMachine.package!.name, cpuCores: vm.virtualMachine.package!.cpu_cores, group: null });
  });

  it('a package read from a full record is not looked up again for a field that record lacks', async () => {
    const noGroup = rewritingAnswers(/\/virtual_machines\/virtual_machine$/, (body) => {
      delete body.virtual_machine?.package?.group;
    });
    gateway = createTestGateway({ wrapFetch: noGroup });
    const vm = gateway.sim.dataset.virtualMachines.find((v) => v.trash === null && v.virtualMachine.organization.sub_domain === 'globex' && v.virtualMachine.package)!;
    const { body } = await gateway.query(`{ virtualMachine(id: "${vm.virtualMachine.id}") { package { name group { name } } } }`, { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    expect(body.data!.virtualMachine.package).toEqual({ name: vm.virtualMachine.package!.name, group: null });
    expect(requestsTo(gateway.sim, '/virtual_machine_packages/virtual_machine_package')).toHaveLength(0);
  });

  it('a VM list’s package that no package list offers any more is read from the VM’s own record', async () => {
    gateway = createTestGateway();
    const vm = gateway.sim.dataset.virtualMachines.find((v) => v.trash === null && v.virtualMachine.organization.sub_domain === 'globex' && v.virtualMachine.package)!;
    const retired = vm.virtualMachine.package!.name;
    await gateway.close();
    // Neither the organization's list nor the public one names it now.
    // Its own record is refused too (private to another organization now), and the VM's has no group.
    const retire = (simulator: FetchLike): FetchLike => {
      const lists = rewritingAnswers(/\/virtual_machine_packages$/, (body) => {
        body.virtual_machine_packages = body.virtual_machine_packages.filter((p: Body) => p.name !== retired);
      })(rewritingAnswers(/\/virtual_machines\/virtual_machine$/, (body) => delete body.virtual_machine?.package?.group)(simulator));
      return async (input, init) =>
        new URL(input).pathname.endsWith('/virtual_machine_package')
          ? new Response(JSON.stringify({ error: { code: 'package_not_found', description: 'gone', detail: {} } }), { status: 404, headers: { 'content-type': 'application/json' } })
          : lists(input, init);
    };
    gateway = createTestGateway({ wrapFetch: retire });
    const { body } = await gateway.query('{ organization(subDomain: "globex") { virtualMachines(first: 100) { edges { node { id package { name cpuCores group { name } } } } } } }', { token: DEMO_TOKENS.globex });
    expect(body.errors).toBeUndefined();
    const node = (body.data!.organization.virtualMachines.edges as Array<{ node: { id: string; package: unknown } }>).find((e) => e.node.id === vm.virtualMachine.id)!.node;
    expect(node.package).toEqual({ name: retired, cpuCores: vm.virtualMachine.package!.cpu_cores, group: null });
  });
});
