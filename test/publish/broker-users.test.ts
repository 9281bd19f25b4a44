// Users for the embedded broker: hashes, users files, LINESIGHT_MQTT_USERS and topic filters.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildConfig } from '../../src/config/load.js';
import { codeOf } from '../helpers/error-of.js';
import { parseUsersDocument, readUsersFile } from '../../src/config/mqtt-users.js';
import { compileUsers, filterCovers } from '../../src/publish/broker-users.js';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../src/publish/password-hash.js';
import { samplesDir, tempDir } from '../helpers/env.js';


test('password hashes are salted scrypt, self-describing, and checked', async () => {
  const a = await hashPassword('pw', { N: 1024 });
  const b = await hashPassword('pw', { N: 1024 });
  assert.match(a, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.notEqual(a, b, 'salted');
  assert.equal(await verifyPassword('pw', parsePasswordHash(a)), true);
  assert.equal(await verifyPassword('pW', parsePasswordHash(a)), false);
  assert.match(codeOf(() => parsePasswordHash('plaintext')), /^LS_ERR_PASSWORD_HASH: .*not an scrypt hash/);
  assert.match(codeOf(() => parsePasswordHash('scrypt$1073741824$8$1$c2FsdHNhbHQ=$' + 'A'.repeat(44))), /N must be a power of two/);
});

test('users files and LINESIGHT_MQTT_USERS are validated with the path of the bad field', async (t) => {
  const hash = await hashPassword('pw', { N: 1024 });
  const dir = tempDir(t);
  const file = join(dir, 'users.yaml');
  writeFileSync(file, `users:\n  - username: plc\n    password: "${hash}"\n    role: trigger\n    cameras: [cam1]\n`);
  const users = readUsersFile(file);
  assert.equal(users[0]!.role, 'trigger');
  assert.deepEqual(users[0]!.subscribe, ['#']);
  assert.match(codeOf(() => readUsersFile(join(dir, 'nope.yaml'))), /^LS_ERR_CONFIG_FILE: .*nope\.yaml: no such file/);
  assert.match(codeOf(() => parseUsersDocument('- username: x\n  password: secret\n', 'f')), /^LS_ERR_MQTT_USERS: .*password/);
  assert.match(codeOf(() => parseUsersDocument(`- username: x\n  password: "${hash}"\n  role: admin\n`, 'f')), /role/);
  assert.match(codeOf(() => compileUsers([{ origin: 'f', users: parseUsersDocument(`- username: linesight-service\n  password: "${hash}"\n`, 'f') }])), /Linesight's own/);
  assert.match(codeOf(() => compileUsers([{ origin: 'f', users: parseUsersDocument(`- username: a\n  password: "${hash}"\n  subscribe: ["a/#/b"]\n`, 'f') }])), /not an MQTT topic filter/);

  const raw = { stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir }, model: 'label-orientation' }] };
  const config = buildConfig(raw, { origin: 'test', baseDir: dir, env: { LINESIGHT_MQTT_USERS: JSON.stringify([{ username: 'scada', password: hash }]) } });
  assert.equal(config.mqtt.embedded.users[0]!.username, 'scada');
  assert.equal(config.mqtt.embedded.users[0]!.role, 'reader');
  assert.match(codeOf(() => buildConfig(raw, { origin: 'test', baseDir: dir, env: { LINESIGHT_MQTT_USERS: '[{"username": "x"}]' } })), /^LS_ERR_MQTT_USERS: invalid MQTT users in LINESIGHT_MQTT_USERS/);
});

test('topic filters: what a rule covers', () => {
  assert.equal(filterCovers('#', 'a/b'), true);
  assert.equal(filterCovers('#', '$SYS/x'), false);
  assert.equal(filterCovers('a/+/c', 'a/b/c'), true);
  assert.equal(filterCovers('a/+/c', 'a/+/c'), true);
  assert.equal(filterCovers('a/+/c', 'a/#'), false);
  assert.equal(filterCovers('a/#', 'a'), true);
  assert.equal(filterCovers('a/b', 'a/b/c'), false);
});
