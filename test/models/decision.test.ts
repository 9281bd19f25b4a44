import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, ScoreShapeError, type DecisionRule } from '../../src/models/decision.js';

const rule: DecisionRule = { labels: ['ok', 'scratch', 'dent'], failLabels: ['scratch', 'dent'], thresholds: { pass: 0.8, fail: 0.6 }, activation: 'none' };

test('pass, fail and uncertain by thresholds', () => {
  assert.equal(decide([0.9, 0.05, 0.05], rule).verdict, 'pass');
  assert.equal(decide([0.3, 0.65, 0.05], rule).verdict, 'fail');
  assert.equal(decide([0.7, 0.2, 0.1], rule).verdict, 'uncertain');
});

test('fail probabilities add up across fail labels', () => {
  const d = decide([0.36, 0.32, 0.32], rule);
  assert.equal(d.verdict, 'fail');
  assert.equal(d.label, 'ok'); // the single most probable label is still reported
  assert.ok(Math.abs(d.score - 0.64) < 1e-9);
});

test('softmax activation turns logits into probabilities', () => {
  const d = decide([4, 0, 0], { ...rule, activation: 'softmax' });
  assert.equal(d.verdict, 'pass');
  assert.ok(Math.abs(Object.values(d.scores).reduce((a, b) => a + b, 0) - 1) < 1e-9);
});

test('a score count that does not match the labels is an error, not a verdict', () => {
  assert.throws(() => decide([0.5, 0.5], rule), ScoreShapeError);
  assert.throws(() => decide([NaN, 0, 0], rule), ScoreShapeError);
});

test('a detector output reduced to one score decides a two-label presence check', () => {
  const presence: DecisionRule = { labels: ['absent', 'present'], failLabels: ['absent'], thresholds: { pass: 0.5, fail: 0.5 }, activation: 'sigmoid', reduce: 'max' };
  // Logits of many anchors: one strong detection makes the part "present".
  assert.equal(decide([-8, -6, 3.2, -9], presence).verdict, 'pass');
  assert.equal(decide([-8, -6, -4, -9], presence).verdict, 'fail');
  assert.ok(Math.abs(decide([0], presence).scores.present! - 0.5) < 1e-9);
});
