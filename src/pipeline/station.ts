// A station is one camera's inspection loop: frames in, exactly one verdict per accepted part
// out, by its deadline. The deadline timer and the worker's answer race; whichever comes
// first decides, and a late answer is logged, never published as a second verdict.
import type { Clock, TimerHandle } from '../clock.js';
import type { StationConfig } from '../config/schema.js';
import { describeError, isLinesightError, LinesightError } from '../errors.js';
import type { DropReason, EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { Frame, FrameImage } from '../capture/frame.js';
import type { FrameSource } from '../capture/source.js';
import { FrameRing } from '../capture/frame-ring.js';
import type { Trigger, TriggerEvent } from '../capture/trigger.js';
import { decide, ruleFromManifest, type DecisionRule } from '../models/decision.js';
import type { LoadedModel } from '../models/model-ref.js';
import type { InferencePool, PoolResult } from '../inference/pool.js';
import type { Verdict, VerdictKind } from '../verdict.js';
import type { QueueReport, QueueReporter } from '../queues.js';
import { buildVerdict, type Part, type ServingModel, type VerdictDetail } from './part.js';

export type { ServingModel };

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
  /** External trigger (MQTT, GPIO); HTTP triggers call trigger() directly. */
  trigger?: Trigger | undefined;
  /** Told when the camera starts, or cannot start (with why): readiness follows it. */
  onCameraChange?: ((running: boolean, detail: string) => void) | undefined;
  /**
   * Told of every decided part with its frame, just before the verdict is emitted (evidence).
   * Must only look and queue: it runs on the verdict path.
   */
  onDecided?: ((part: DecidedPart) => void) | undefined;
  /**
   * Whether anyone may ask for a recent part's frame by its sequence number (a dashboard is open).
   * While not, only the last and the last rejected frames are kept: the ring of recent frames is
   * up to 16 MiB that a headless line never reads. Default: always.
   */
  recentImagesWanted?: (() => boolean) | undefined;
}

/** A decided part as evidence sees it: the verdict, the frame (undefined if none was kept) and the thresholds that decided it. */
export interface DecidedPart {
  verdict: Verdict;
  image: FrameImage | undefined;
  rule: DecisionRule;
}

/** The frame of a decided part, kept for the dashboard. */
export interface StationImage {
  image: FrameImage;
  verdict: Pick<Verdict, 'seq' | 'partId' | 'verdict' | 'action' | 'label' | 'score' | 'decidedAt'>;
}

// Frames kept by part sequence for the dashboard: a browser asks for a part's image a few
// hundred ms after its verdict; at 10 parts/s these cover well over a second.
// Raw frames are megabytes each, so the bytes are bounded too (the newest one is always kept).
const recentImages = 32;
const recentImageBytes = 16 * 1024 * 1024;

/** A trigger waiting for its frame. */
interface WaitingTrigger {
  seq: number;
  partId: string;
  at: number;
  wall: number;
  timer: TimerHandle;
}

export interface StationStatus {
  id: string;
  model: { name: string; version: string; provider: string } | null;
  inFlight: number;
  counts: Record<VerdictKind, number>;
  dropped: number;
  lateResults: number;
  mode: StationConfig['trigger']['type'];
  waitingTriggers: number;
  source: ReturnType<FrameSource['health']>;
}

export class Station implements QueueReporter {
  readonly id: string;
  readonly #o: StationOptions;
  #model: ServingModel | undefined;
  readonly #inFlight = new Set<Part>();
  #loop: Promise<void> | undefined;
  readonly #counts: Record<VerdictKind, number> = { pass: 0, fail: 0, uncertain: 0, timeout: 0, error: 0 };
  #dropped = 0;
  #late = 0;
  readonly #triggered: boolean;
  readonly #tolerance: number;
  readonly #ring = new FrameRing();
  #waiting: WaitingTrigger[] = [];
  #triggerSeq = 0;
  #lastAcceptedAt = -Infinity;
  #settleWatchers: Array<() => boolean> = [];
  #started = false;
  #stopping = false;
  #closedToTriggers = false;
  #sourceRetry: TimerHandle | undefined;
  #sourceError: string | null = null;
  #images: { last?: StationImage; reject?: StationImage } = {};
  /** How many frames were kept as the last, and as the last rejected: a late frame's test of being the newest. */
  readonly #keptCount = { last: 0, reject: 0 };
  /** The newest parts' frames by sequence, so a caption's image can be fetched by its part. */
  readonly #recent: StationImage[] = [];
  #recentBytes = 0;
  #shadowTap: ((part: DecidedPart) => void) | undefined;

  constructor(options: StationOptions) {
    this.#o = options;
    this.id = options.config.id;
    const t = options.config.trigger;
    this.#triggered = t.type !== 'free-run';
    this.#tolerance = t.type === 'free-run' ? 0 : t.toleranceMs;
    options.source.onDrop = (reason) => this.#drop(reason);
  }

  get triggered(): boolean {
    return this.#triggered;
  }

  get model(): ServingModel | undefined {
    return this.#model;
  }

  get budgetMs(): number {
    return this.#o.config.budgetMs;
  }

  /** The station's threshold override, if its config has one (a candidate decides by it too). */
  get thresholds(): { pass: number; fail: number } | undefined {
    return this.#o.config.thresholds;
  }

  /**
   * A shadow trial's tap: told of every decided part with a copy of its frame, after the verdict
   * is built and before it is published. Like onDecided, it must only look and queue.
   */
  setShadowTap(tap: ((part: DecidedPart) => void) | undefined): void {
    this.#shadowTap = tap;
  }

  /** Switches the model for parts captured from now on; parts in flight keep theirs. */
  setModel(model: LoadedModel): void {
    this.#model = { ...model, rule: ruleFromManifest(model.manifest, this.#o.config.thresholds) };
  }

  /**
   * Starts the trigger and the camera. A camera that cannot start (unplugged, misconfigured) does
   * not stop the station, or the box: it is retried with backoff while its health says why, and
   * triggered parts still get their (`error`, no frame) verdicts meanwhile.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    if (!this.#model) throw new LinesightError('LS_ERR_MODEL_NOT_FOUND', 'station started without a model', { args: [this.#o.config.model] });
    this.#started = true;
    await this.#o.trigger?.start((e) => {
      try {
        this.trigger(e);
      } catch (err) {
        // Only while shutting down (the trigger input is stopped first, so this is a race of milliseconds).
        this.#o.log.warn({ camera: this.id, origin: e.origin, partId: e.partId, err }, 'trigger refused');
      }
    });
    await this.#startSource(0);
  }

  async #startSource(attempt: number): Promise<void> {
    if (this.#stopping) return;
    try {
      await this.#o.source.start();
    } catch (err) {
      const delay = Math.min(60_000, 1000 * 2 ** Math.min(attempt, 6));
      this.#sourceError = (err as Error).message;
      this.#o.log.error({ camera: this.id, err, retryInMs: delay }, 'camera cannot start; retrying');
      this.#o.onCameraChange?.(false, this.#sourceError);
      this.#sourceRetry = this.#o.clock.setTimer(delay, () => void this.#startSource(attempt + 1));
      return;
    }
    this.#sourceError = null;
    this.#loop = this.#run();
    this.#o.onCameraChange?.(true, 'camera started');
  }

  async #run(): Promise<void> {
    try {
      for await (const frame of this.#o.source.frames()) this.#onFrame(frame);
    } catch (err) {
      this.#o.log.error({ err, camera: this.id }, 'frame source ended with an error');
    }
  }

  #onFrame(frame: Frame): void {
    const { clock, config } = this.#o;
    if (config.maxFrameAgeMs !== undefined && clock.now() - frame.capturedAt > config.maxFrameAgeMs) {
      this.#drop('stale');
      return;
    }
    if (this.#triggered) {
      this.#ring.push(frame);
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const w of waiting) this.#acceptTriggered(w, frame);
      if (waiting.length) this.#drained();
      return;
    }
    const t = config.trigger;
    if (t.type === 'free-run' && t.ratePerSec !== undefined && frame.capturedAt - this.#lastAcceptedAt < 1000 / t.ratePerSec) {
      this.#drop('skipped');
      return;
    }
    this.#lastAcceptedAt = frame.capturedAt;
    this.inspect(frame);
  }

  /**
   * A part is here (external trigger): it gets exactly one verdict, from the nearest frame within
   * the tolerance, else the first frame after now, else `error` (no frame) at its deadline.
   */
  trigger(event: TriggerEvent): { partId: string; seq: number } {
    if (!this.#triggered) throw new LinesightError('LS_ERR_TRIGGER', `station ${this.id} is free-running`, { args: [event.origin] });
    // Before the model is loaded and warm, or once shutdown began, a part would get no real verdict:
    // the caller is told now (HTTP 503) instead of getting a verdict that means nothing.
    if (!this.#started || !this.#model) throw new LinesightError('LS_ERR_NOT_READY', `station ${this.id} is still starting (model not loaded yet)`, { args: [this.id] });
    if (this.#closedToTriggers) throw new LinesightError('LS_ERR_NOT_READY', `station ${this.id} is shutting down`, { args: [this.id] });
    const { clock, config } = this.#o;
    const seq = ++this.#triggerSeq;
    const partId = event.partId ?? `${this.id}-${this.#o.runId}-${seq}`;
    const at = clock.now();
    const recent = this.#ring.nearestBefore(at, this.#tolerance);
    const w: WaitingTrigger = { seq, partId, at, wall: clock.wallNow(), timer: { cancel: () => {} } };
    if (recent) {
      this.#acceptTriggered(w, recent);
    } else {
      this.#waiting.push(w);
      w.timer = clock.setTimer(config.budgetMs, () => this.#noFrame(w));
    }
    return { partId, seq };
  }

  #acceptTriggered(w: WaitingTrigger, frame: Frame): void {
    w.timer.cancel();
    // Several parts may share a frame, and a frame's bytes are moved to a worker: each part gets its own copy.
    const image = { ...frame.image, data: new Uint8Array(frame.image.data) };
    this.#accept({ ...frame, image }, { seq: w.seq, partId: w.partId, startAt: w.at, triggeredWall: w.wall });
  }

  /** The trigger's deadline passed with no frame from the camera: the part still gets its verdict. */
  #noFrame(w: WaitingTrigger): void {
    this.#waiting = this.#waiting.filter((x) => x !== w);
    const part = this.#newPart(this.#noFramePlaceholder(w), { seq: w.seq, partId: w.partId, startAt: w.at, triggeredWall: w.wall });
    part.noFrame = true;
    this.#finish(part, this.#verdict(part, 'error', { error: { code: 'LS_ERR_NO_FRAME', message: `no frame within ${this.#o.config.budgetMs} ms of the trigger` } }));
  }

  #noFramePlaceholder(w: WaitingTrigger): Frame {
    return { camera: this.id, seq: 0, capturedAt: w.at, capturedWall: w.wall, image: { kind: 'encoded', data: new Uint8Array(0) } };
  }

  #drop(reason: DropReason): void {
    this.#dropped++;
    this.#o.bus.emit('frame-dropped', { line: this.#o.line, camera: this.id, reason });
  }

  /**
   * Shutdown, first half: the trigger input stops (no new part after this resolves), triggers
   * already accepted get their frames until `deadline` (monotonic ms), then the camera stops.
   */
  async stopInputs(deadline: number): Promise<void> {
    this.#sourceRetry?.cancel();
    await this.#o.trigger?.stop();
    this.#closedToTriggers = true;
    if (this.#waiting.length) await this.#until(() => this.#waiting.length === 0, deadline);
    this.#stopping = true;
    await this.#o.source.stop();
    await this.#loop;
  }

  /**
   * Shutdown, second half: waits until every accepted part has its verdict, or `deadline`;
   * a part still undecided then gets `timeout` (LS_ERR_SHUTDOWN) with the fail-safe action.
   */
  async drain(deadline: number): Promise<void> {
    await this.#until(() => this.#inFlight.size === 0 && this.#waiting.length === 0, deadline);
    for (const w of this.#waiting.splice(0)) {
      w.timer.cancel();
      const part = this.#newPart(this.#noFramePlaceholder(w), { seq: w.seq, partId: w.partId, startAt: w.at, triggeredWall: w.wall });
      part.noFrame = true;
    }
    for (const part of [...this.#inFlight]) {
      part.abort.abort(new LinesightError('LS_ERR_SHUTDOWN'));
      this.#finish(part, this.#verdict(part, 'timeout', { error: { code: 'LS_ERR_SHUTDOWN', message: 'the service stopped before the part was decided (drain timeout)' } }));
    }
  }

  /** Stops inputs, then drains, both within `timeoutMs`. Idempotent. */
  async stop(timeoutMs = 5000): Promise<void> {
    const deadline = this.#o.clock.now() + timeoutMs;
    await this.stopInputs(deadline);
    await this.drain(deadline);
  }

  /** Resolves when `done()` holds (checked whenever a part settles or a waiting trigger gets its frame), or at `deadline` if one is given. */
  #until(done: () => boolean, deadline?: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer =
        deadline === undefined
          ? undefined
          : this.#o.clock.setTimer(deadline - this.#o.clock.now(), () => {
              this.#settleWatchers = this.#settleWatchers.filter((w) => w !== check);
              resolve();
            });
      const check = () => {
        if (!done()) return false;
        timer?.cancel();
        resolve();
        return true;
      };
      this.#settleWatchers.push(check);
    });
  }


  /**
   * The frames a triggered station keeps for late triggers: a ring of the newest few, so memory
   * is bounded by count (raw frames are the largest: at most `capacity` of them per camera).
   * Waiting triggers are bounded by time instead: each gets its verdict within the budget.
   */
  queues(): QueueReport[] {
    if (!this.#triggered) return [];
    const ring = this.#ring;
    return [{ queue: `frame-ring:${this.id}`, depth: ring.size, capacity: ring.capacity, dropped: { 'full-oldest': ring.evicted } }];
  }

  status(): StationStatus {
    const m = this.#model;
    const source = this.#o.source.health();
    return {
      id: this.id,
      model: m ? { name: m.manifest.name, version: m.manifest.version, provider: m.provider } : null,
      inFlight: this.#inFlight.size,
      counts: { ...this.#counts },
      dropped: this.#dropped,
      lateResults: this.#late,
      mode: this.#o.config.trigger.type,
      waitingTriggers: this.#waiting.length,
      source: this.#sourceError && source.lastError === null ? { ...source, state: 'failed', lastError: this.#sourceError } : source,
    };
  }

  /**
   * Accepts one frame as a part. With a part id on the frame (or when the station is triggered)
   * the part is never shed; a bare free-run frame may be.
   */
  inspect(frame: Frame): void {
    this.#accept(frame, { seq: frame.seq, partId: frame.partId, startAt: frame.capturedAt });
  }

  #newPart(frame: Frame, info: { seq: number; partId?: string | undefined; startAt: number; triggeredWall?: number }): Part {
    const part: Part = {
      frame,
      seq: info.seq,
      partId: info.partId ?? `${this.id}-${this.#o.runId}-${info.seq}`,
      startAt: info.startAt,
      ...(info.triggeredWall !== undefined ? { triggeredWall: info.triggeredWall } : {}),
      model: this.#model!,
      deadline: info.startAt + this.#o.config.budgetMs,
      settled: false,
      abort: new AbortController(),
    };
    this.#inFlight.add(part);
    return part;
  }

  #accept(frame: Frame, info: { seq: number; partId?: string | undefined; startAt: number; triggeredWall?: number }): void {
    const { clock, config, pool } = this.#o;
    // The frame's buffer moves to a worker and comes back with its answer (part.returned), so the
    // part keeps no copy. A copy per part was a megabyte the main thread held until its next full
    // collection, and glibc kept the holes: 20-27 MiB more RSS at 10 parts/s of 1280 x 1024 frames
    // (README "Memory"). Frames in a SharedArrayBuffer would need no hand-back but cost more CPU
    // (tried at 65 parts/s: 12 % more, slower decodes).
    const part = this.#newPart(frame, info);
    part.timer = clock.setTimer(part.deadline - clock.now(), () => {
      part.abort.abort(new LinesightError('LS_ERR_DEADLINE_EXPIRED'));
      this.#finish(part, this.#verdict(part, 'timeout', { error: { code: 'LS_ERR_DEADLINE_EXPIRED', message: `no result within ${config.budgetMs} ms` } }));
    });
    const sheddable = !this.#triggered && info.partId === undefined;
    pool
      .infer({
        station: this.id,
        model: part.model.ref,
        image: frame.image,
        deadline: part.deadline,
        budgetMs: config.budgetMs,
        shedBeyond: sheddable ? config.maxQueue : undefined,
        signal: part.abort.signal,
      })
      .then(
        (result) => this.#onResult(part, result),
        (err: unknown) => this.#onRejected(part, err),
      );
  }

  #onResult(part: Part, result: PoolResult): void {
    this.#answered(part, result.frame);
    part.timer?.cancel();
    const now = this.#o.clock.now();
    if (part.settled || now > part.deadline) {
      this.#late++;
      const status = result.ok ? 'ok' : result.error.code;
      this.#o.bus.emit('late-result', { line: this.#o.line, camera: this.id, partId: part.partId, totalMs: now - part.startAt, status });
      this.#o.log.debug({ camera: this.id, part: part.partId, totalMs: +(now - part.startAt).toFixed(1), status }, 'late result after the deadline');
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
    this.#answered(part, undefined);
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
    if (isLinesightError(err, 'LS_ERR_ADMISSION_REFUSED') || isLinesightError(err, 'LS_ERR_DEADLINE_EXPIRED')) {
      this.#finish(part, this.#verdict(part, 'timeout', { error: describeError(err) }));
    } else {
      this.#finish(part, this.#verdict(part, 'error', { error: describeError(err) }));
    }
  }

  #verdict(part: Part, kind: VerdictKind, extra: VerdictDetail): Verdict {
    const { clock, config, line, runId } = this.#o;
    return buildVerdict(part, kind, extra, { line, camera: this.id, runId, config, clock });
  }

  #finish(part: Part, verdict: Verdict): void {
    if (part.settled) return;
    part.settled = true;
    part.timer?.cancel();
    this.#inFlight.delete(part);
    this.#counts[verdict.verdict]++;
    if (!part.noFrame) {
      const image = this.#frameOf(part);
      // Evidence and shadow trials take no timeouts (no scores), the only parts decided while a
      // worker still holds their frame: the dashboard gets such a frame when it comes back.
      this.#decided({ verdict, image, rule: part.model.rule });
      if (image) this.#keep(verdict, image);
      else if (!part.answered) {
        const keptBefore = { ...this.#keptCount };
        part.onFrameBack = (back) => {
          if (back) this.#keep(verdict, back, keptBefore);
        };
      }
    }
    this.#o.bus.emit('verdict', verdict);
    this.#drained();
  }

  /** Records that the pool answered for `part`, with the frame's bytes if its worker handed them back. */
  #answered(part: Part, frame: Uint8Array | undefined): void {
    if (part.answered) return;
    part.answered = true;
    if (frame) part.returned = frame;
    const waiting = part.onFrameBack;
    part.onFrameBack = undefined;
    waiting?.(this.#frameOf(part));
  }

  /** The part's frame: the bytes its worker handed back, or the original if it never left (refused, shed, queued). */
  #frameOf(part: Part): FrameImage | undefined {
    const original = part.frame.image;
    if (part.returned) return { ...original, data: part.returned };
    // A moved buffer reads as empty here (detached).
    return original.data.byteLength > 0 ? original : undefined;
  }

  #decided(decided: DecidedPart): void {
    this.#tell(this.#o.onDecided, decided, 'evidence hook failed');
    this.#tell(this.#shadowTap, decided, 'shadow trial hook failed');
  }

  /** A hook on the verdict path: its failure is logged, never the part's. */
  #tell(hook: ((p: DecidedPart) => void) | undefined, decided: DecidedPart, failure: string): void {
    if (!hook) return;
    try {
      hook(decided);
    } catch (err) {
      this.#o.log.error({ err, camera: this.id, part: decided.verdict.partId }, failure);
    }
  }

  /**
   * Keeps a decided part's frame for the dashboard: the last, the last rejected, and recent ones
   * by sequence. A frame that came back late (a timeout's) replaces the last or last rejected one
   * only if no part decided after it was kept meanwhile (`keptBefore`: the counts when it was decided).
   */
  #keep(verdict: Verdict, image: FrameImage, keptBefore = { ...this.#keptCount }): void {
    const { seq, partId, label, score, decidedAt, action } = verdict;
    const kept: StationImage = { image, verdict: { seq, partId, verdict: verdict.verdict, action, label, score, decidedAt } };
    if (keptBefore.last === this.#keptCount.last++) this.#images.last = kept;
    if (action === 'reject' && keptBefore.reject === this.#keptCount.reject++) this.#images.reject = kept;
    if (this.#o.recentImagesWanted?.() ?? true) {
      this.#recent.push(kept);
      this.#recentBytes += image.data.byteLength;
      while (this.#recent.length > 1 && (this.#recent.length > recentImages || this.#recentBytes > recentImageBytes)) this.#recentBytes -= this.#recent.shift()!.image.data.byteLength;
    } else if (this.#recent.length) {
      this.#recent.length = 0;
      this.#recentBytes = 0;
    }
  }

  /** The last inspected frame, or the last rejected one, with its verdict. */
  image(which: 'last' | 'reject'): StationImage | undefined {
    return this.#images[which];
  }

  /** The frame of part `seq` while it is among the newest few kept (encoded frames: every part). */
  imageOf(seq: number): StationImage | undefined {
    for (let i = this.#recent.length - 1; i >= 0; i--) if (this.#recent[i]!.verdict.seq === seq) return this.#recent[i];
    const { last, reject } = this.#images;
    return last?.verdict.seq === seq ? last : reject?.verdict.seq === seq ? reject : undefined;
  }

  /** Resolves when no part in flight uses the model `key` (its version can then be unloaded). */
  whenDrainedOf(key: string): Promise<void> {
    return this.#until(() => ![...this.#inFlight].some((p) => p.model.ref.key === key));
  }


  #drained(): void {
    if (this.#settleWatchers.length) this.#settleWatchers = this.#settleWatchers.filter((check) => !check());
  }
}
