// Shadow trials per station: a candidate version loaded beside the active one sees the frames
// of the parts the active version decided, on spare capacity only (the pool's spare lane), and
// its answers are compared and recorded, never published. A promotion policy decides when the
// candidate has earned the line: it is then promoted (auto) or announced as ready (manual).
import type { Clock } from '../clock.js';
import { describeError, isLinesightError, LinesightError } from '../errors.js';
import type { EventBus, ShadowEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { FrameImage } from '../capture/frame.js';
import { decide, ruleFromManifest, type DecisionRule } from '../models/decision.js';
import type { ActivationReport } from '../models/manager.js';
import { modelLabel, type LoadedModel } from '../models/model-ref.js';
import type { PoolResult, SpareJob } from '../inference/pool.js';
import type { Verdict } from '../verdict.js';
import type { PromotionPolicy } from './policy.js';
import { ShadowTrial, type Disagreement, type TrialReport } from './trial.js';

/** A decided part as the trial sees it: the published verdict, the frame, the rule that decided it. */
export interface ShadowPart {
  verdict: Verdict;
  image: FrameImage | undefined;
  rule: DecisionRule;
}

/** What a station offers a trial: its serving version, budget, thresholds, and a tap on decided parts. */
export interface ShadowStation {
  readonly id: string;
  readonly model: (LoadedModel & { rule: DecisionRule }) | undefined;
  readonly budgetMs: number;
  readonly thresholds: { pass: number; fail: number } | undefined;
  setShadowTap(tap: ((part: ShadowPart) => void) | undefined): void;
}

/** The model lifecycle, as far as trials need it (the ModelManager). */
export interface CandidateModels {
  /** Loads, warms and checks a version (like an activation) without serving it. */
  prepareCandidate(ref: string): Promise<LoadedModel>;
  /** The candidate leaves the workers unless a station serves it. */
  releaseCandidate(model: LoadedModel): Promise<void>;
  activate(station: string, ref: string, reason: string): Promise<ActivationReport>;
}

export interface ShadowOptions {
  stations: readonly ShadowStation[];
  models: CandidateModels;
  pool: { inferOnSpare(job: SpareJob): Promise<PoolResult> };
  bus: EventBus;
  clock: Clock;
  log: Logger;
  /** Defaults for trials started without their own. */
  defaults: { share: number; policy: PromotionPolicy };
  /** A run not started this long after its part was decided is dropped. */
  maxLagMs: number;
  /** An `agreement` event every this many compared parts (0: none). */
  reportEveryParts: number;
  /** Disagreements kept per trial (newest). */
  maxDisagreements: number;
  /** The evidence record of a verdict, when the evidence store kept its image. */
  evidenceFor?: (verdictId: string) => string | null;
}

export interface StartTrial {
  model: string;
  share?: number;
  policy?: Partial<PromotionPolicy>;
}

interface Running {
  trial: ShadowTrial;
  model: LoadedModel;
  rule: DecisionRule;
  readySaid: boolean;
}

export class ShadowTrials {
  readonly #o: ShadowOptions;
  readonly #running = new Map<string, Running>();
  /** The last ended trial per station, for the report after it ended. */
  readonly #ended = new Map<string, ShadowTrial>();
  /** Per station, the version promoted by the last trial (a rollback from it is news). */
  readonly #promoted = new Map<string, string>();
  readonly #starting = new Set<string>();
  #off: Array<() => void> = [];

  constructor(options: ShadowOptions) {
    this.#o = options;
  }

  start(): void {
    this.#off.push(this.#o.bus.on('model-changed', (e) => this.#onModelChanged(e)));
  }

  async stop(): Promise<void> {
    for (const off of this.#off.splice(0)) off();
    for (const id of [...this.#running.keys()]) await this.end(id, 'service stopping').catch(() => undefined);
  }

  #station(id: string): ShadowStation {
    const s = this.#o.stations.find((x) => x.id === id);
    if (!s) throw new LinesightError('LS_ERR_STATION_NOT_FOUND', undefined, { args: [id] });
    return s;
  }

  /** Loads and checks the candidate, then taps the station's decided parts. */
  async begin(stationId: string, req: StartTrial): Promise<TrialReport> {
    const station = this.#station(stationId);
    if (this.#running.has(stationId) || this.#starting.has(stationId)) throw new LinesightError('LS_ERR_SHADOW_ACTIVE', undefined, { args: [stationId] });
    const active = station.model;
    if (!active) throw new LinesightError('LS_ERR_NOT_READY', `station ${stationId} has no model yet`, { args: [stationId] });
    this.#starting.add(stationId);
    try {
      const model = await this.#o.models.prepareCandidate(req.model);
      const candidate = modelLabel(model.manifest);
      if (model.ref.key === active.ref.key) {
        throw new LinesightError('LS_ERR_SHADOW_SAME', undefined, { args: [candidate] });
      }
      const trial = new ShadowTrial({
        station: stationId,
        active: modelLabel(active.manifest),
        candidate,
        share: req.share ?? this.#o.defaults.share,
        policy: { ...this.#o.defaults.policy, ...req.policy },
        budgetMs: station.budgetMs,
        startedAt: new Date(this.#o.clock.wallNow()).toISOString(),
        maxDisagreements: this.#o.maxDisagreements,
      });
      // The candidate decides as it would once serving here: the station's threshold override applies.
      const run: Running = { trial, model, rule: ruleFromManifest(model.manifest, station.thresholds), readySaid: false };
      this.#running.set(stationId, run);
      this.#ended.delete(stationId);
      station.setShadowTap((part) => this.#offer(run, part));
      this.#o.log.info({ camera: stationId, active: trial.active, candidate, share: trial.share, policy: trial.policy }, 'shadow trial started');
      this.#emit(run, 'started');
      return trial.report();
    } finally {
      this.#starting.delete(stationId);
    }
  }

  /** Ends the trial (the candidate leaves the workers unless it now serves); returns its final report. */
  async end(stationId: string, reason = 'stopped by request'): Promise<TrialReport> {
    this.#station(stationId);
    const run = this.#running.get(stationId);
    if (!run) throw new LinesightError('LS_ERR_SHADOW_NONE', undefined, { args: [stationId] });
    this.#finish(stationId, run, 'stopped', reason);
    await this.#o.models.releaseCandidate(run.model).catch((err: unknown) => this.#o.log.warn({ camera: stationId, err }, 'could not unload the shadow candidate'));
    return run.trial.report();
  }

  /** Makes the candidate the active version (a person's call, or the policy's in auto mode). */
  async promote(stationId: string, by: 'request' | 'policy' = 'request'): Promise<ActivationReport> {
    this.#station(stationId);
    const run = this.#running.get(stationId);
    if (!run || run.trial.state !== 'running') throw new LinesightError('LS_ERR_SHADOW_NONE', undefined, { args: [stationId] });
    run.trial.state = 'promoting';
    try {
      const report = await this.#o.models.activate(stationId, run.trial.candidate, 'shadow-promoted');
      this.#promoted.set(stationId, run.trial.candidate);
      this.#finish(stationId, run, 'promoted', by === 'policy' ? 'promoted by the policy' : 'promoted by request');
      return report;
    } catch (err) {
      run.trial.state = 'running';
      this.#o.log.error({ camera: stationId, candidate: run.trial.candidate, err: describeError(err).message }, 'shadow candidate could not be promoted; the active version keeps serving');
      throw err;
    }
  }

  report(stationId: string): TrialReport | null {
    this.#station(stationId);
    return (this.#running.get(stationId)?.trial ?? this.#ended.get(stationId))?.report() ?? null;
  }

  /** The running (or last) trial's disagreements, newest first, with their evidence ids where kept. */
  disagreements(stationId: string): Disagreement[] {
    this.#station(stationId);
    return (this.#running.get(stationId)?.trial ?? this.#ended.get(stationId))?.disagreements() ?? [];
  }

  /** Every running trial's figures, for /metrics. */
  running(): TrialReport[] {
    return [...this.#running.values()].map((r) => r.trial.report());
  }

  #offer(run: Running, part: ShadowPart): void {
    const { trial } = run;
    if (trial.state !== 'running' || !part.image || !trial.wants(part.verdict)) return;
    const { clock } = this.#o;
    // The frame the station kept is shared with evidence and the dashboard; the pool moves its
    // buffer to a thread, so the candidate gets its own copy.
    const image = { ...part.image, data: new Uint8Array(part.image.data) };
    this.#o.pool
      .inferOnSpare({ station: trial.station, model: run.model.ref, image, expiresAt: clock.now() + this.#o.maxLagMs, budgetMs: trial.budgetMs })
      .then(
        (result) => this.#onResult(run, part, result),
        (err: unknown) => {
          if (this.#running.get(trial.station) !== run) return;
          if (isLinesightError(err, 'LS_ERR_SHADOW_DROPPED') || isLinesightError(err, 'LS_ERR_POOL_CLOSED')) trial.dropped();
          else trial.error(describeError(err).message);
        },
      );
  }

  #onResult(run: Running, part: ShadowPart, result: PoolResult): void {
    const { trial } = run;
    if (this.#running.get(trial.station) !== run || trial.state !== 'running') return;
    if (!result.ok) {
      trial.error(`${result.error.code}: ${result.error.message}`);
    } else {
      try {
        const d = decide(result.scores, run.rule);
        trial.compare(part.verdict, part.rule, d, run.rule, result.timings.preprocessMs + result.timings.inferenceMs, this.#o.evidenceFor);
      } catch (err) {
        trial.error(`LS_ERR_MODEL_SHAPE: ${(err as Error).message}`);
      }
    }
    const every = this.#o.reportEveryParts;
    if (result.ok && every > 0 && trial.parts % every === 0) this.#emit(run, 'agreement');
    this.#judge(run);
  }

  #judge(run: Running): void {
    const { trial } = run;
    const j = trial.judgement();
    if (!j.ready) return;
    if (trial.policy.mode === 'auto') {
      this.promote(trial.station, 'policy').catch(() => undefined);
    } else if (!run.readySaid) {
      run.readySaid = true;
      this.#o.log.info({ camera: trial.station, candidate: trial.candidate, parts: trial.parts, agreement: trial.agreement }, 'shadow candidate meets the promotion policy; waiting for a person to promote it');
      this.#emit(run, 'ready');
    }
  }

  #finish(stationId: string, run: Running, state: 'promoted' | 'stopped', reason: string): void {
    if (this.#running.get(stationId) !== run) return;
    this.#running.delete(stationId);
    this.#station(stationId).setShadowTap(undefined);
    run.trial.state = state;
    run.trial.endedAt = new Date(this.#o.clock.wallNow()).toISOString();
    run.trial.endReason = reason;
    this.#ended.set(stationId, run.trial);
    this.#o.log.info({ camera: stationId, candidate: run.trial.candidate, parts: run.trial.parts, agreement: run.trial.agreement, reason }, `shadow trial ${state}`);
    this.#emit(run, state, reason);
  }

  #onModelChanged(e: { camera: string; from: string | null; to: string; reason: string }): void {
    const run = this.#running.get(e.camera);
    // A change the trial did not make: its baseline is gone, so its figures would compare with the wrong version.
    if (run && run.trial.state === 'running' && e.reason !== 'shadow-promoted') {
      void this.end(e.camera, `the active version changed to ${e.to} (${e.reason})`).catch(() => undefined);
    }
    if (e.reason === 'rollback' && e.from !== null && this.#promoted.get(e.camera) === e.from) {
      this.#promoted.delete(e.camera);
      const from = e.from;
      // After every listener has seen the model change itself: the news follows the fact.
      queueMicrotask(() => this.#o.bus.emit('shadow', { camera: e.camera, kind: 'rolled-back', candidate: from, active: e.to, parts: null, agreement: null, detail: `rolled back from ${from} to ${e.to}` }));
    }
  }

  #emit(run: Running, kind: ShadowEvent['kind'], detail?: string): void {
    const t = run.trial;
    this.#o.bus.emit('shadow', { camera: t.station, kind, candidate: t.candidate, active: t.active, parts: t.parts, agreement: t.agreement, ...(detail ? { detail } : {}) });
  }
}
