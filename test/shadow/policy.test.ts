// The promotion rule and the confusion matrix, on numbers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfusionMatrix } from '../../src/shadow/confusion.js';
import { judge, type PromotionPolicy } from '../../src/shadow/policy.js';
import { ShadowTrial } from '../../src/shadow/trial.js';
import type { DecisionRule } from '../../src/models/decision.js';
import type { Verdict } from '../../src/verdict.js';

const policy: PromotionPolicy = { minParts: 100, minAgreement: 0.98, maxErrors: 0, maxLatencyMs: null, mode: 'auto' };

test('ready exactly when parts, agreement, errors and latency all hold', () => {
  const ok = { parts: 100, agreement: 0.98, errors: 0, latencyP99Ms: 100 };
  assert.deepEqual(judge(ok, policy, 100), { ready: true, blocking: [] });
  assert.deepEqual(judge({ ...ok, parts: 99 }, policy, 100).blocking, ['99 of 100 parts compared']);
  assert.deepEqual(judge({ ...ok, agreement: 0.9799 }, policy, 100).blocking, ['agreement 98.0% below 98.0%']);
  assert.deepEqual(judge({ ...ok, errors: 1 }, policy, 100).blocking, ['1 errors (at most 0)']);
  assert.deepEqual(judge({ ...ok, latencyP99Ms: 100.1 }, policy, 100).blocking, ['projected latency p99 100.1 ms over 100 ms']);
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

test('a trial judges the projected latency: each part\'s own capture-to-verdict with the candidate\'s worker time in place of the active\'s', () => {
  const rule: DecisionRule = { labels: ['ok', 'bad'], failLabels: ['bad'], thresholds: { pass: 0.5, fail: 0.5 }, activation: 'none' };
  const trial = new ShadowTrial({ station: 'cam1', active: 'm@1', candidate: 'm@2', share: 1, policy: { ...policy, minParts: 10 }, budgetMs: 100, startedAt: new Date(0).toISOString(), maxDisagreements: 5 });
  const part = (i: number, totalMs: number): Verdict =>
    ({ id: `v${i}`, partId: `p${i}`, seq: i, verdict: 'pass', scores: { ok: 0.9, bad: 0.1 }, timings: { queueMs: 1, preprocessMs: 10, inferenceMs: 20, totalMs } }) as unknown as Verdict;
  const candidate = { verdict: 'pass', label: 'ok', score: 0.9, scores: { ok: 0.9, bad: 0.1 } } as const;
  // Active: 30 ms of worker time in parts of 40 ms. Candidate: 55 ms of worker time, well within
  // the budget alone, but 40 - 30 + 55 = 65 ms as served; then parts that queued (90 ms in all)
  // project to 115 ms, over the budget.
  for (let i = 0; i < 10; i++) trial.compare(part(i, 40), rule, candidate, rule, 55);
  let r = trial.report();
  assert.deepEqual(r.latencyMs.projected, { p50: 65, p99: 65 });
  assert.deepEqual(r.latencyMs.candidate, { p50: 55, p99: 55 });
  assert.equal(r.judgement.ready, true, r.judgement.blocking.join('; '));
  for (let i = 10; i < 20; i++) trial.compare(part(i, 90), rule, candidate, rule, 55);
  r = trial.report();
  assert.equal(r.latencyMs.projected.p99, 115);
  assert.deepEqual(r.judgement.blocking, ['projected latency p99 115.0 ms over 100 ms']);
});
