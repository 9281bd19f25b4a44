// Earliest-deadline-first queue: a binary min-heap on deadline with O(log n) removal of any
// entry, so expired or shed parts leave the queue without a scan.

export interface EdfEntry<T> {
  readonly deadline: number;
  readonly value: T;
  /** Insertion order breaks deadline ties (FIFO among equals). */
  readonly order: number;
  index: number;
}

export class EdfQueue<T> {
  readonly #heap: EdfEntry<T>[] = [];
  #order = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(deadline: number, value: T): EdfEntry<T> {
    const entry: EdfEntry<T> = { deadline, value, order: this.#order++, index: this.#heap.length };
    this.#heap.push(entry);
    this.#up(entry.index);
    return entry;
  }

  peek(): EdfEntry<T> | undefined {
    return this.#heap[0];
  }

  pop(): EdfEntry<T> | undefined {
    const top = this.#heap[0];
    if (top) this.remove(top);
    return top;
  }

  /** Removes `entry` if still queued; returns whether it was. */
  remove(entry: EdfEntry<T>): boolean {
    const i = entry.index;
    if (i < 0 || this.#heap[i] !== entry) return false;
    const last = this.#heap.pop()!;
    entry.index = -1;
    if (last !== entry) {
      this.#heap[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    return true;
  }

  /** Queued entries in no particular order. */
  entries(): readonly EdfEntry<T>[] {
    return this.#heap;
  }

  #less(a: EdfEntry<T>, b: EdfEntry<T>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  #swap(i: number, j: number): void {
    const h = this.#heap;
    const a = h[i]!;
    const b = h[j]!;
    h[i] = b;
    h[j] = a;
    a.index = j;
    b.index = i;
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(this.#heap[i]!, this.#heap[parent]!)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.#less(this.#heap[l]!, this.#heap[m]!)) m = l;
      if (r < n && this.#less(this.#heap[r]!, this.#heap[m]!)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}
