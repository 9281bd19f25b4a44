// The promotion rule and the confusion matrix, on numbers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfusionMatrix } from '../../src/shadow/confusion.js';
import { judge, type PromotionPolicy } from '../../src/shadow/policy.js';

const policy: PromotionPolicy = { minParts: 100, minAgreement: 0.98, maxErrors: 0, maxLatencyMs: null, mode: 'auto' };

test('ready exactly when parts, agreement, errors and latency all hold', () => {
  const ok = { parts: 100, agreement: 0.98, errors: 0, latencyP99Ms: 100 };
  assert.deepEqual(judge(ok, policy, 100), { ready: true, blocking: [] });
  assert.deepEqual(judge({ ...ok, parts: 99 }, policy, 100).blocking, ['99 of 100 parts compared']);
  assert.deepEqual(judge({ ...ok, agreement: 0.9799 }, policy, 100).blocking, ['agreement 98.0% below 98.0%']);
  assert.deepEqual(judge({ ...ok, errors: 1 }, policy, 100).blocking, ['1 errors (at most 0)']);
  assert.deepEqual(judge({ ...ok, latencyP99Ms: 100.1 }, policy, 100).blocking, ['latency p99 100.1 ms over 100 ms']);
  assert.equal(judge({ ...ok, latencyP99Ms: 40 }, { ...policy, maxLatencyMs: 30 }, 100).ready, false, 'an explicit limit wins over the budget');
  assert.equal(judge({ parts: 0, agreement: null, errors: 0, latencyP99Ms: null }, policy, 100).blocking.length, 3);
});

test('the confusion matrix counts rows by the active verdict, columns by the candidate', () => {
  const m = new ConfusionMatrix();
  assert.equal(m.agreement, null);
  m.add('pass', 'pass');
  m.add('pass', 'uncertain');
  m.add('uncertain', 'fail');
  m.add('fail', 'fail');
  assert.equal(m.total, 4);
  assert.equal(m.agreement, 0.5);
  assert.deepEqual(m.table(), { pass: { pass: 1, fail: 0, uncertain: 1 }, fail: { pass: 0, fail: 1, uncertain: 0 }, uncertain: { pass: 0, fail: 1, uncertain: 0 } });
});
