import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
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

  it('never exposes the initial root password', () => {
    const printed = printGatewaySchema();
    expect(printed).not.toMatch(/initial_?root_?password/i);
    expect(printed).not.toMatch(/rootPassword/i);
    const names = ownTypes().flatMap(describable).map(([coordinate]) => coordinate);
    expect(names.filter((name) => /password/i.test(name))).toEqual([]);
  });
});
