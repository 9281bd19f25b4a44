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
  reduce?: ModelManifest['output']['reduce'];
}

export function ruleFromManifest(m: ModelManifest, override?: { pass: number; fail: number }): DecisionRule {
  return { labels: m.labels, failLabels: m.failLabels, thresholds: override ?? m.thresholds, activation: m.output.activation, reduce: m.output.reduce };
}

function reduce(raw: ArrayLike<number>, how: DecisionRule['reduce']): ArrayLike<number> {
  if (!how || how === 'none' || raw.length === 0) return raw;
  let acc = how === 'max' ? -Infinity : 0;
  for (let i = 0; i < raw.length; i++) acc = how === 'max' ? Math.max(acc, raw[i]!) : acc + raw[i]!;
  return [how === 'max' ? acc : acc / raw.length];
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

export function decide(output: ArrayLike<number>, rule: DecisionRule): Decision {
  const raw = reduce(output, rule.reduce);
  let p = activate(raw, rule.activation);
  // One score for two labels: the probability of the second (a presence or defect detector).
  if (p.length === 1 && rule.labels.length === 2) p = [1 - p[0]!, p[0]!];
  if (p.length !== rule.labels.length) {
    throw new ScoreShapeError(`model gave ${output.length} scores for ${rule.labels.length} labels`);
  }
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
