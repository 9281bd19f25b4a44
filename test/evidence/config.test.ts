import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildConfig } from '../../src/config/load.js';
import { isLinesightError } from '../../src/errors.js';

const base = { stations: [{ id: 'cam1', source: { type: 'replay', path: 'parts' }, model: 'label-orientation', evidence: { passSampleRate: 0.5 } }] };

test('evidence defaults: off, under the state directory; a station overrides; S3 credentials may come from the environment', () => {
  const c = buildConfig({ ...base, state: { directory: 'state' } }, { origin: 'test', baseDir: '/srv/ls' });
  assert.equal(c.evidence.enabled, false);
  assert.equal(c.evidence.directory, '/srv/ls/state/evidence');
  assert.equal(c.evidence.quotaMB, 1024);
  assert.equal(c.stations[0]!.evidence?.passSampleRate, 0.5);
  const s3 = buildConfig({ ...base, evidence: { enabled: true, directory: 'ev', s3: { bucket: 'plant-7', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true } } }, {
    origin: 'test', baseDir: '/srv/ls', env: { LINESIGHT_S3_ACCESS_KEY_ID: 'AKIAEXAMPLE', LINESIGHT_S3_SECRET_ACCESS_KEY: 'example-secret' },
  });
  assert.equal(s3.evidence.directory, '/srv/ls/ev');
  assert.equal(s3.evidence.s3?.accessKeyId, 'AKIAEXAMPLE');
  assert.equal(s3.evidence.s3?.secretAccessKey, 'example-secret');
  assert.equal(s3.evidence.s3?.prefix, 'evidence');
});

test('a bad evidence setting names its path', () => {
  assert.throws(
    () => buildConfig({ ...base, evidence: { passSampleRate: 1.5 } }, { origin: 'test', baseDir: '/' }),
    (e: unknown) => isLinesightError(e, 'LS_ERR_CONFIG_INVALID') && /evidence\.passSampleRate/.test(e.message),
  );
  assert.throws(
    () => buildConfig({ ...base, evidence: { s3: { bucket: 'b', endpoint: 'ftp://x' } } }, { origin: 'test', baseDir: '/' }),
    (e: unknown) => isLinesightError(e, 'LS_ERR_CONFIG_INVALID') && /evidence\.s3\.endpoint/.test(e.message),
  );
});
