import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseEvidence } from '../../src/evidence/select.js';
import { seededRandom } from '../helpers/seeded-random.js';

const rule = { failLabels: ['rot180'], thresholds: { pass: 0.7, fail: 0.6 } };
const part = (verdict: 'pass' | 'fail' | 'uncertain' | 'timeout' | 'error', rot: number) => ({ verdict, scores: { upright: 1 - rot, rot180: rot } });

test('every fail is kept; timeouts and errors never (no scores to learn from)', () => {
  const policy = { passSampleRate: 0, nearThresholdMargin: 0 };
  assert.deepEqual(chooseEvidence(part('fail', 0.99), rule, policy), { reason: 'fail', nearThreshold: false });
  assert.equal(chooseEvidence(part('pass', 0.01), rule, policy), undefined);
  assert.equal(chooseEvidence({ verdict: 'timeout', scores: null }, rule, { passSampleRate: 1, nearThresholdMargin: 1 }), undefined);
  assert.equal(chooseEvidence({ verdict: 'error', scores: null }, rule, { passSampleRate: 1, nearThresholdMargin: 1 }), undefined);
});

test('parts within the margin of a threshold are kept as near-threshold, others not; uncertain parts always with a margin', () => {
  const policy = { passSampleRate: 0, nearThresholdMargin: 0.05 };
  // fail probability 0.63: 0.03 above the fail threshold.
  assert.deepEqual(chooseEvidence(part('fail', 0.63), rule, policy), { reason: 'fail', nearThreshold: true });
  // pass probability 0.72: 0.02 above the pass threshold.
  assert.deepEqual(chooseEvidence(part('pass', 0.28), rule, policy), { reason: 'near-threshold', nearThreshold: true });
  assert.equal(chooseEvidence(part('pass', 0.2), rule, policy), undefined);
  assert.deepEqual(chooseEvidence(part('uncertain', 0.45), rule, policy), { reason: 'near-threshold', nearThreshold: true });
  assert.equal(chooseEvidence(part('uncertain', 0.45), rule, { passSampleRate: 0, nearThresholdMargin: 0 }), undefined);
});

test('passes are sampled at the configured rate', () => {
  const seed = 42;
  // Deterministic, so the count is exact and the test repeatable.
  const random = seededRandom(seed);
  for (const rate of [0, 0.1, 0.5, 1]) {
    let kept = 0;
    for (let i = 0; i < 10_000; i++) {
      const c = chooseEvidence(part('pass', 0.01), rule, { passSampleRate: rate, nearThresholdMargin: 0.05 }, random);
      if (c) {
        assert.equal(c.reason, 'pass-sample');
        kept++;
      }
    }
    assert.ok(Math.abs(kept / 10_000 - rate) < 0.02, `rate ${rate}: kept ${kept} of 10000`);
  }
});
