import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evidenceObjectKey } from '../../src/evidence/object-key.js';

test('the object key is <prefix>/<line>/<station>/<yyyy>/<mm>/<dd>/<verdict id>.jpg, in UTC', () => {
  const v = { id: 'hall-9.cam1.abc.17', line: 'hall-9', camera: 'cam1', decidedAt: '2026-03-04T23:59:59.000Z' };
  assert.equal(evidenceObjectKey('evidence', v), 'evidence/hall-9/cam1/2026/03/04/hall-9.cam1.abc.17.jpg');
  assert.equal(evidenceObjectKey('/plants/p1/', v), 'plants/p1/hall-9/cam1/2026/03/04/hall-9.cam1.abc.17.jpg');
  assert.equal(evidenceObjectKey('', v), 'hall-9/cam1/2026/03/04/hall-9.cam1.abc.17.jpg');
});
