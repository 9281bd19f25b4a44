// The inference pool, main-thread side. Piscina owns the threads; this class owns the order:
// parts wait in an earliest-deadline-first queue here and go to piscina only when a worker is
// free, so piscina's own FIFO queue stays empty and a part that can no longer make its
// deadline is answered at once instead of occupying a worker.
import { Piscina } from 'piscina';
import './native-preload.js';
import type { Clock } from '../clock.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FrameImage } from '../capture/frame.js';
import { EdfQueue, type EdfEntry } from './edf-queue.js';
import type { ModelRef, WorkerResult, WorkerTask } from './messages.js';
import type { RuntimeOptions } from './runtimes/runtime.js';

export interface PoolOptions extends RuntimeOptions {
  workers: number;
  clock: Clock;
  log: Logger;
}

export interface InferJob {
  station: string;
  model: ModelRef;
  /** The frame; absent for a control task. */
  image?: FrameImage;
  /** Instead of inspecting: load and run once on a neutral input (warm-up), or drop the model (unload). */
  control?: 'warmup' | 'unload';
  /** Monotonic ms by which the verdict is due. */
  deadline: number;
  /** Free-run frames may be shed under overload; triggered parts never are. */
  shedBeyond?: number;
  signal?: AbortSignal;
}

/** A worker's result, plus when the pool handed the part to a worker (pool clock). */
export type PoolResult = WorkerResult & { dispatchedAt: number };

interface Pending {
  job: InferJob;
  enqueuedAt: number;
  resolve: (r: PoolResult) => void;
  reject: (e: unknown) => void;
  onAbort?: () => void;
}

export interface WarmupReport {
  provider: string;
  loadMs: number;
  inferenceMs: number;
  /** The output of one run on a neutral input, to check it against the manifest's labels. */
  scores: Float32Array;
}

export interface PoolStats {
  workers: number;
  running: number;
  queued: number;
  completed: number;
  crashed: number;
  expired: number;
  shed: number;
  serviceMsEstimate: number;
}

const workerFile = new URL('./worker.js', import.meta.url).href;

/** A buffer a worker may take: whole, unshared, not a view into Node's Buffer pool. */
function ownedBuffer(data: Uint8Array): Uint8Array {
  if (data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return data;
  return new Uint8Array(data);
}

export class InferencePool {
  readonly #options: PoolOptions;
  readonly #queue = new EdfQueue<Pending>();
  readonly #queuedByStation = new Map<string, Set<EdfEntry<Pending>>>();
  #piscina: Piscina | undefined;
  #running = 0;
  #closing = false;
  #idleWaiters: Array<() => void> = [];
  #serviceMs = 0;
  readonly #counts = { completed: 0, crashed: 0, expired: 0, shed: 0 };

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#piscina) return;
    const { workers, intraOpThreads, executionProviders, graphOptimization } = this.#options;
    this.#piscina = new Piscina({
      filename: workerFile,
      minThreads: workers,
      maxThreads: workers,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      workerData: { intraOpThreads, executionProviders, graphOptimization } satisfies RuntimeOptions,
    });
    this.#piscina.on('error', (err: Error) => this.#options.log.error({ err }, 'inference worker error'));
  }

  get stats(): PoolStats {
    return {
      workers: this.#options.workers,
      running: this.#running,
      queued: this.#queue.size,
      ...this.#counts,
      serviceMsEstimate: this.#serviceMs,
    };
  }

  /** The piscina threads, for diagnostics and fault-injection tests. */
  get threads(): readonly import('node:worker_threads').Worker[] {
    return this.#piscina?.threads ?? [];
  }

  /**
   * Resolves with the worker's result (which may be a decode or inference failure); rejects
   * with LS_ERR_DEADLINE_EXPIRED, LS_ERR_SHED or LS_ERR_POOL_CLOSED when the part never ran.
   */
  infer(job: InferJob): Promise<PoolResult> {
    if (!this.#piscina || this.#closing) return Promise.reject(new LinesightError('LS_ERR_POOL_CLOSED'));
    if (job.signal?.aborted) return Promise.reject(job.signal.reason);
    return new Promise<PoolResult>((resolve, reject) => {
      const pending: Pending = { job, enqueuedAt: this.#options.clock.now(), resolve, reject };
      const entry = this.#queue.push(job.deadline, pending);
      let mine = this.#queuedByStation.get(job.station);
      if (!mine) this.#queuedByStation.set(job.station, (mine = new Set()));
      mine.add(entry);
      if (job.signal) {
        pending.onAbort = () => {
          if (this.#dequeue(entry)) reject(job.signal!.reason);
        };
        job.signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      if (job.shedBeyond !== undefined && mine.size > job.shedBeyond) this.#shedOldest(mine);
      this.#pump();
    });
  }

  /**
   * Loads `model` in every worker and runs it once, through the same queue as parts: a warm-up
   * only takes a free worker, and with `serving` set at most workers-1 warm up at once, so a
   * hot swap under load always leaves a worker for parts. Repeats until every thread has it.
   */
  async warmUp(model: ModelRef, options: { serving?: boolean } = {}): Promise<WarmupReport> {
    this.#requirePiscina();
    const results = await this.#onEveryThread(model, 'warmup', options.serving ?? false);
    const failed = results.find((r): r is Extract<WorkerResult, { ok: false }> => !r.ok);
    if (failed) {
      const code = failed.error.code.startsWith('LS_ERR_') ? (failed.error.code as 'LS_ERR_MODEL_LOAD') : 'LS_ERR_MODEL_LOAD';
      throw new LinesightError(code, failed.error.message);
    }
    const all = results as Array<Extract<WorkerResult, { ok: true }>>;
    this.#options.log.debug({ model: model.key, threads: all.length }, 'model warmed up');
    return {
      provider: all[0]!.provider,
      loadMs: Math.max(...all.map((r) => r.timings.loadMs)),
      inferenceMs: Math.max(...all.map((r) => r.timings.inferenceMs)),
      scores: all[0]!.scores,
    };
  }

  /**
   * Runs a control task until every thread has answered it (piscina picks the thread, so it may
   * take rounds), stopping at the first failure. While serving, at most workers-1 run at once.
   */
  async #onEveryThread(model: ModelRef, control: 'warmup' | 'unload', serving: boolean): Promise<WorkerResult[]> {
    const workers = this.#options.workers;
    const lanes = serving && workers > 1 ? workers - 1 : workers;
    const answered = new Map<number, WorkerResult>();
    for (let round = 0; answered.size < workers && round < workers * 4; round++) {
      const results = await Promise.all(
        Array.from({ length: Math.min(lanes, workers - answered.size) }, () =>
          this.infer({ station: `(${control})`, model, control, deadline: this.#options.clock.now() + 3_600_000 }),
        ),
      );
      const failed = results.find((r) => !r.ok);
      if (failed) return [failed];
      for (const r of results) answered.set(r.threadId, r);
    }
    return [...answered.values()];
  }

  #requirePiscina(): Piscina {
    if (!this.#piscina || this.#closing) throw new LinesightError('LS_ERR_POOL_CLOSED');
    return this.#piscina;
  }

  #dequeue(entry: EdfEntry<Pending>): boolean {
    if (!this.#queue.remove(entry)) return false;
    this.#queuedByStation.get(entry.value.job.station)?.delete(entry);
    const { job, onAbort } = entry.value;
    if (onAbort) job.signal?.removeEventListener('abort', onAbort);
    return true;
  }

  #shedOldest(mine: Set<EdfEntry<Pending>>): void {
    let oldest: EdfEntry<Pending> | undefined;
    for (const e of mine) if (!oldest || e.order < oldest.order) oldest = e;
    if (oldest && this.#dequeue(oldest)) {
      this.#counts.shed++;
      oldest.value.reject(new LinesightError('LS_ERR_SHED', `station ${oldest.value.job.station} has more than ${oldest.value.job.shedBeyond} frames waiting`));
    }
  }

  #pump(): void {
    const piscina = this.#piscina;
    if (!piscina) return;
    while (this.#running < this.#options.workers) {
      const entry = this.#queue.peek();
      if (!entry) break;
      this.#dequeue(entry);
      const p = entry.value;
      const now = this.#options.clock.now();
      // Started now, would it finish in time? If not, answer now and keep the worker for a part that can.
      if (now + this.#serviceMs > p.job.deadline) {
        this.#counts.expired++;
        p.reject(new LinesightError('LS_ERR_DEADLINE_EXPIRED', `${(now - p.enqueuedAt).toFixed(1)} ms queued, ~${this.#serviceMs.toFixed(1)} ms to run, deadline in ${(p.job.deadline - now).toFixed(1)} ms`));
        continue;
      }
      this.#running++;
      let run: Promise<WorkerResult>;
      if (p.job.control === 'unload') {
        run = piscina.run({ kind: 'unload', key: p.job.model.key } satisfies WorkerTask);
      } else if (p.job.control === 'warmup' || !p.job.image) {
        run = piscina.run({ kind: 'warmup', model: p.job.model } satisfies WorkerTask);
      } else {
        const image = { ...p.job.image, data: ownedBuffer(p.job.image.data) };
        run = piscina.run({ kind: 'infer', model: p.job.model, image } satisfies WorkerTask, { transferList: [image.data.buffer as ArrayBuffer] });
      }
      run.then(
        (result) => {
          this.#counts.completed++;
          // A one-off model load is not service time: it would make later parts look hopeless.
          if (result.ok && !p.job.control) this.#learn(result.timings.preprocessMs + result.timings.inferenceMs);
          this.#settle();
          p.resolve({ ...result, dispatchedAt: now });
        },
        (err: unknown) => {
          // The thread died (or was terminated) mid-task; piscina replaces it.
          this.#counts.crashed++;
          this.#settle();
          p.resolve({
            ok: false,
            error: { code: 'LS_ERR_WORKER_CRASHED', message: (err as Error)?.message ?? String(err) },
            stage: 'inference',
            timings: { startedAt: now, loadMs: 0, preprocessMs: 0, inferenceMs: 0 },
            threadId: -1,
            dispatchedAt: now,
          });
        },
      );
    }
  }

  #learn(ms: number): void {
    // EWMA: quick to follow a slower model after a swap, steady against one slow frame.
    this.#serviceMs = this.#serviceMs === 0 ? ms : this.#serviceMs * 0.9 + ms * 0.1;
  }

  #settle(): void {
    this.#running--;
    this.#pump();
    if (this.#running === 0 && this.#queue.size === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Has every worker drop a model version's session (after it has drained), so memory returns to
   * what one version needs. Like warm-up, it goes through the queue until each thread has done it.
   */
  async unload(model: ModelRef): Promise<void> {
    if (!this.#piscina || this.#closing) return;
    await this.#onEveryThread(model, 'unload', true);
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking work, lets queued and running parts finish for up to `drainMs`, then destroys the threads. */
  async close(drainMs = 5000): Promise<void> {
    if (!this.#piscina || this.#closing) return;
    this.#closing = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, drainMs)))]);
    } finally {
      clearTimeout(timer);
      for (const entry of [...this.#queue.entries()]) {
        if (this.#dequeue(entry)) entry.value.reject(new LinesightError('LS_ERR_POOL_CLOSED'));
      }
      await this.#piscina.destroy();
      this.#piscina = undefined;
    }
  }
}
