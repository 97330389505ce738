import { describe, expect, it, vi } from 'vitest';
import { createKatapultData } from '../../src/data/katapult-data.js';
import type { KatapultSource, SourceCall } from '../../src/data/katapult-source.js';
import type { RequestScope } from '../../src/data/request-scope.js';

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

  it('does not share a lookup between requests', () => {
    const { source, calls } = fakeSource();
    createKatapultData(source, {} as RequestScope, 200).packageByName({ sub_domain: 'acme' }, 'ROCK-3');
    createKatapultData(source, {} as RequestScope, 200).packageByName({ sub_domain: 'acme' }, 'ROCK-3');
    expect(calls).toHaveLength(2);
  });
});
