// Verdicts waiting for the local broker, per camera, with a bound on count and bytes. mqtt.js
// would keep every QoS 1 publish made while disconnected in its in-memory store, without limit
// (about 65 MB per camera per hour at 10 parts/s), so the publisher hands it only a few at a time
// and the rest wait here. When full, a pass goes first: a PLC acting on a late verdict cares
// most about the rejects, and a missing pass is the cheapest loss (the part already moved on).
// Only when no pass is left does the oldest other verdict go. Every drop is counted by reason.

export interface QueuedMessage {
  payload: string;
  bytes: number;
  /** Dropped first when the queue is full. */
  expendable: boolean;
}

export type DropReason = 'full-pass' | 'full-oldest';

export class OfflineQueue {
  readonly maxMessages: number;
  readonly maxBytes: number;
  // Insertion-ordered; seq keys make removal from the middle (a dropped pass) O(1).
  readonly #items = new Map<number, QueuedMessage>();
  /** Seqs of expendable items, oldest first; may hold seqs already taken (skipped lazily). */
  #expendable: number[] = [];
  #expendableHead = 0;
  #nextSeq = 0;
  #bytes = 0;
  readonly dropped: Record<DropReason, number> = { 'full-pass': 0, 'full-oldest': 0 };

  constructor(options: { maxMessages: number; maxBytes: number }) {
    this.maxMessages = options.maxMessages;
    this.maxBytes = options.maxBytes;
  }

  get depth(): number {
    return this.#items.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Adds a message; returns what had to be dropped to make room (oldest first). */
  push(message: QueuedMessage): Array<{ message: QueuedMessage; reason: DropReason }> {
    const seq = this.#nextSeq++;
    this.#items.set(seq, message);
    this.#bytes += message.bytes;
    if (message.expendable) this.#expendable.push(seq);
    const drops: Array<{ message: QueuedMessage; reason: DropReason }> = [];
    while (this.#items.size > this.maxMessages || (this.#bytes > this.maxBytes && this.#items.size > 1)) {
      const pass = this.#oldestExpendable();
      const seqToDrop = pass ?? this.#items.keys().next().value!;
      const reason: DropReason = pass !== undefined ? 'full-pass' : 'full-oldest';
      drops.push({ message: this.#remove(seqToDrop), reason });
      this.dropped[reason]++;
    }
    return drops;
  }

  /** The oldest message, removed. */
  shift(): QueuedMessage | undefined {
    const first = this.#items.keys().next();
    return first.done ? undefined : this.#remove(first.value);
  }

  #oldestExpendable(): number | undefined {
    while (this.#expendableHead < this.#expendable.length) {
      const seq = this.#expendable[this.#expendableHead]!;
      if (this.#items.has(seq)) return seq;
      this.#expendableHead++;
    }
    return undefined;
  }

  #remove(seq: number): QueuedMessage {
    const m = this.#items.get(seq)!;
    this.#items.delete(seq);
    this.#bytes -= m.bytes;
    // Keep the index of expendable seqs from growing with messages already gone.
    while (this.#expendableHead < this.#expendable.length && !this.#items.has(this.#expendable[this.#expendableHead]!)) this.#expendableHead++;
    if (this.#expendableHead > 1024 && this.#expendableHead * 2 > this.#expendable.length) {
      this.#expendable = this.#expendable.slice(this.#expendableHead);
      this.#expendableHead = 0;
    }
    return m;
  }
}
