// Durability without blocking the event loop. With synchronous=FULL, SQLite fsyncs the WAL inside
// every commit, on the thread that commits: 4 to 14 ms of a 100 ms budget per message, on the
// thread that also timestamps triggers and publishes verdicts. Here SQLite commits with
// synchronous=NORMAL (the WAL write reaches the OS: a process kill loses nothing) and this class
// fdatasyncs the WAL file on libuv's thread pool right after, so a power cut can lose only what was
// committed in the last few milliseconds. Commits that arrive while a sync runs share the next one
// (group commit): one sync in flight at most, whatever the message rate.
import { closeSync, fdatasync, openSync } from 'node:fs';

/** fdatasync(fd) with a callback; injected in tests to hold a sync in flight. */
export type SyncFn = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

export interface WalSyncStats {
  /** fdatasync calls completed. */
  syncs: number;
  /** Commits not yet on disk. */
  pending: number;
  failures: number;
  lastError: string | null;
}

export class WalSync {
  readonly #fd: number;
  readonly #sync: SyncFn;
  readonly #onError: (err: Error) => void;
  /** Commits requested so far, and the number of them known to be on disk. */
  #requested = 0;
  #durable = 0;
  #inFlight = false;
  #closed = false;
  #waiters: Array<{ upTo: number; resolve: () => void }> = [];
  #syncs = 0;
  #failures = 0;
  #lastError: string | null = null;

  /** Opens the WAL file for syncing (fsync applies to the file, whichever descriptor asks). */
  constructor(walPath: string, options: { sync?: SyncFn; onError?: (err: Error) => void } = {}) {
    this.#fd = openSync(walPath, 'r');
    this.#sync = options.sync ?? fdatasync;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** After a commit: makes it durable soon, off the event loop. */
  committed(): void {
    if (this.#closed) return;
    this.#requested++;
    this.#start();
  }

  /** Resolves when every commit made so far is on disk (or the syncer closed). */
  durable(): Promise<void> {
    if (this.#durable >= this.#requested || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ upTo: this.#requested, resolve }));
  }

  stats(): WalSyncStats {
    return { syncs: this.#syncs, pending: this.#requested - this.#durable, failures: this.#failures, lastError: this.#lastError };
  }

  #start(): void {
    if (this.#inFlight || this.#closed || this.#durable >= this.#requested) return;
    this.#inFlight = true;
    // Everything committed before the sync starts is covered by it.
    const covers = this.#requested;
    this.#sync(this.#fd, (err) => {
      this.#inFlight = false;
      if (this.#closed) {
        closeSync(this.#fd);
        return;
      }
      if (err) {
        // Left pending: the next commit (or the retry below) syncs again; fsync errors on Linux
        // can mean lost pages, so it is reported, not hidden.
        this.#failures++;
        this.#lastError = err.message;
        this.#onError(err);
        setTimeout(() => this.#start(), 100).unref();
        return;
      }
      this.#syncs++;
      this.#durable = covers;
      const ready = this.#waiters.filter((w) => w.upTo <= covers);
      this.#waiters = this.#waiters.filter((w) => w.upTo > covers);
      for (const w of ready) w.resolve();
      this.#start();
    });
  }

  /** Stops syncing; SQLite's own close checkpoints and syncs what is left. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
    // A sync in flight still holds the descriptor: its callback closes it.
    if (!this.#inFlight) closeSync(this.#fd);
  }
}
