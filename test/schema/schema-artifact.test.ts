import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
  parse,
  validate,
  type GraphQLInterfaceType,
  type GraphQLNamedType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema, printGatewaySchema } from '../../src/schema/index.js';

const committedSchema = fileURLToPath(new URL('../../schema.graphql', import.meta.url));

/** Every element of our own schema that can carry a description, named by its schema coordinate. */
function describable(type: GraphQLNamedType): Array<[coordinate: string, description: string | null | undefined]> {
  const out: Array<[string, string | null | undefined]> = [[type.name, type.description]];
  if (isObjectType(type) || isInterfaceType(type)) {
    for (const field of Object.values(type.getFields())) {
      out.push([`${type.name}.${field.name}`, field.description]);
      for (const arg of field.args) out.push([`${type.name}.${field.name}(${arg.name}:)`, arg.description]);
    }
  }
  if (isInputObjectType(type)) {
    for (const field of Object.values(type.getFields())) out.push([`${type.name}.${field.name}`, field.description]);
  }
  if (isEnumType(type)) {
    for (const value of type.getValues()) out.push([`${type.name}.${value.name}`, value.description]);
  }
  return out;
}

const ownTypes = () =>
  Object.values(buildSchema().getTypeMap()).filter((type) => !isIntrospectionType(type) && !isSpecifiedScalarType(type));

describe('the schema artifact', () => {
  it('schema.graphql matches the schema the gateway serves', () => {
    const committed = readFileSync(committedSchema, 'utf8');
    expect(committed === printGatewaySchema(), 'schema.graphql is stale: run npm run schema').toBe(true);
  });

  it('describes every type, field, argument, enum value and input field', () => {
    const missing = ownTypes()
      .flatMap(describable)
      .filter(([, description]) => !description?.trim())
      .map(([coordinate]) => coordinate);
    expect(missing, `these have no description: ${missing.join(', ')}`).toEqual([]);
  });

  it('gives a field name one type on every Node type, so node/nodes can select it on several at once', () => {
    // graphql-js (and Relay's compiler) refuse `... on VirtualMachine { cpuCores } ... on
    // VirtualMachinePackage { cpuCores }` when one is Int and the other Int!: fields that
    // share a response name must share a type, whichever object each turns out to be.
    const schema = buildSchema();
    const byName = new Map<string, Map<string, string>>();
    for (const type of schema.getPossibleTypes(schema.getType('Node') as GraphQLInterfaceType)) {
      for (const field of Object.values(type.getFields())) {
        const seen = byName.get(field.name) ?? new Map<string, string>();
        seen.set(type.name, String(field.type));
        byName.set(field.name, seen);
      }
    }
    const conflicts = [...byName].filter(([, types]) => new Set(types.values()).size > 1).map(([name, types]) => `${name}: ${[...types].map(([t, f]) => `${t} ${f}`).join(', ')}`);
    expect(conflicts).toEqual([]);
    const query = parse(`{ nodes(ids: ["vm_1", "vmpkg_1", "gput_1", "dc_1", "zone_1"]) {
      ... on VirtualMachine { cpuCores memoryInGb useDedicatedCpus }
      ... on VirtualMachinePackage { cpuCores memoryInGb useDedicatedCpus permalink }
      ... on GpuType { memoryInGb permalink }
      ... on DataCenter { permalink }
      ... on Zone { permalink } } }`);
    expect(validate(schema, query)).toEqual([]);
  });

  it('never exposes the initial root password', () => {
    const printed = printGatewaySchema();
    expect(printed).not.toMatch(/initial_?root_?password/i);
    expect(printed).not.toMatch(/rootPassword/i);
    const names = ownTypes().flatMap(describable).map(([coordinate]) => coordinate);
    expect(names.filter((name) => /password/i.test(name))).toEqual([]);
  });
});
