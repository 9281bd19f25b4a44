// A station is one camera's inspection loop: frames in, exactly one verdict per accepted part
// out, by its deadline. The deadline timer and the worker's answer race; whichever comes
// first decides, and a late answer is logged, never published as a second verdict.
import type { Clock, TimerHandle } from '../clock.js';
import { toWall } from '../clock.js';
import type { StationConfig } from '../config/schema.js';
import { describeError, isLinesightError, LinesightError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { Frame } from '../capture/frame.js';
import type { FrameSource } from '../capture/source.js';
import { decide, ruleFromManifest, type DecisionRule } from './decision.js';
import type { ModelManifest } from './manifest.js';
import type { ModelRef } from './messages.js';
import type { InferencePool, PoolResult } from './pool.js';
import type { Verdict, VerdictKind, VerdictTimings } from './verdict.js';

/** A loaded, warmed-up model version. */
export interface LoadedModel {
  ref: ModelRef;
  manifest: ModelManifest;
  provider: string;
}

/** A model version as a station serves it; swapped as a whole, so a part sees one version. */
export interface ServingModel extends LoadedModel {
  rule: DecisionRule;
}

interface Part {
  frame: Frame;
  partId: string;
  model: ServingModel;
  deadline: number;
  settled: boolean;
  timer?: TimerHandle;
  abort: AbortController;
}

export interface StationOptions {
  line: string;
  config: StationConfig;
  source: FrameSource;
  pool: InferencePool;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  /** Distinguishes this process run in message ids, so ids stay unique across restarts. */
  runId: string;
}

export interface StationStatus {
  id: string;
  model: { name: string; version: string; provider: string } | null;
  inFlight: number;
  counts: Record<VerdictKind, number>;
  dropped: number;
  lateResults: number;
  source: ReturnType<FrameSource['health']>;
}

const actionFor = (kind: VerdictKind, c: StationConfig): Verdict['action'] =>
  kind === 'pass' ? 'accept' : kind === 'fail' ? 'reject' : kind === 'uncertain' ? c.uncertainAction : c.failSafe;

export class Station {
  readonly id: string;
  readonly #o: StationOptions;
  #model: ServingModel | undefined;
  readonly #inFlight = new Set<Part>();
  #drainWaiters: Array<() => void> = [];
  #loop: Promise<void> | undefined;
  readonly #counts: Record<VerdictKind, number> = { pass: 0, fail: 0, uncertain: 0, timeout: 0, error: 0 };
  #dropped = 0;
  #late = 0;

  constructor(options: StationOptions) {
    this.#o = options;
    this.id = options.config.id;
  }

  get model(): ServingModel | undefined {
    return this.#model;
  }

  /** Switches the model for parts captured from now on; parts in flight keep theirs. */
  setModel(model: LoadedModel): void {
    this.#model = { ...model, rule: ruleFromManifest(model.manifest, this.#o.config.thresholds) };
  }

  async start(): Promise<void> {
    if (this.#loop) return;
    if (!this.#model) throw new LinesightError('LS_ERR_MODEL_NOT_FOUND', 'station started without a model', { args: [this.#o.config.model] });
    await this.#o.source.start();
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    try {
      for await (const frame of this.#o.source.frames()) this.inspect(frame);
    } catch (err) {
      this.#o.log.error({ err, camera: this.id }, 'frame source ended with an error');
    }
  }

  /** Stops the source, then waits until every accepted part has its verdict. */
  async stop(): Promise<void> {
    await this.#o.source.stop();
    await this.#loop;
    if (this.#inFlight.size) await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }

  status(): StationStatus {
    const m = this.#model;
    return {
      id: this.id,
      model: m ? { name: m.manifest.name, version: m.manifest.version, provider: m.provider } : null,
      inFlight: this.#inFlight.size,
      counts: { ...this.#counts },
      dropped: this.#dropped,
      lateResults: this.#late,
      source: this.#o.source.health(),
    };
  }

  /** Accepts one frame as a part. Public so triggers and the inspect API can hand frames in. */
  inspect(frame: Frame): void {
    const model = this.#model!;
    const { clock, config, pool } = this.#o;
    const part: Part = {
      frame,
      partId: frame.partId ?? `${this.id}-${this.#o.runId}-${frame.seq}`,
      model,
      deadline: frame.capturedAt + config.budgetMs,
      settled: false,
      abort: new AbortController(),
    };
    this.#inFlight.add(part);
    part.timer = clock.setTimer(part.deadline - clock.now(), () => {
      part.abort.abort(new LinesightError('LS_ERR_DEADLINE_EXPIRED'));
      this.#finish(part, this.#verdict(part, 'timeout', { error: { code: 'LS_ERR_DEADLINE_EXPIRED', message: `no result within ${config.budgetMs} ms` } }));
    });
    pool
      .infer({
        station: this.id,
        model: model.ref,
        image: frame.image,
        deadline: part.deadline,
        // Free-run frames (no part id from a trigger) may be shed; a triggered part never is.
        shedBeyond: frame.partId === undefined ? config.maxQueue : undefined,
        signal: part.abort.signal,
      })
      .then(
        (result) => this.#onResult(part, result),
        (err: unknown) => this.#onRejected(part, err),
      );
  }

  #onResult(part: Part, result: PoolResult): void {
    part.timer?.cancel();
    const now = this.#o.clock.now();
    if (part.settled || now > part.deadline) {
      this.#late++;
      const status = result.ok ? 'ok' : result.error.code;
      this.#o.bus.emit('late-result', { line: this.#o.line, camera: this.id, partId: part.partId, totalMs: now - part.frame.capturedAt, status });
      this.#o.log.debug({ camera: this.id, part: part.partId, totalMs: +(now - part.frame.capturedAt).toFixed(1), status }, 'late result after the deadline');
      if (!part.settled) this.#finish(part, this.#verdict(part, 'timeout', { result, error: { code: 'LS_ERR_DEADLINE_EXPIRED', message: `result came ${(now - part.deadline).toFixed(1)} ms after the deadline` } }));
      return;
    }
    if (!result.ok) {
      this.#finish(part, this.#verdict(part, 'error', { result, error: result.error }));
      return;
    }
    try {
      const d = decide(result.scores, part.model.rule);
      this.#finish(part, this.#verdict(part, d.verdict, { result, label: d.label, score: d.score, scores: d.scores }));
    } catch (err) {
      this.#finish(part, this.#verdict(part, 'error', { result, error: { code: 'LS_ERR_MODEL_SHAPE', message: (err as Error).message } }));
    }
  }

  #onRejected(part: Part, err: unknown): void {
    if (isLinesightError(err, 'LS_ERR_SHED')) {
      // Shed before it started: the frame was never accepted, so it is counted, not answered.
      part.timer?.cancel();
      part.settled = true;
      this.#inFlight.delete(part);
      this.#dropped++;
      this.#o.bus.emit('frame-dropped', { line: this.#o.line, camera: this.id, reason: 'overload' });
      this.#drained();
      return;
    }
    if (part.settled) return;
    part.timer?.cancel();
    if (isLinesightError(err, 'LS_ERR_DEADLINE_EXPIRED')) {
      this.#finish(part, this.#verdict(part, 'timeout', { error: describeError(err) }));
    } else {
      this.#finish(part, this.#verdict(part, 'error', { error: describeError(err) }));
    }
  }

  #verdict(
    part: Part,
    kind: VerdictKind,
    extra: { result?: PoolResult; label?: string; score?: number; scores?: Record<string, number>; error?: { code: string; message: string } },
  ): Verdict {
    const { clock, config, line } = this.#o;
    const now = clock.now();
    const r = extra.result;
    const timings: VerdictTimings = {
      queueMs: r ? round(r.dispatchedAt - part.frame.capturedAt) : null,
      preprocessMs: r && r.timings.preprocessMs ? round(r.timings.preprocessMs) : null,
      inferenceMs: r && r.timings.inferenceMs ? round(r.timings.inferenceMs) : null,
      totalMs: round(now - part.frame.capturedAt),
    };
    const m = part.model.manifest;
    return {
      id: `${line}.${this.id}.${this.#o.runId}.${part.frame.seq}`,
      line,
      camera: this.id,
      partId: part.partId,
      seq: part.frame.seq,
      verdict: kind,
      action: actionFor(kind, config),
      label: extra.label ?? null,
      score: extra.score === undefined ? null : round(extra.score, 4),
      scores: extra.scores ? Object.fromEntries(Object.entries(extra.scores).map(([k, v]) => [k, round(v, 4)])) : null,
      model: { name: m.name, version: m.version },
      budgetMs: config.budgetMs,
      deadlineMet: kind !== 'timeout' && now <= part.deadline,
      timings,
      capturedAt: new Date(part.frame.capturedWall).toISOString(),
      decidedAt: new Date(toWall(clock, now)).toISOString(),
      ...(extra.error ? { error: extra.error } : {}),
    };
  }

  #finish(part: Part, verdict: Verdict): void {
    if (part.settled) return;
    part.settled = true;
    part.timer?.cancel();
    this.#inFlight.delete(part);
    this.#counts[verdict.verdict]++;
    this.#o.bus.emit('verdict', verdict);
    this.#drained();
  }

  #drained(): void {
    if (this.#inFlight.size) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
