import { describe, expect, it, vi } from 'vitest';
import { createKatapultData } from '../../src/data/katapult-data.js';
import type { KatapultSource, SourceCall } from '../../src/data/katapult-source.js';
import { createRequestStats, type RequestScope } from '../../src/data/request-scope.js';

const pkg = (id: string, name: string) => ({ id, name, permalink: name.toLowerCase() });
const list = (rows: ReturnType<typeof pkg>[]) => ({
  pagination: { current_page: 1, total_pages: 1, total: rows.length, per_page: 200, large_set: false },
  virtual_machine_packages: rows,
});

/** Answers the package list per organization (by whatever lookup it was given) and records every read. */
function fakeSource() {
  const calls: SourceCall[] = [];
  const source: KatapultSource = {
    get<T>(_scope: RequestScope, call: SourceCall): T {
      calls.push(call);
      const org = call.params?.find(([name]) => name.startsWith('organization['))?.[1];
      if (org === 'acme' || org === 'org_acme') return list([pkg('vmpkg_a1', 'ROCK-3'), pkg('vmpkg_a2', 'ACME-ONLY')]) as T;
      if (org === 'globex') return list([pkg('vmpkg_g1', 'ROCK-3')]) as T;
      // A private package named as a public one: Katapult does not say names are unique.
      if (org === 'initech') return list([pkg('vmpkg_p1', 'ROCK-3'), pkg('vmpkg_i1', 'ROCK-3'), pkg('vmpkg_i2', 'INITECH-ONLY')]) as T;
      return list([pkg('vmpkg_p1', 'ROCK-3'), pkg('vmpkg_p2', 'PUBLIC-ONLY')]) as T;
    },
  };
  return { source, calls };
}

describe('packageByName, as every VM on a page asks it', () => {
  it('looks each name up once per request, however many VMs name it', () => {
    const { source } = fakeSource();
    const data = createKatapultData(source, {} as RequestScope, 200);
    const pages = vi.spyOn(data, 'packagesPage');
    for (let vm = 0; vm < 30; vm++) expect(data.packageByName({ sub_domain: 'acme' }, 'ROCK-3')).toMatchObject({ id: 'vmpkg_a1' });
    expect(pages).toHaveBeenCalledTimes(1);
  });

  it('keeps organizations, their two names, and the public list apart', () => {
    const { source, calls } = fakeSource();
    const data = createKatapultData(source, {} as RequestScope, 200);
    expect(data.packageByName({ sub_domain: 'acme' }, 'ROCK-3')).toMatchObject({ id: 'vmpkg_a1' });
    expect(data.packageByName({ sub_domain: 'globex' }, 'ROCK-3')).toMatchObject({ id: 'vmpkg_g1' });
    expect(data.packageByName({ id: 'org_acme' }, 'ACME-ONLY')).toMatchObject({ id: 'vmpkg_a2' });
    expect(data.packageByName(null, 'ROCK-3')).toMatchObject({ id: 'vmpkg_p1' });
    // Not in the organization's list: the public list is the fallback, for that organization only.
    expect(data.packageByName({ sub_domain: 'globex' }, 'PUBLIC-ONLY')).toMatchObject({ id: 'vmpkg_p2' });
    expect(data.packageByName({ sub_domain: 'globex' }, 'NOWHERE')).toBeNull();
    expect(new Set(calls.map((c) => JSON.stringify(c.params))).size).toBe(4);
  });

  it('picks no package for a name several packages of the list share, nor the public one of that name', () => {
    const { source } = fakeSource();
    const data = createKatapultData(source, {} as RequestScope, 200);
    expect(data.packageByName({ sub_domain: 'initech' }, 'ROCK-3')).toBeNull();
    // The other names of the same list are still found.
    expect(data.packageByName({ sub_domain: 'initech' }, 'INITECH-ONLY')).toMatchObject({ id: 'vmpkg_i2' });
    expect(data.packageByName({ sub_domain: 'acme' }, 'ROCK-3')).toMatchObject({ id: 'vmpkg_a1' });
  });

  it('does not share a lookup between requests', () => {
    const { source, calls } = fakeSource();
    createKatapultData(source, {} as RequestScope, 200).packageByName({ sub_domain: 'acme' }, 'ROCK-3');
    createKatapultData(source, {} as RequestScope, 200).packageByName({ sub_domain: 'acme' }, 'ROCK-3');
    expect(calls).toHaveLength(2);
  });
});

describe('searching a paginated list', () => {
  /** Two full pages of GPU types and a short third, with `total_pages` and `total` as `pagination` gives them. */
  function gpuPages(pagination: (page: number) => Record<string, unknown>) {
    const calls: number[] = [];
    const source: KatapultSource = {
      get<T>(_scope: RequestScope, call: SourceCall): T {
        const page = Number(call.params?.find(([name]) => name === 'page')?.[1]);
        calls.push(page);
        const count = page < 3 ? 2 : page === 3 ? 1 : 0;
        const rows = Array.from({ length: count }, (_, index) => ({ id: `gput_${page}_${index}`, name: `GPU ${page}.${index}`, permalink: `gpu-${page}-${index}` }));
        return { pagination: { current_page: page, per_page: 2, large_set: false, ...pagination(page) }, gpu_types: rows } as T;
      },
    };
    return { data: createKatapultData(source, {} as RequestScope, 2), calls };
  }

  it('reads on past the first page when Katapult leaves out total_pages (the answer check allows it), stopping at the short page', () => {
    const { data, calls } = gpuPages(() => ({}));
    expect(data.gpuTypeInList('gput_3_0')).toMatchObject({ name: 'GPU 3.0' });
    expect(data.gpuTypeInList('gput_9_9')).toBeNull();
    expect(calls).toEqual([1, 2, 3]);
  });

  it('stops at a page answered as another (a server that gives its last page for any page past the end)', () => {
    const calls: number[] = [];
    const source: KatapultSource = {
      get<T>(_scope: RequestScope, call: SourceCall): T {
        const asked = Number(call.params?.find(([name]) => name === 'page')?.[1]);
        calls.push(asked);
        // Two full pages and nothing after, uncounted: page 3 comes back as page 2.
        const page = Math.min(asked, 2);
        const rows = Array.from({ length: 2 }, (_, index) => ({ id: `gput_${page}_${index}`, name: `GPU ${page}.${index}`, permalink: `gpu-${page}-${index}` }));
        return { pagination: { current_page: page, per_page: 2, large_set: true, total: null, total_pages: null }, gpu_types: rows } as T;
      },
    };
    const data = createKatapultData(source, {} as RequestScope, 2);
    expect(data.gpuTypeInList('gput_9_9')).toBeNull();
    expect(calls).toEqual([1, 2, 3]);
  });

  it('goes by total_pages when there is one', () => {
    const { data, calls } = gpuPages(() => ({ total_pages: 2, total: 4 }));
    expect(data.gpuTypeInList('gput_3_0')).toBeNull();
    expect(calls).toEqual([1, 2]);
  });
});

describe('opening reads and prefetch', () => {
  const scope = () => ({ stats: createRequestStats() }) as RequestScope;
  /** Every read waits until `answer` is called: as cold reads do. */
  function pendingSource() {
    const calls: SourceCall[] = [];
    const waiting: Array<{ call: SourceCall; resolve(value: unknown): void; reject(error: unknown): void }> = [];
    const source: KatapultSource = {
      get<T>(_scope: RequestScope, call: SourceCall): Promise<T> {
        calls.push(call);
        return new Promise<T>((resolve, reject) => waiting.push({ call, resolve: resolve as (value: unknown) => void, reject }));
      },
    };
    return { source, calls, waiting };
  }

  it('lists the reads asked for before any answer was seen, and none after', async () => {
    const { source, waiting } = pendingSource();
    const data = createKatapultData(source, scope(), 200);
    const page = data.virtualMachinesPage({ sub_domain: 'acme' }, [], 1);
    void data.dataCenters();
    // The same read twice is listed once.
    void data.dataCenters();
    expect(data.openingReads().map((r) => r.path)).toEqual(['/organizations/organization/virtual_machines', '/data_centers']);
    waiting[0]!.resolve({ virtual_machines: [] });
    await page;
    // Asked for after an answer: it may depend on that answer, so it is not part of the opening.
    void data.zones();
    expect(data.openingReads().map((r) => r.path)).toEqual(['/organizations/organization/virtual_machines', '/data_centers']);
  });

  it('ends the opening at a cached answer handed over at once, and at an error thrown at once', () => {
    const hit = createKatapultData({ get: <T>() => ({ data_centers: [] }) as T }, scope(), 200);
    void hit.dataCenters();
    void hit.zones();
    expect(hit.openingReads().map((r) => r.path)).toEqual(['/data_centers']);

    const { source } = pendingSource();
    const failing = createKatapultData(
      {
        get: <T>(requestScope: RequestScope, call: SourceCall) => {
          if (call.path === '/data_centers') throw new Error('refused');
          return source.get<T>(requestScope, call);
        },
      },
      scope(),
      200,
    );
    expect(() => failing.dataCenters()).toThrow('refused');
    // Asked for after the error: it may depend on it.
    void failing.zones();
    expect(failing.openingReads()).toEqual([]);
  });

  it('lists a prefetched read when a resolver asks for it before any answer, and not after', async () => {
    const { source, waiting } = pendingSource();
    const data = createKatapultData(source, scope(), 200);
    data.prefetch([
      { path: '/data_centers', kind: 'dataCenters' },
      { path: '/zones', kind: 'zones' },
    ]);
    // Prefetched but not asked for yet: not part of this request's opening.
    expect(data.openingReads()).toEqual([]);
    const centers = data.dataCenters();
    waiting[0]!.resolve({ data_centers: [] });
    await centers;
    void data.zones();
    expect(data.openingReads().map((r) => r.path)).toEqual(['/data_centers']);
  });

  it('leaves refreshes out of the opening', () => {
    const { source } = pendingSource();
    const data = createKatapultData(source, scope(), 200);
    void data.countriesPage(1, true);
    expect(data.openingReads()).toEqual([]);
  });

  it('starts prefetched reads at once and hands the same read to the resolver that asks, without a second call', async () => {
    const { source, calls, waiting } = pendingSource();
    const first = createKatapultData(source, scope(), 200);
    void first.virtualMachinesPage({ sub_domain: 'acme' }, [], 1);
    void first.dataCenters();
    const opening = first.openingReads();

    const requestScope = scope();
    const second = createKatapultData(source, requestScope, 200);
    // It says the request now waits on Katapult (so the edge lets the calls go out before yoga runs).
    expect(second.prefetch(opening)).toBe(true);
    expect(calls).toHaveLength(4);
    expect(requestScope.stats.prefetched).toBe(2);
    const page = second.virtualMachinesPage({ sub_domain: 'acme' }, [], 1);
    const centers = second.dataCenters();
    expect(calls).toHaveLength(4);
    waiting[2]!.resolve({ virtual_machines: [{ id: 'vm_1' }] });
    waiting[3]!.resolve({ data_centers: [] });
    await expect(page).resolves.toEqual({ virtual_machines: [{ id: 'vm_1' }] });
    await expect(centers).resolves.toEqual({ data_centers: [] });
    // Prefetching what the request already reads starts nothing more.
    expect(second.prefetch(opening)).toBe(false);
    expect(calls).toHaveLength(4);
    // Reads the cache answers at once start no call to wait for.
    const cached = createKatapultData({ get: <T>() => ({ data_centers: [] }) as T }, scope(), 200);
    expect(cached.prefetch(opening)).toBe(false);
  });

  it('gives a prefetched read that failed to the resolver that asks, as its own failure, with no second call', async () => {
    const { source, calls, waiting } = pendingSource();
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const data = createKatapultData(source, scope(), 200);
      data.prefetch([{ path: '/data_centers', kind: 'dataCenters' }, { path: '/zones', kind: 'zones' }]);
      waiting[0]!.reject(new Error('upstream down'));
      // A prefetched read no resolver asks for fails quietly.
      waiting[1]!.reject(new Error('upstream down'));
      await new Promise((resolve) => setTimeout(resolve, 10));
      await expect(data.dataCenters()).rejects.toThrow('upstream down');
      expect(calls).toHaveLength(2);
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});
