// One shadow trial's record: what the candidate answered on each part it saw, compared with the
// verdict the active version published. Nothing here is ever published as a verdict.
import type { Decision, DecisionRule } from '../models/decision.js';
import type { Verdict } from '../verdict.js';
import { ConfusionMatrix, type ConfusionTable, type ModelVerdict } from './confusion.js';
import { judge, type PolicyJudgement, type PromotionPolicy } from './policy.js';

export interface Disagreement {
  partId: string;
  seq: number;
  /** The published verdict's id (evidence records are keyed by it). */
  verdictId: string;
  decidedAt: string;
  active: { verdict: ModelVerdict; label: string | null; score: number | null };
  candidate: { verdict: ModelVerdict; label: string; score: number };
  /** The evidence record of the part's image, when the evidence store kept it. */
  evidenceId: string | null;
}

export interface TrialReport {
  station: string;
  active: string;
  candidate: string;
  state: 'running' | 'promoting' | 'promoted' | 'stopped';
  startedAt: string;
  endedAt: string | null;
  /** Why it ended (promoted, stopped by a person, the active version changed, ...). */
  endReason: string | null;
  share: number;
  policy: PromotionPolicy;
  parts: number;
  agreement: number | null;
  confusion: ConfusionTable;
  /** |p(fail) active − p(fail) candidate| over compared parts. */
  scoreDiff: { mean: number | null; max: number | null };
  /**
   * candidate, active: worker time (preprocess + inference). projected: each compared part's
   * capture-to-verdict latency had the candidate served it (the part's own total, with the
   * active version's worker time swapped for the candidate's): what the promotion policy judges,
   * since a candidate's shadow runs wait for spare capacity and their own end-to-end time says
   * nothing about serving.
   */
  latencyMs: { candidate: Percentiles; active: Percentiles; projected: Percentiles };
  errors: number;
  lastError: string | null;
  /** Runs the pool dropped for want of spare capacity (never a part's verdict). */
  dropped: number;
  /** Parts not compared: the active gave no model verdict (timeout, error), or outside the share. */
  skipped: number;
  judgement: PolicyJudgement;
  disagreements: number;
}

export interface Percentiles {
  p50: number | null;
  p99: number | null;
}

const latencyWindow = 1000;

function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { p50: null, p99: null };
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! * 100) / 100;
  return { p50: at(0.5), p99: at(0.99) };
}

const failProbability = (scores: Record<string, number> | null, rule: DecisionRule): number | null =>
  scores ? rule.failLabels.reduce((p, l) => p + (scores[l] ?? 0), 0) : null;

export class ShadowTrial {
  readonly station: string;
  readonly active: string;
  readonly candidate: string;
  readonly share: number;
  readonly policy: PromotionPolicy;
  readonly budgetMs: number;
  readonly startedAt: string;
  state: TrialReport['state'] = 'running';
  endedAt: string | null = null;
  endReason: string | null = null;
  readonly #confusion = new ConfusionMatrix();
  readonly #maxDisagreements: number;
  readonly #disagreements: Disagreement[] = [];
  #disagreementCount = 0;
  #candidateMs: number[] = [];
  #activeMs: number[] = [];
  #projectedMs: number[] = [];
  #diffSum = 0;
  #diffMax: number | null = null;
  #diffN = 0;
  #errors = 0;
  #lastError: string | null = null;
  #dropped = 0;
  #skipped = 0;
  #offered = 0;

  constructor(o: { station: string; active: string; candidate: string; share: number; policy: PromotionPolicy; budgetMs: number; startedAt: string; maxDisagreements: number }) {
    this.station = o.station;
    this.active = o.active;
    this.candidate = o.candidate;
    this.share = o.share;
    this.policy = o.policy;
    this.budgetMs = o.budgetMs;
    this.startedAt = o.startedAt;
    this.#maxDisagreements = o.maxDisagreements;
  }

  /**
   * Whether this part goes to the candidate: only parts the active version decided, and of those
   * an even spread of `share` (every part at 1, every other at 0.5), counted, not drawn.
   */
  wants(v: Verdict): boolean {
    if (v.verdict !== 'pass' && v.verdict !== 'fail' && v.verdict !== 'uncertain') {
      this.#skipped++;
      return false;
    }
    const n = ++this.#offered;
    if (Math.floor(n * this.share) === Math.floor((n - 1) * this.share)) {
      this.#skipped++;
      return false;
    }
    return true;
  }

  /** The candidate's answer on a part whose published verdict is `v`. */
  compare(v: Verdict, activeRule: DecisionRule, d: Decision, candidateRule: DecisionRule, candidateMs: number, evidenceFor?: (verdictId: string) => string | null): void {
    const active = v.verdict as ModelVerdict;
    this.#confusion.add(active, d.verdict);
    this.#push(this.#candidateMs, candidateMs);
    const activeMs = (v.timings.preprocessMs ?? 0) + (v.timings.inferenceMs ?? 0);
    if (activeMs > 0) this.#push(this.#activeMs, activeMs);
    this.#push(this.#projectedMs, Math.max(0, v.timings.totalMs - activeMs) + candidateMs);
    const pa = failProbability(v.scores, activeRule);
    const pc = failProbability(d.scores, candidateRule);
    if (pa !== null && pc !== null) {
      const diff = Math.abs(pa - pc);
      this.#diffSum += diff;
      this.#diffN++;
      this.#diffMax = Math.max(this.#diffMax ?? 0, diff);
    }
    if (active !== d.verdict) {
      this.#disagreementCount++;
      this.#disagreements.push({
        partId: v.partId,
        seq: v.seq,
        verdictId: v.id,
        decidedAt: v.decidedAt,
        active: { verdict: active, label: v.label, score: v.score },
        candidate: { verdict: d.verdict, label: d.label, score: Math.round(d.score * 10_000) / 10_000 },
        evidenceId: evidenceFor?.(v.id) ?? null,
      });
      if (this.#disagreements.length > this.#maxDisagreements) this.#disagreements.shift();
    }
  }

  error(message: string): void {
    this.#errors++;
    this.#lastError = message;
  }

  dropped(): void {
    this.#dropped++;
  }

  get parts(): number {
    return this.#confusion.total;
  }

  get agreement(): number | null {
    return this.#confusion.agreement;
  }

  judgement(): PolicyJudgement {
    return judge({ parts: this.parts, agreement: this.agreement, errors: this.#errors, latencyP99Ms: percentiles(this.#projectedMs).p99 }, this.policy, this.budgetMs);
  }

  /** The newest disagreements first (at most the configured number are kept). */
  disagreements(): Disagreement[] {
    return [...this.#disagreements].reverse();
  }

  report(): TrialReport {
    return {
      station: this.station,
      active: this.active,
      candidate: this.candidate,
      state: this.state,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      endReason: this.endReason,
      share: this.share,
      policy: this.policy,
      parts: this.parts,
      agreement: this.agreement,
      confusion: this.#confusion.table(),
      scoreDiff: { mean: this.#diffN ? Math.round((this.#diffSum / this.#diffN) * 10_000) / 10_000 : null, max: this.#diffMax === null ? null : Math.round(this.#diffMax * 10_000) / 10_000 },
      latencyMs: { candidate: percentiles(this.#candidateMs), active: percentiles(this.#activeMs), projected: percentiles(this.#projectedMs) },
      errors: this.#errors,
      lastError: this.#lastError,
      dropped: this.#dropped,
      skipped: this.#skipped,
      judgement: this.judgement(),
      disagreements: this.#disagreementCount,
    };
  }

  #push(window: number[], ms: number): void {
    window.push(ms);
    if (window.length > latencyWindow) window.shift();
  }
}
