import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorTable, LinesightError, describeError } from '../src/errors.js';

test('every code is namespaced, has a message and an HTTP status', () => {
  const codes = Object.keys(errorTable);
  assert.equal(new Set(codes).size, codes.length);
  for (const [code, entry] of Object.entries(errorTable)) {
    assert.match(code, /^LS_ERR_[A-Z0-9_]+$/);
    assert.ok(entry.message.length > 0, code);
    assert.ok(entry.status >= 400 && entry.status < 600, code);
  }
});

test('errors carry their code, fill the template and append the detail', () => {
  const err = new LinesightError('LS_ERR_MODEL_NOT_FOUND', 'known versions: 1.0.0', { args: ['x@2'] });
  assert.equal(err.code, 'LS_ERR_MODEL_NOT_FOUND');
  assert.equal(err.message, 'model x@2 not found: known versions: 1.0.0');
  assert.equal(new LinesightError('LS_ERR_MODEL_FILE').message, 'cannot read model file');
  assert.deepEqual(describeError(err), { code: 'LS_ERR_MODEL_NOT_FOUND', message: err.message });
  assert.deepEqual(describeError(new Error('boom')), { code: 'LS_ERR_INFERENCE', message: 'boom' });
});
