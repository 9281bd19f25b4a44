// The inference pool, main-thread side. It owns its worker threads (node:worker_threads) and
// the order of work: parts wait in per-station earliest-deadline-first queues here and go to a
// thread only when it is free, so a part that can no longer make its deadline is answered at
// once instead of occupying a worker.
//
// Why not piscina (the first version used it): piscina picks the thread for a task, so a
// warm-up or an unload could not be addressed to each thread (one thread stayed cold, retired
// versions stayed resident), and a task that never returns cannot be told from a slow one.
// Here each thread is addressed by id: control tasks (warm-up, unload) go to every thread,
// replacements are warmed before they take parts, and a run past its limit is taken as hung,
// the thread terminated and replaced.
import { Worker } from 'node:worker_threads';
import './native-preload.js';
import { waitAtMost, type Clock, type TimerHandle } from '../clock.js';
import { LinesightError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { FrameImage } from '../capture/frame.js';
import type { EdfEntry } from './edf-queue.js';
import { FairQueue } from './fair-queue.js';
import { loadJpegDecoder, type JpegDecoderChoice } from './jpeg-decoder.js';
import { SpareQueue, type SpareDropReason, type SpareEntry } from './spare-queue.js';
import { defaultMaxImagePixels, type ModelRef, type ResultMessage, type TaskMessage, type WorkerOptions, type WorkerResult, type WorkerTask } from './messages.js';
import type { RuntimeOptions } from './runtimes/runtime.js';
import { ServiceEstimates, estimateKey, type EstimateOptions } from './service-estimates.js';
import { YoungGcPacer } from '../young-gc.js';

export interface PoolOptions extends RuntimeOptions {
  workers: number;
  clock: Clock;
  log: Logger;
  /** A part running longer than this many times its budget is hung: its thread is replaced. */
  hungAfterBudgets?: number;
  /** ... and never sooner than this. */
  hungMinMs?: number;
  /** Longest a warm-up or unload may run (model loads can be slow) before its thread is replaced. */
  controlTimeoutMs?: number;
  /** Longest a warm-up or unload waits for its thread while parts are queued. */
  controlWaitMs?: number;
  estimates?: Partial<EstimateOptions>;
  /** Stations that queued a part this recently count as active for fair share. */
  activeWindowMs?: number;
  /** Frames with more pixels are refused before decoding (default: defaultMaxImagePixels). */
  maxImagePixels?: number;
  /** JPEG decoding: libjpeg-turbo's scaled decode when built ('auto', the default), or sharp's. */
  jpegDecoder?: JpegDecoderChoice;
  /** The thread entry; tests substitute one that wraps the real handler. */
  workerFile?: URL;
  /** Spare-capacity work (shadow trials) waiting at most: beyond it the oldest is dropped. */
  spareQueue?: number;
  /**
   * Threads kept free of spare-capacity work: it starts only when at least this many other
   * threads are idle, so a part arriving meanwhile finds a thread. Default 1 (0 with 1 worker).
   */
  spareReserve?: number;
  /** After a part had to wait for a thread, no spare-capacity work starts for this long (ms). */
  spareCooldownMs?: number;
  /** Each thread collects V8's young generation as buffers pile up (young-gc.ts); off by default. */
  freeBuffersEarly?: boolean;
}

export interface InferJob {
  station: string;
  model: ModelRef;
  image: FrameImage;
  /** Monotonic ms by which the verdict is due. */
  deadline: number;
  /** The part's budget (deadline - start), for the hang limit; defaults to the time left at submission. */
  budgetMs?: number;
  /** Free-run frames may be shed under overload; triggered parts never are. */
  shedBeyond?: number | undefined;
  signal?: AbortSignal;
}

/** Work for spare capacity only (a shadow trial's run): never before a part, dropped first. */
export interface SpareJob {
  station: string;
  model: ModelRef;
  image: FrameImage;
  /** Monotonic ms after which it is dropped unrun (LS_ERR_SHADOW_DROPPED, reason stale). */
  expiresAt: number;
  /** For the hang limit, as for parts. */
  budgetMs: number;
}

/**
 * A worker's result, plus when the pool handed the part to a worker (pool clock) and the part's
 * frame bytes, handed back by the thread (absent if the thread died or hung).
 */
export type PoolResult = WorkerResult & { dispatchedAt: number; frame?: Uint8Array };

export interface WarmupReport {
  provider: string;
  loadMs: number;
  inferenceMs: number;
  /** The output of one run on a neutral input, to check it against the manifest's labels. */
  scores: Float32Array;
  /** The threads that warmed it, by id. */
  threads: number[];
}

export interface PoolStats {
  workers: number;
  running: number;
  queued: number;
  completed: number;
  /** Threads that died on their own mid-task (each was replaced). */
  crashed: number;
  /** Threads terminated because a task ran past its limit (each was replaced). */
  hung: number;
  /** Parts refused before they ran: their estimate said they could not finish in time. */
  refused: number;
  shed: number;
  controlsPending: number;
  /** Spare-capacity work: waiting, run to completion, and dropped unrun by reason. */
  spare: { queued: number; running: number; completed: number; dropped: Record<SpareDropReason, number> };
}

export interface ThreadReport {
  threadId: number;
  busy: boolean;
  /** Model builds this thread holds a session for, as it last reported. */
  resident: string[];
  /** Still warming the active models before taking parts (a replacement thread). */
  warming: boolean;
}

interface PendingPart {
  job: InferJob;
  enqueuedAt: number;
  key: string;
  resolve: (r: PoolResult) => void;
  reject: (e: unknown) => void;
  onAbort?: () => void;
  entry?: EdfEntry<PendingPart>;
  /** Spare-capacity work: not in the stations' queues, not counted in their fair share. */
  spare?: boolean;
}

interface Control {
  task: WorkerTask;
  postedAt: number;
  resolve: (r: WorkerResult) => void;
  /** A replacement's warm-up of an active model: the thread takes no parts until it is done. */
  beforeParts: boolean;
}

interface Running {
  id: number;
  startedAt: number;
  watchdog: TimerHandle;
  part?: PendingPart;
  control?: Control;
}

interface Thread {
  worker: Worker;
  threadId: number;
  running: Running | undefined;
  controls: Control[];
  resident: string[];
  dead: boolean;
}

const defaultWorkerFile = new URL('./worker.js', import.meta.url);

/** A buffer a worker may take: whole, unshared, not a view into Node's Buffer pool. */
function ownedBuffer(data: Uint8Array): Uint8Array {
  if (data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return data;
  return new Uint8Array(data);
}

const failed = (code: ErrorCode | string, message: string, at: number): WorkerResult => ({
  ok: false,
  error: { code, message },
  stage: 'inference',
  timings: { startedAt: at, loadMs: 0, preprocessMs: 0, inferenceMs: 0 },
  threadId: -1,
});

/**
 * 'auto' takes libjpeg-turbo when npm ci built it (loading it here, in the main thread, also keeps
 * it loaded for replacement threads, as native-preload.ts does for the other addons) and says once
 * why not otherwise; asking for it outright makes its absence a start error rather than a slower
 * line.
 */
export function resolveJpegDecoder(choice: JpegDecoderChoice, log: Logger, load = loadJpegDecoder): 'libjpeg-turbo' | 'sharp' {
  if (choice === 'sharp') return 'sharp';
  const loaded = load();
  if ('decoder' in loaded) return 'libjpeg-turbo';
  if (choice === 'libjpeg-turbo') throw new LinesightError('LS_ERR_JPEG_DECODER_UNAVAILABLE', undefined, { args: [loaded.why] });
  log.warn({ code: 'LS_ERR_JPEG_DECODER_UNAVAILABLE', why: loaded.why }, 'JPEG frames are decoded by sharp alone (slower): the libjpeg-turbo decoder was not built (install libjpeg62-turbo-dev, then npm ci)');
  return 'sharp';
}

export class InferencePool {
  readonly #o: Required<Omit<PoolOptions, 'estimates' | 'jpegDecoder' | 'freeBuffersEarly'>>;
  readonly #queue: FairQueue<PendingPart>;
  readonly #spare: SpareQueue<PendingPart>;
  #spareCompleted = 0;
  /** When a part last waited for a thread: capacity is not spare for a while after. */
  #partWaitedAt = -Infinity;
  readonly #estimates: ServiceEstimates;
  readonly #threads: Thread[] = [];
  /** Models every thread must hold: warmed on each new thread before it takes parts. */
  readonly #active = new Map<string, ModelRef>();
  #started = false;
  #closing = false;
  #nextId = 1;
  #idleWaiters: Array<() => void> = [];
  #respawnDelayMs = 0;
  #lastPartAt = -Infinity;
  #controlCheck: TimerHandle | undefined;
  readonly #youngGc: YoungGcPacer | undefined;
  #youngGcQueued = false;
  readonly #counts = { completed: 0, crashed: 0, hung: 0, refused: 0, shed: 0 };
  /** How the threads decode JPEG frames. */
  readonly jpegDecoder: 'libjpeg-turbo' | 'sharp';

  constructor(options: PoolOptions) {
    this.jpegDecoder = resolveJpegDecoder(options.jpegDecoder ?? 'auto', options.log);
    this.#o = {
      hungAfterBudgets: 10,
      hungMinMs: 1000,
      controlTimeoutMs: 300_000,
      controlWaitMs: 250,
      activeWindowMs: 1000,
      workerFile: defaultWorkerFile,
      spareQueue: 2 * options.workers,
      spareReserve: options.workers > 1 ? 1 : 0,
      spareCooldownMs: 1000,
      ...options,
      maxImagePixels: options.maxImagePixels ?? defaultMaxImagePixels,
    };
    this.#queue = new FairQueue({ workers: options.workers, activeWindowMs: this.#o.activeWindowMs });
    this.#estimates = new ServiceEstimates(options.estimates);
    this.#spare = new SpareQueue(this.#o.spareQueue);
    // Made before the threads: it exposes V8's gc() process-wide, so theirs have it too.
    this.#youngGc = options.freeBuffersEarly ? new YoungGcPacer() : undefined;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (let i = 0; i < this.#o.workers; i++) this.#spawn();
  }

  /** Young-generation collections the main thread asked for (inference.freeBuffersEarly). */
  get youngCollections(): number {
    return this.#youngGc?.collections ?? 0;
  }

  get stats(): PoolStats {
    return {
      workers: this.#o.workers,
      running: this.#threads.filter((t) => t.running?.part && !t.running.part.spare).length,
      queued: this.#queue.size,
      ...this.#counts,
      controlsPending: this.#threads.reduce((n, t) => n + t.controls.length, 0),
      spare: {
        queued: this.#spare.size,
        running: this.#threads.filter((t) => t.running?.part?.spare).length,
        completed: this.#spareCompleted,
        dropped: { ...this.#spare.dropped },
      },
    };
  }

  /** Service-time estimates per model build and frame size class, for metrics. */
  get estimates(): ReturnType<ServiceEstimates['snapshot']> {
    return this.#estimates.snapshot();
  }

  /** The live threads (a thread that dies or hangs leaves the list at once), for diagnostics and fault-injection tests. */
  get threads(): readonly Worker[] {
    return this.#threads.map((t) => t.worker);
  }

  /** Per thread: what it holds and whether it is busy. */
  threadReport(): ThreadReport[] {
    return this.#threads.map((t) => ({ threadId: t.threadId, busy: t.running !== undefined, resident: [...t.resident], warming: t.controls.some((c) => c.beforeParts) }));
  }

  /**
   * Resolves with the worker's result (which may be a decode or inference failure, or a crashed
   * or hung thread); rejects with LS_ERR_ADMISSION_REFUSED, LS_ERR_SHED or LS_ERR_POOL_CLOSED
   * when the part never ran.
   */
  infer(job: InferJob): Promise<PoolResult> {
    if (!this.#started || this.#closing) return Promise.reject(new LinesightError('LS_ERR_POOL_CLOSED'));
    if (job.signal?.aborted) return Promise.reject(job.signal.reason);
    const now = this.#o.clock.now();
    const key = estimateKey(job.model.key, job.image);
    // Hopeless already (a fresh estimate longer than the time left): answer now, not at the deadline.
    const admission = this.#estimates.peek(key, now, job.deadline - now);
    if (!admission.admit) {
      this.#counts.refused++;
      return Promise.reject(this.#refusal(job, now, admission.estimateMs));
    }
    return new Promise<PoolResult>((resolve, reject) => {
      const pending: PendingPart = { job, enqueuedAt: now, key, resolve, reject };
      pending.entry = this.#queue.push(job.station, job.deadline, pending, now);
      if (job.signal) {
        pending.onAbort = () => {
          if (this.#dequeue(pending)) reject(job.signal!.reason);
        };
        job.signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      if (job.shedBeyond !== undefined && this.#queue.sizeOf(job.station) > job.shedBeyond) this.#shedOldest(job.station, job.shedBeyond);
      this.#pump();
    });
  }

  /**
   * Runs `job` only on spare capacity: after every waiting part, on a thread taken while at
   * least `spareReserve` others stay idle, and never once parts queue up (then everything
   * waiting here is dropped). Rejects with LS_ERR_SHADOW_DROPPED when it never ran.
   */
  inferOnSpare(job: SpareJob): Promise<PoolResult> {
    if (!this.#started || this.#closing) return Promise.reject(new LinesightError('LS_ERR_POOL_CLOSED'));
    const now = this.#o.clock.now();
    return new Promise<PoolResult>((resolve, reject) => {
      const pending: PendingPart = {
        job: { station: job.station, model: job.model, image: job.image, deadline: job.expiresAt, budgetMs: job.budgetMs },
        enqueuedAt: now,
        key: estimateKey(job.model.key, job.image),
        resolve,
        reject,
        spare: true,
      };
      this.#rejectSpare(this.#spare.push({ value: pending, expiresAt: job.expiresAt }), 'full');
      this.#pump();
    });
  }

  #rejectSpare(entries: ReadonlyArray<{ value: PendingPart }>, reason: SpareDropReason): void {
    for (const e of entries) e.value.reject(new LinesightError('LS_ERR_SHADOW_DROPPED', undefined, { args: [reason] }));
  }

  #refusal(job: InferJob, now: number, estimateMs: number | null): LinesightError {
    const left = job.deadline - now;
    const why = left <= 0 ? `its deadline passed ${(-left).toFixed(1)} ms ago while it waited` : `~${estimateMs?.toFixed(1)} ms to run, ${left.toFixed(1)} ms left`;
    return new LinesightError('LS_ERR_ADMISSION_REFUSED', why);
  }

  /**
   * Loads `model` in every thread and runs it once on a neutral input, each thread addressed by
   * id. From now on a replacement thread warms it before taking parts. On any failure it is
   * unloaded from every thread again and the error thrown.
   */
  async warmUp(model: ModelRef): Promise<WarmupReport> {
    this.#requireOpen();
    this.#active.set(model.key, model);
    const results = await this.#onEveryThread({ kind: 'warmup', model });
    const failure = results.find((r): r is Extract<WorkerResult, { ok: false }> => !r.ok);
    if (failure) {
      await this.unload(model);
      const code = failure.error.code.startsWith('LS_ERR_') && failure.error.code !== 'LS_ERR_INFERENCE' ? (failure.error.code as ErrorCode) : 'LS_ERR_MODEL_LOAD';
      throw new LinesightError(code, failure.error.message);
    }
    const all = results as Array<Extract<WorkerResult, { ok: true }>>;
    this.#o.log.debug({ model: model.key, threads: all.map((r) => r.threadId) }, 'model warmed up on every thread');
    return {
      provider: all[0]!.provider,
      loadMs: Math.max(...all.map((r) => r.timings.loadMs)),
      inferenceMs: Math.max(...all.map((r) => r.timings.inferenceMs)),
      scores: all[0]!.scores,
      threads: all.map((r) => r.threadId),
    };
  }

  /** Has every thread drop a model build, so memory returns to what the active versions need. */
  async unload(model: Pick<ModelRef, 'key'>): Promise<void> {
    this.#active.delete(model.key);
    this.#estimates.forget(model.key);
    if (!this.#started || this.#closing) return;
    await this.#onEveryThread({ kind: 'unload', key: model.key });
  }

  /** Posts a control task to each live thread and waits for every answer. */
  #onEveryThread(task: WorkerTask): Promise<WorkerResult[]> {
    const answers = this.#threads.map((t) => new Promise<WorkerResult>((resolve) => t.controls.push({ task, postedAt: this.#o.clock.now(), resolve, beforeParts: false })));
    this.#pump();
    return Promise.all(answers);
  }

  #requireOpen(): void {
    if (!this.#started || this.#closing) throw new LinesightError('LS_ERR_POOL_CLOSED');
  }

  #dequeue(p: PendingPart): boolean {
    if (!p.entry || !this.#queue.remove(p.job.station, p.entry)) return false;
    if (p.onAbort) p.job.signal?.removeEventListener('abort', p.onAbort);
    return true;
  }

  #shedOldest(station: string, limit: number): void {
    const oldest = this.#queue.oldest(station);
    if (oldest && this.#dequeue(oldest.value)) {
      this.#counts.shed++;
      oldest.value.reject(new LinesightError('LS_ERR_SHED', `station ${station} has more than ${limit} frames waiting`));
    }
  }

  #spawn(): void {
    const worker = new Worker(this.#o.workerFile, {
      workerData: {
        intraOpThreads: this.#o.intraOpThreads,
        executionProviders: this.#o.executionProviders,
        graphOptimization: this.#o.graphOptimization,
        maxImagePixels: this.#o.maxImagePixels,
        jpegDecoder: this.jpegDecoder,
        freeBuffersEarly: this.#youngGc !== undefined,
      } satisfies WorkerOptions,
    });
    const thread: Thread = { worker, threadId: worker.threadId, running: undefined, controls: [], resident: [], dead: false };
    // A new thread (a replacement) warms every active model before it takes a part.
    for (const model of this.#active.values()) {
      thread.controls.push({ task: { kind: 'warmup', model }, postedAt: this.#o.clock.now(), beforeParts: true, resolve: (r) => this.#replacementWarmed(thread, model, r) });
    }
    let lastError: Error | undefined;
    worker.on('message', (msg: ResultMessage) => this.#onMessage(thread, msg));
    worker.on('error', (err) => {
      lastError = err;
      this.#o.log.error({ err, thread: thread.threadId }, 'inference thread failed');
    });
    worker.on('exit', (code) => this.#onExit(thread, code, lastError));
    this.#threads.push(thread);
  }

  #replacementWarmed(thread: Thread, model: ModelRef, r: WorkerResult): void {
    if (!r.ok) this.#o.log.error({ thread: thread.threadId, model: model.key, error: r.error }, 'a new inference thread could not warm an active model');
  }

  #onMessage(thread: Thread, msg: ResultMessage): void {
    const run = thread.running;
    thread.resident = msg.resident;
    this.#respawnDelayMs = 0; // threads answer again: the next death gets a prompt replacement
    if (!run || run.id !== msg.id) return; // an answer from a task already given up on
    this.#finishRun(thread, run, msg.result, msg.frame);
    this.#pump();
    // After the verdict this result settles (promise callbacks run first), not before it.
    if (this.#youngGc && !this.#youngGcQueued) {
      this.#youngGcQueued = true;
      setImmediate(() => {
        this.#youngGcQueued = false;
        this.#youngGc?.tick();
      });
    }
  }

  #finishRun(thread: Thread, run: Running, result: WorkerResult, frame?: Uint8Array): void {
    run.watchdog.cancel();
    thread.running = undefined;
    const now = this.#o.clock.now();
    if (run.control) {
      thread.controls.shift();
      run.control.resolve(result);
    } else if (run.part) {
      const p = run.part;
      const workerMs = now - run.startedAt;
      if (!p.spare) this.#queue.finished(p.job.station, workerMs, now);
      // Every finished run teaches the estimate, late ones included: that is what stops lock-in. A
      // model load is not service time (it would make later parts look hopeless), and a thread that
      // died or hung measured nothing.
      if (result.threadId >= 0 && (result.ok || result.stage !== 'load')) {
        this.#estimates.record(p.key, result.timings.preprocessMs + result.timings.inferenceMs, now);
      } else this.#estimates.release(p.key);
      if (result.threadId >= 0 && p.spare) this.#spareCompleted++;
      else if (result.threadId >= 0) this.#counts.completed++;
      p.resolve(frame ? { ...result, dispatchedAt: run.startedAt, frame } : { ...result, dispatchedAt: run.startedAt });
    }
    this.#notifyIdle();
  }

  #onExit(thread: Thread, code: number, err: Error | undefined): void {
    const idx = this.#threads.indexOf(thread);
    if (idx < 0) return; // already given up on (hung) and replaced
    this.#threads.splice(idx, 1);
    const expected = thread.dead; // terminated by close()
    thread.dead = true;
    const run = thread.running;
    if (run) {
      const why = this.#closing ? 'the pool closed' : `thread ${thread.threadId} exited (code ${code})${err ? `: ${err.message}` : ''}`;
      this.#finishRun(thread, run, failed(this.#closing ? 'LS_ERR_POOL_CLOSED' : 'LS_ERR_WORKER_CRASHED', why, run.startedAt));
    }
    this.#abandonControls(thread);
    if (this.#closing || expected) {
      this.#notifyIdle();
      return;
    }
    this.#counts.crashed++;
    this.#o.log.error({ thread: thread.threadId, code }, 'inference thread exited; replacing it');
    this.#replace();
  }

  /** Control tasks still waiting for a thread that is gone are answered: nobody will run them. */
  #abandonControls(thread: Thread): void {
    for (const c of thread.controls.splice(0)) {
      if (c.task.kind === 'unload') c.resolve({ ok: true, scores: new Float32Array(0), provider: '', timings: { startedAt: 0, loadMs: 0, preprocessMs: 0, inferenceMs: 0 }, threadId: thread.threadId });
      else c.resolve(failed('LS_ERR_WORKER_CRASHED', `thread ${thread.threadId} ended before it could warm the model`, this.#o.clock.now()));
    }
  }

  #replace(): void {
    // Back off when threads die at birth (a broken install), or the box would spin.
    const delay = this.#respawnDelayMs;
    this.#respawnDelayMs = Math.min(10_000, Math.max(100, delay * 2));
    this.#o.clock.setTimer(delay, () => {
      if (this.#closing) return;
      this.#spawn();
      this.#pump();
    });
    this.#pump();
  }

  /**
   * A task ran past its limit: the thread is stuck (native code that never returns). Its task is
   * answered now and a replacement started at once; terminate() may not take effect until the
   * native call returns, if ever, so nothing waits for it.
   */
  #onHung(thread: Thread, run: Running, limitMs: number): void {
    if (thread.running !== run || thread.dead) return;
    this.#counts.hung++;
    const what = run.part ? `a part of station ${run.part.job.station}` : `a ${run.control?.task.kind}`;
    this.#o.log.error({ thread: thread.threadId, limitMs }, `inference thread hung on ${what}; terminating and replacing it`);
    thread.dead = true;
    const idx = this.#threads.indexOf(thread);
    if (idx >= 0) this.#threads.splice(idx, 1);
    this.#finishRun(thread, run, failed('LS_ERR_WORKER_HUNG', `thread ${thread.threadId} ran ${what} for more than ${Math.round(limitMs)} ms`, run.startedAt));
    this.#abandonControls(thread);
    void thread.worker.terminate();
    this.#spawn();
    this.#pump();
  }

  #run(thread: Thread, run: Omit<Running, 'id' | 'startedAt' | 'watchdog'>, task: WorkerTask, limitMs: number, transfer?: ArrayBuffer[]): void {
    const r = run as Running;
    r.id = this.#nextId++;
    r.startedAt = this.#o.clock.now();
    r.watchdog = this.#o.clock.setTimer(limitMs, () => this.#onHung(thread, r, limitMs));
    thread.running = r;
    thread.worker.postMessage({ id: r.id, task } satisfies TaskMessage, transfer);
  }

  #pump(): void {
    if (!this.#started) return;
    const now = this.#o.clock.now();
    const controlling = () => this.#threads.filter((t) => t.running?.control).length;
    // While parts are coming, at most workers-1 threads do control work at once, so a swap never
    // stops serving: a part arriving mid-swap finds a thread that is not loading a model. Idle
    // (start-up), every thread warms at once.
    const serving = this.#queue.size > 0 || now - this.#lastPartAt <= this.#o.activeWindowMs;
    const lanes = serving ? Math.max(1, this.#o.workers - 1) : this.#o.workers;
    for (const thread of this.#threads) {
      if (thread.running) continue;
      const c = thread.controls[0];
      const due = c && (this.#queue.size === 0 || now - c.postedAt >= this.#o.controlWaitMs);
      if (c && (c.beforeParts || (due && controlling() < lanes))) {
        this.#run(thread, { control: c }, c.task, this.#o.controlTimeoutMs);
        continue;
      }
      if (thread.controls.some((x) => x.beforeParts)) continue;
      this.#startNextPart(thread, now);
    }
    this.#pumpSpare(now);
    // A control task waiting behind parts gets its turn when its wait runs out, even if no thread frees up sooner.
    if (this.#queue.size > 0 && this.#threads.some((t) => !t.running && t.controls.length)) this.#scheduleControlCheck();
  }

  /** Spare-capacity work on threads that nothing else wants, keeping `spareReserve` threads idle. */
  #pumpSpare(now: number): void {
    if (this.#queue.size > 0) this.#partWaitedAt = now;
    if (this.#spare.size === 0) return;
    // A part is waiting for a thread, or did a moment ago: the line needs every thread, and a
    // spare run started now could hold one when the next burst comes. Spare work is given up.
    if (now - this.#partWaitedAt < this.#o.spareCooldownMs) {
      this.#rejectSpare(this.#spare.clear('load'), 'load');
      return;
    }
    const free = () => this.#threads.filter((t) => !t.running && !t.dead && t.controls.length === 0);
    for (;;) {
      const idle = free();
      if (idle.length <= this.#o.spareReserve) return;
      const stale: Array<SpareEntry<PendingPart>> = [];
      const entry = this.#spare.take(now, stale);
      this.#rejectSpare(stale, 'stale');
      if (!entry) return;
      const p = entry.value;
      const image = { ...p.job.image, data: ownedBuffer(p.job.image.data) };
      const limit = Math.max(this.#o.hungMinMs, (p.job.budgetMs ?? 100) * this.#o.hungAfterBudgets);
      this.#run(idle[0]!, { part: p }, { kind: 'infer', model: p.job.model, image }, limit, [image.data.buffer as ArrayBuffer]);
    }
  }

  #scheduleControlCheck(): void {
    if (this.#controlCheck) return;
    this.#controlCheck = this.#o.clock.setTimer(this.#o.controlWaitMs, () => {
      this.#controlCheck = undefined;
      this.#pump();
    });
  }

  #startNextPart(thread: Thread, now: number): void {
    for (;;) {
      const next = this.#queue.next(now);
      if (!next) return;
      const p = next.entry.value;
      this.#dequeue(p);
      const left = p.job.deadline - now;
      const admission = left <= 0 ? ({ admit: false, estimateMs: null } as const) : this.#estimates.admit(p.key, now, left);
      if (!admission.admit) {
        this.#counts.refused++;
        p.reject(this.#refusal(p.job, now, admission.estimateMs));
        continue;
      }
      this.#queue.started(p.job.station);
      this.#lastPartAt = now;
      const image = { ...p.job.image, data: ownedBuffer(p.job.image.data) };
      const budget = p.job.budgetMs ?? Math.max(1, p.job.deadline - p.enqueuedAt);
      const limit = Math.max(this.#o.hungMinMs, budget * this.#o.hungAfterBudgets);
      this.#run(thread, { part: p }, { kind: 'infer', model: p.job.model, image }, limit, [image.data.buffer as ArrayBuffer]);
      return;
    }
  }

  #notifyIdle(): void {
    if (this.#queue.size > 0 || this.#threads.some((t) => t.running)) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#queue.size === 0 && !this.#threads.some((t) => t.running)) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking work, lets queued and running parts finish for up to `drainMs`, then ends the threads. */
  async close(drainMs = 5000): Promise<void> {
    if (!this.#started || this.#closing) return;
    this.#closing = true;
    this.#rejectSpare(this.#spare.clear('closed'), 'closed');
    try {
      await waitAtMost(this.idle(), drainMs, this.#o.clock);
    } finally {
      this.#controlCheck?.cancel();
      for (const { entry } of this.#queue.entries()) {
        if (this.#dequeue(entry.value)) entry.value.reject(new LinesightError('LS_ERR_POOL_CLOSED'));
      }
      const threads = this.#threads.splice(0);
      await Promise.all(
        threads.map(async (t) => {
          t.dead = true;
          const run = t.running;
          if (run) this.#finishRun(t, run, failed('LS_ERR_POOL_CLOSED', 'the pool closed before the part finished', run.startedAt));
          for (const c of t.controls.splice(0)) c.resolve(failed('LS_ERR_POOL_CLOSED', 'the pool closed', this.#o.clock.now()));
          await t.worker.terminate();
        }),
      );
      this.#started = false;
    }
  }
}
