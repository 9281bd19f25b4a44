// OPC UA users from LINESIGHT_OPCUA_USERS: read with the same guards as the config file and the
// MQTT users, then validated entry by entry, so a typo stops start-up with its path and field.
import { Ajv } from 'ajv';
import { Type } from '@sinclair/typebox';
import { LinesightError } from '../errors.js';
import { schemaProblems } from '../schema-problems.js';
import { parseYaml } from './parse.js';
import { OpcUaUserConfig } from './schema.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
const validateUsers = ajv.compile(Type.Array(OpcUaUserConfig));

/** A users document (YAML or JSON): a list of users, or {users: [...]}; empty means none. */
export function parseOpcUaUsersDocument(text: string, origin: string): OpcUaUserConfig[] {
  if (!text.trim()) return [];
  let value = parseYaml(text, origin, { mapping: false });
  if (value && typeof value === 'object' && !Array.isArray(value) && 'users' in value) value = (value as { users: unknown }).users;
  value ??= [];
  if (!validateUsers(value)) throw new LinesightError('LS_ERR_OPCUA_USERS', schemaProblems(validateUsers.errors, value).join('; '), { args: [origin] });
  return value as OpcUaUserConfig[];
}
