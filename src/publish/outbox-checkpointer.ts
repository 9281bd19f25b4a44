// Runs the outbox's WAL checkpoints in a worker thread (outbox-checkpoint-worker.ts): in the main
// thread a checkpoint stalls the event loop for two fsyncs every few hundred messages.
import { Worker } from 'node:worker_threads';

export class OutboxCheckpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  #checkpoints = 0;

  constructor(path: string, options: { intervalMs?: number; onError?: (message: string) => void } = {}) {
    this.#worker = new Worker(new URL('./outbox-checkpoint-worker.js', import.meta.url), { workerData: { path, intervalMs: options.intervalMs ?? 1000 } });
    this.#worker.on('message', (m: { error?: string; checkpointed?: number }) => {
      if (m.error) options.onError?.(m.error);
      if (m.checkpointed) this.#checkpoints++;
    });
    this.#worker.on('error', (err) => options.onError?.(err.message));
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    // Never holds the process open by itself.
    this.#worker.unref();
  }

  /** Checkpoints that moved pages into the database file. */
  get checkpoints(): number {
    return this.#checkpoints;
  }

  /** Checkpoints now (tests; before a planned shutdown). */
  checkpoint(): void {
    this.#worker.postMessage('checkpoint');
  }

  /** Closes the worker's connection first, so that the main connection's close is the last one (it removes the WAL). */
  async close(): Promise<void> {
    this.#worker.postMessage('stop');
    await this.#exited;
  }
}
