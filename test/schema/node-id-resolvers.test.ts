import { GraphQLObjectType, type GraphQLResolveInfo } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/schema/index.js';

/**
 * A node's `id` is resolved synchronously when the id is in hand. The relay plugin's own
 * resolver is `async`, which made every id of every item a promise for the executor to await
 * (see buildSchema); the answers are the same either way (nodes.test.ts checks them).
 */
describe('node id resolvers', () => {
  const schema = buildSchema();
  const nodeTypes = Object.values(schema.getTypeMap()).filter(
    (type): type is GraphQLObjectType => type instanceof GraphQLObjectType && type.getInterfaces().some((i) => i.name === 'Node'),
  );

  it('covers every Node type, none through an async function', () => {
    expect(nodeTypes.map((t) => t.name).sort()).toEqual(['Country', 'DataCenter', 'GpuType', 'Organization', 'VirtualMachine', 'VirtualMachinePackage', 'Zone']);
    for (const type of nodeTypes) expect(type.getFields().id!.resolve?.constructor.name, type.name).toBe('Function');
  });

  it.each([
    ['VirtualMachine', { id: 'vm_abc' }, 'vm_abc'],
    ['Zone', { id: 'zone_abc' }, 'zone_abc'],
    ['DataCenter', { id: 'dc_abc' }, 'dc_abc'],
    ['Country', { id: 'ctry_abc' }, 'ctry_abc'],
    ['GpuType', { id: 'gput_abc' }, 'gput_abc'],
    ['Organization', { lookup: { id: 'org_abc' } }, 'org_abc'],
  ])('%s: returns the id itself, not a promise of it', (name, parent, expected) => {
    const resolve = (schema.getType(name) as GraphQLObjectType).getFields().id!.resolve!;
    expect(resolve(parent, {}, {}, {} as GraphQLResolveInfo)).toBe(expected);
  });
});
