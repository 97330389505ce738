import { describe, expect, it } from 'vitest';
import { createSimulator, DEMO_TOKENS, VM_COUNTS } from '../../src/simulator/index.js';
import { get } from './client.js';

const GLOBEX_VMS = '/organizations/organization/virtual_machines?organization[sub_domain]=globex';
const ACME_VMS = '/organizations/organization/virtual_machines?organization[sub_domain]=acme';
const ENDPOINT = 'CoreAPI/Endpoints/VirtualMachines/ListEndpoint/BaseArgumentSet';

describe('simulator pagination', () => {
  it('defaults to page 1 of 30 and sends the pagination keys in the real order', async () => {
    const res = await get(createSimulator(), '/virtual_machine_packages', DEMO_TOKENS.acme);
    expect(Object.keys(res.json)).toEqual(['pagination', 'virtual_machine_packages']);
    expect(Object.keys(res.json.pagination)).toEqual(['current_page', 'total_pages', 'total', 'per_page', 'large_set']);
    expect(res.json.pagination).toEqual({ current_page: 1, total_pages: 1, total: 20, per_page: 30, large_set: false });
    expect(res.text.startsWith('{"pagination":{"current_page":1,"total_pages":1,"total":20,"per_page":30,"large_set":false}')).toBe(true);
  });

  it('pages through a small organization and returns a short last page', async () => {
    const sim = createSimulator();
    const first = await get(sim, `${GLOBEX_VMS}&per_page=5`, DEMO_TOKENS.globex);
    expect(first.json.pagination).toEqual({ current_page: 1, total_pages: 3, total: VM_COUNTS.globex.live, per_page: 5, large_set: false });
    const last = await get(sim, `${GLOBEX_VMS}&per_page=5&page=3`, DEMO_TOKENS.globex);
    expect(last.json.virtual_machines).toHaveLength(VM_COUNTS.globex.live - 10);
    const expected = sim.visibleVirtualMachines(DEMO_TOKENS.globex, 'globex').slice(10).map((vm) => vm.id);
    expect(last.json.virtual_machines.map((vm: { id: string }) => vm.id)).toEqual(expected);
  });

  it('returns an empty page with current_page echoed past the end', async () => {
    const res = await get(createSimulator(), `${GLOBEX_VMS}&page=9`, DEMO_TOKENS.globex);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ pagination: { current_page: 9, total_pages: 1, total: 12, per_page: 30, large_set: false }, virtual_machines: [] });
  });

  it('reports zero pages and zero total for an empty set', async () => {
    const res = await get(createSimulator(), `${GLOBEX_VMS}&annotations[][key]=no-such-key`, DEMO_TOKENS.globex);
    expect(res.json).toEqual({ pagination: { current_page: 1, total_pages: 0, total: 0, per_page: 30, large_set: false }, virtual_machines: [] });
  });

  it('accepts per_page=200 and echoes it', async () => {
    const res = await get(createSimulator(), `${ACME_VMS}&per_page=200`, DEMO_TOKENS.acme);
    expect(res.status).toBe(200);
    expect(res.json.pagination.per_page).toBe(200);
    expect(res.json.virtual_machines).toHaveLength(200);
  });

  it('rejects per_page=201 with invalid_argument naming the less_than_or_equal_to_one_hundred validation', async () => {
    const res = await get(createSimulator(), `${ACME_VMS}&per_page=201`, DEMO_TOKENS.acme);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-api-schema')).toBe('json-error');
    expect(res.json).toEqual({
      error: {
        code: 'invalid_argument',
        description: "The 'per_page' argument is invalid",
        detail: {
          path: ['per_page'],
          index: null,
          issue: 'validation_errors',
          issue_description: null,
          errors: ['less_than_or_equal_to_one_hundred'],
          argument: { id: `${ENDPOINT}/PerPageArgument`, name: 'per_page', description: null },
        },
      },
    });
  });

  it.each([
    ['per_page=0', 'per_page'],
    ['per_page=-3', 'per_page'],
    ['page=0', 'page'],
  ])('rejects %s with the greater_than_zero validation', async (query, name) => {
    const res = await get(createSimulator(), `${ACME_VMS}&${query}`, DEMO_TOKENS.acme);
    expect(res.status).toBe(400);
    expect(res.json.error.detail).toMatchObject({ path: [name], issue: 'validation_errors', errors: ['greater_than_zero'] });
  });

  it.each(['per_page=ten', 'per_page=1.5', 'page=2x'])('rejects the non-integer %s with a parse_error issue', async (query) => {
    const res = await get(createSimulator(), `${ACME_VMS}&${query}`, DEMO_TOKENS.acme);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_argument');
    expect(res.json.error.detail.issue).toBe('parse_error');
    expect(res.json.error.detail.errors).toEqual(['Integer must be provided as an integer or a string only containing numbers']);
    expect(res.json.error.detail.issue_description).toMatch(/^The value provided could not be parsed/);
  });

  it('marks the 1,250-VM organization as a large set with null totals on every page', async () => {
    const sim = createSimulator();
    const first = await get(sim, ACME_VMS, DEMO_TOKENS.acme);
    expect(first.json.pagination).toEqual({ current_page: 1, total_pages: null, total: null, per_page: 30, large_set: true });
    const tail = await get(sim, `${ACME_VMS}&per_page=200&page=7`, DEMO_TOKENS.acme);
    expect(tail.json.pagination.large_set).toBe(true);
    expect(tail.json.virtual_machines).toHaveLength(VM_COUNTS.acme.live - 1200);
  });

  it('counts the filtered set, so a filtered large organization can report totals', async () => {
    const sim = createSimulator();
    const expected = sim.dataset.liveVirtualMachines(sim.dataset.organizations[0]!.id).filter((vm) => vm.annotations.some((a) => a.key === 'team' && a.value === 'payments')).length;
    expect(expected).toBeLessThan(1000);
    const res = await get(sim, `${ACME_VMS}&annotations[][key]=team&annotations[][value]=payments`, DEMO_TOKENS.acme);
    expect(res.json.pagination).toMatchObject({ total: expected, large_set: false });
  });

  it('paginates countries and GPU types the same way', async () => {
    const sim = createSimulator();
    const countries = await get(sim, '/countries?per_page=3&page=2', DEMO_TOKENS.acme);
    expect(countries.json.pagination).toEqual({ current_page: 2, total_pages: 2, total: 4, per_page: 3, large_set: false });
    expect(countries.json.countries).toEqual([{ id: sim.dataset.countries[3]!.id, name: 'Germany' }]);
    const gpus = await get(sim, '/gpu_types', DEMO_TOKENS.acme);
    expect(gpus.json.pagination.total).toBe(3);
  });
});
