// Scores to pass / fail / uncertain, by the manifest's labels and thresholds (or a station's
// override). Probabilities of all fail labels add up: two weak defect classes can make a fail.
import type { ModelManifest } from './manifest.js';

export interface Decision {
  verdict: 'pass' | 'fail' | 'uncertain';
  /** The most probable label. */
  label: string;
  /** Probability behind the verdict: of the fail labels for fail, of the rest otherwise. */
  score: number;
  scores: Record<string, number>;
}

export interface DecisionRule {
  labels: readonly string[];
  failLabels: readonly string[];
  thresholds: { pass: number; fail: number };
  activation: ModelManifest['output']['activation'];
}

export function ruleFromManifest(m: ModelManifest, override?: { pass: number; fail: number }): DecisionRule {
  return { labels: m.labels, failLabels: m.failLabels, thresholds: override ?? m.thresholds, activation: m.output.activation };
}

function activate(raw: ArrayLike<number>, activation: DecisionRule['activation']): number[] {
  const x = Array.from(raw);
  if (activation === 'sigmoid') return x.map((v) => 1 / (1 + Math.exp(-v)));
  if (activation === 'softmax') {
    const max = Math.max(...x);
    const e = x.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  }
  return x;
}

export class ScoreShapeError extends Error {}

export function decide(raw: ArrayLike<number>, rule: DecisionRule): Decision {
  if (raw.length !== rule.labels.length) {
    throw new ScoreShapeError(`model gave ${raw.length} scores for ${rule.labels.length} labels`);
  }
  const p = activate(raw, rule.activation);
  if (p.some((v) => !Number.isFinite(v))) throw new ScoreShapeError(`model gave non-finite scores [${p.join(', ')}]`);
  const scores: Record<string, number> = {};
  let failP = 0;
  let passP = 0;
  let top = 0;
  rule.labels.forEach((label, i) => {
    const v = p[i]!;
    scores[label] = v;
    if (rule.failLabels.includes(label)) failP += v;
    else passP += v;
    if (v > p[top]!) top = i;
  });
  const label = rule.labels[top]!;
  if (failP >= rule.thresholds.fail) return { verdict: 'fail', label, score: failP, scores };
  if (passP >= rule.thresholds.pass) return { verdict: 'pass', label, score: passP, scores };
  return { verdict: 'uncertain', label, score: Math.max(failP, passP), scores };
}
