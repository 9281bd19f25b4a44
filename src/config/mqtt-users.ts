// Embedded-broker users from a users file or LINESIGHT_MQTT_USERS: read with the same guards as
// the config file (size cap, UTF-8, alias bombs refused with line and column), then validated
// entry by entry, so a typo stops start-up with its path and field instead of locking a PLC out.
import { Ajv } from 'ajv';
import { Type } from '@sinclair/typebox';
import { LinesightError } from '../errors.js';
import { schemaProblems } from '../schema-problems.js';
import { decodeConfig, parseYaml, readConfigBytes } from './parse.js';
import { MqttUserConfig } from './schema.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
const validateUsers = ajv.compile(Type.Array(MqttUserConfig));

/** A users document (YAML or JSON): a list of users, or {users: [...]}; empty means none. */
export function parseUsersDocument(text: string, origin: string): MqttUserConfig[] {
  if (!text.trim()) return [];
  // A list of users or a mapping with `users:`; the shape is checked below.
  let value = parseYaml(text, origin, { mapping: false });
  if (value && typeof value === 'object' && !Array.isArray(value) && 'users' in value) value = (value as { users: unknown }).users;
  value ??= [];
  if (!validateUsers(value)) throw new LinesightError('LS_ERR_MQTT_USERS', schemaProblems(validateUsers.errors, value).join('; '), { args: [origin] });
  return value as MqttUserConfig[];
}

export function readUsersFile(file: string): MqttUserConfig[] {
  return parseUsersDocument(decodeConfig(readConfigBytes(file), file), file);
}
