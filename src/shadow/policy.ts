// When a candidate has earned promotion: enough parts compared, enough of them agreeing, no
// errors, and fast enough for the station's budget. A pure function, so the rule is tested on
// numbers, not on a running line.
export interface PromotionPolicy {
  /** Parts compared before any decision. */
  minParts: number;
  /** Share of compared parts with the same verdict (0..1). */
  minAgreement: number;
  /** Candidate errors tolerated (decode, inference, crashed or hung thread). */
  maxErrors: number;
  /**
   * Projected capture-to-verdict p99 allowed (each compared part's own latency with the candidate's
   * worker time in place of the active version's); null: the station's budget.
   */
  maxLatencyMs: number | null;
  /** auto: promote as soon as the policy holds; manual: say so (event `ready`) and wait for a person. */
  mode: 'auto' | 'manual';
}

export interface TrialFigures {
  parts: number;
  agreement: number | null;
  errors: number;
  latencyP99Ms: number | null;
}

export interface PolicyJudgement {
  ready: boolean;
  /** What still stands in the way (empty when ready). */
  blocking: string[];
}

export function judge(f: TrialFigures, policy: PromotionPolicy, budgetMs: number): PolicyJudgement {
  const blocking: string[] = [];
  if (f.parts < policy.minParts) blocking.push(`${f.parts} of ${policy.minParts} parts compared`);
  if (f.agreement === null || f.agreement < policy.minAgreement) blocking.push(`agreement ${f.agreement === null ? '–' : (f.agreement * 100).toFixed(1) + '%'} below ${(policy.minAgreement * 100).toFixed(1)}%`);
  if (f.errors > policy.maxErrors) blocking.push(`${f.errors} errors (at most ${policy.maxErrors})`);
  const limit = policy.maxLatencyMs ?? budgetMs;
  if (f.latencyP99Ms === null || f.latencyP99Ms > limit) blocking.push(`projected latency p99 ${f.latencyP99Ms === null ? '–' : f.latencyP99Ms.toFixed(1) + ' ms'} over ${limit} ms`);
  return { ready: blocking.length === 0, blocking };
}
