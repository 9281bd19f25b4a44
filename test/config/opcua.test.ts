// The opcua and sparkplug config sections: safe defaults, validated users (file and env), paths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildConfig } from '../../src/config/load.js';
import { isLinesightError } from '../../src/errors.js';
import { compileOpcUaUsers } from '../../src/publish/opcua-users.js';
import { securityModes, securityPolicies } from '../../src/publish/opcua-security.js';

const base = { stations: [{ id: 'cam1', source: { type: 'replay', path: '/x' }, model: 'm' }], state: { directory: '/var/lib/linesight' } };
const hash = 'scrypt$1024$8$1$c2FsdHNhbHRzYWx0$' + Buffer.alloc(32, 1).toString('base64');

test('OPC UA and Sparkplug are off by default; anonymous off; no None endpoint; PKI under the state directory', () => {
  const c = buildConfig(base, { origin: 'test', baseDir: '/' });
  assert.equal(c.opcua.enabled, false);
  assert.equal(c.sparkplug.enabled, false);
  assert.equal(c.opcua.anonymous, false);
  assert.equal(c.opcua.pkiDirectory, '/var/lib/linesight/opcua-pki');
  assert.deepEqual(securityPolicies(c.opcua).map((p) => p.split('#')[1]), ['Basic256Sha256', 'Aes128_Sha256_RsaOaep']);
  assert.deepEqual(securityModes(c.opcua), [2, 3]);
  assert.deepEqual(securityModes({ ...c.opcua, allowInsecure: true }), [1, 2, 3]);
});

test('users: a bad right or a plain password is refused naming the path; LINESIGHT_OPCUA_USERS replaces the list', () => {
  assert.throws(() => buildConfig({ ...base, opcua: { users: [{ username: 'plc', password: 'secret' }] } }, { origin: 'test', baseDir: '/' }), (err: unknown) => isLinesightError(err, 'LS_ERR_CONFIG_INVALID') && /opcua\.users\[0\]\.password/.test((err as Error).message));
  assert.throws(() => buildConfig({ ...base, opcua: { users: [{ username: 'plc', password: hash, rights: ['deploy'] }] } }, { origin: 'test', baseDir: '/' }), (err: unknown) => isLinesightError(err, 'LS_ERR_CONFIG_INVALID') && /rights/.test((err as Error).message));
  const c = buildConfig(base, { origin: 'test', baseDir: '/', env: { LINESIGHT_OPCUA_USERS: JSON.stringify([{ username: 'op', password: hash, rights: ['acknowledge'] }]) } });
  assert.deepEqual(c.opcua.users.map((u) => [u.username, u.rights]), [['op', ['acknowledge']]]);
  assert.throws(() => buildConfig(base, { origin: 'test', baseDir: '/', env: { LINESIGHT_OPCUA_USERS: '[{"username":"op"}]' } }), (err: unknown) => isLinesightError(err, 'LS_ERR_OPCUA_USERS'));
});

test('compiled users: a malformed hash or a name twice stops start-up with LS_ERR_OPCUA_USERS', () => {
  assert.throws(() => compileOpcUaUsers([{ username: 'a', password: 'scrypt$3$8$1$x$y', rights: [] }]), (err: unknown) => isLinesightError(err, 'LS_ERR_OPCUA_USERS') && /opcua\.users\[0\] \(a\)/.test((err as Error).message));
  assert.throws(() => compileOpcUaUsers([{ username: 'a', password: hash, rights: [] }, { username: 'a', password: hash, rights: [] }]), (err: unknown) => isLinesightError(err, 'LS_ERR_OPCUA_USERS'));
  assert.equal(compileOpcUaUsers([{ username: 'a', password: hash, rights: ['trigger'] }]).get('a')!.rights.has('trigger'), true);
});
