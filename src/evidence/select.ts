// Which decided parts are worth keeping as evidence: every fail (traceability), parts whose
// scores lie near a decision threshold (what an ML engineer wants for retraining: the model was
// almost wrong), and a random sample of passes (to see what "good" looked like that day).
import type { Verdict } from '../verdict.js';

export type EvidenceReason = 'fail' | 'near-threshold' | 'pass-sample';

export interface EvidencePolicy {
  /** Share of passes kept, 0..1. */
  passSampleRate: number;
  /** A part whose fail or pass probability is within this of its threshold is kept; 0: off. */
  nearThresholdMargin: number;
}

export interface ThresholdRule {
  failLabels: readonly string[];
  thresholds: { pass: number; fail: number };
}

export interface EvidenceChoice {
  reason: EvidenceReason;
  /** Also near a threshold (a fail can be both). */
  nearThreshold: boolean;
}

/** Whether (and why) to keep this part; undefined: not kept. Timeouts and errors have no scores to learn from. */
export function chooseEvidence(v: Pick<Verdict, 'verdict' | 'scores'>, rule: ThresholdRule, policy: EvidencePolicy, random: () => number = Math.random): EvidenceChoice | undefined {
  if (v.verdict === 'timeout' || v.verdict === 'error') return undefined;
  const near = isNearThreshold(v, rule, policy.nearThresholdMargin);
  if (v.verdict === 'fail') return { reason: 'fail', nearThreshold: near };
  if (near) return { reason: 'near-threshold', nearThreshold: true };
  if (v.verdict === 'pass' && policy.passSampleRate > 0 && random() < policy.passSampleRate) return { reason: 'pass-sample', nearThreshold: false };
  return undefined;
}

function isNearThreshold(v: Pick<Verdict, 'verdict' | 'scores'>, rule: ThresholdRule, margin: number): boolean {
  if (margin <= 0) return false;
  // Uncertain parts lie between the thresholds: the model could not decide, the case to retrain on.
  if (v.verdict === 'uncertain') return true;
  if (!v.scores) return false;
  let failP = 0;
  let passP = 0;
  for (const [label, p] of Object.entries(v.scores)) {
    if (rule.failLabels.includes(label)) failP += p;
    else passP += p;
  }
  return Math.abs(failP - rule.thresholds.fail) <= margin || Math.abs(passP - rule.thresholds.pass) <= margin;
}
