// Work that may run only on spare capacity (shadow trials): a small FIFO beside the parts'
// queues. Nothing in it is owed an answer by a deadline, so it is the first thing given up:
// when full the oldest entry goes, an entry past its expiry goes, and when a part has to wait
// for a thread the whole queue goes (the line is busy; the trial can sample other parts).
export type SpareDropReason = 'load' | 'stale' | 'full' | 'closed';

export interface SpareEntry<T> {
  value: T;
  /** Monotonic ms after which the entry is not worth running. */
  expiresAt: number;
}

export class SpareQueue<T> {
  readonly #capacity: number;
  #items: Array<SpareEntry<T>> = [];
  readonly dropped: Record<SpareDropReason, number> = { load: 0, stale: 0, full: 0, closed: 0 };

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.#items.length;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Adds an entry; returns the entries it pushed out (oldest first). */
  push(entry: SpareEntry<T>): Array<SpareEntry<T>> {
    this.#items.push(entry);
    const out = this.#items.length > this.#capacity ? this.#items.splice(0, this.#items.length - this.#capacity) : [];
    this.dropped.full += out.length;
    return out;
  }

  /** The oldest entry still worth running; expired ones met on the way are returned in `stale`. */
  take(now: number, stale: Array<SpareEntry<T>>): SpareEntry<T> | undefined {
    for (;;) {
      const e = this.#items.shift();
      if (!e) return undefined;
      if (e.expiresAt > now) return e;
      this.dropped.stale++;
      stale.push(e);
    }
  }

  /** Removes everything (`reason` is counted). */
  clear(reason: SpareDropReason): Array<SpareEntry<T>> {
    const out = this.#items;
    this.#items = [];
    this.dropped[reason] += out.length;
    return out;
  }

  remove(entry: SpareEntry<T>): boolean {
    const i = this.#items.indexOf(entry);
    if (i < 0) return false;
    this.#items.splice(i, 1);
    return true;
  }
}
