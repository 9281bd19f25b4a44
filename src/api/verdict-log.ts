// The recent verdicts the dashboard's feed filters (station, verdict, time): a bounded ring of
// compact records, fed from the bus. Passes are the bulk of a line's parts and the least asked
// for, so they get a smaller ring than the rest: the fails of the last hour stay findable at
// 10 parts/s while memory stays bounded (about 200 bytes a record).
import type { EventBus } from '../events.js';
import type { Verdict, VerdictKind } from '../verdict.js';

export interface VerdictRecord {
  id: string;
  camera: string;
  partId: string;
  seq: number;
  verdict: VerdictKind;
  action: Verdict['action'];
  label: string | null;
  score: number | null;
  /** For timeout and error: the error code. */
  errorCode: string | null;
  totalMs: number;
  model: string | null;
  decidedAt: string;
  /** Wall ms of decidedAt, for time filters. */
  at: number;
}

export interface VerdictQuery {
  station?: string | undefined;
  verdict?: VerdictKind | undefined;
  /** Wall ms: only verdicts decided at or after. */
  since?: number | undefined;
  limit: number;
}

class Ring<T> {
  readonly #items: Array<T | undefined>;
  #next = 0;
  #size = 0;
  constructor(readonly capacity: number) {
    this.#items = new Array<T | undefined>(capacity);
  }
  push(v: T): void {
    this.#items[this.#next] = v;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }
  /** Newest first. */
  *newest(): Generator<T> {
    for (let i = 1; i <= this.#size; i++) yield this.#items[(this.#next - i + this.capacity) % this.capacity]!;
  }
}

export class VerdictLog {
  readonly #passes: Ring<VerdictRecord>;
  readonly #others: Ring<VerdictRecord>;
  #off: (() => void) | undefined;

  constructor(options: { passes: number; others: number }) {
    this.#passes = new Ring(options.passes);
    this.#others = new Ring(options.others);
  }

  start(bus: EventBus): void {
    this.#off ??= bus.on('verdict', (v) => this.add(v));
  }

  stop(): void {
    this.#off?.();
    this.#off = undefined;
  }

  add(v: Verdict): void {
    const r: VerdictRecord = {
      id: v.id,
      camera: v.camera,
      partId: v.partId,
      seq: v.seq,
      verdict: v.verdict,
      action: v.action,
      label: v.label,
      score: v.score,
      errorCode: v.error?.code ?? null,
      totalMs: v.timings.totalMs,
      model: v.model ? `${v.model.name}@${v.model.version}` : null,
      decidedAt: v.decidedAt,
      at: Date.parse(v.decidedAt),
    };
    (v.verdict === 'pass' ? this.#passes : this.#others).push(r);
  }

  /** Newest first, filtered. */
  query(q: VerdictQuery): VerdictRecord[] {
    const out: VerdictRecord[] = [];
    const rings = q.verdict === 'pass' ? [this.#passes] : q.verdict ? [this.#others] : [this.#passes, this.#others];
    for (const ring of rings) {
      for (const r of ring.newest()) {
        if (q.since !== undefined && r.at < q.since) break;
        if (q.station && r.camera !== q.station) continue;
        if (q.verdict && r.verdict !== q.verdict) continue;
        out.push(r);
        if (out.length >= q.limit && rings.length === 1) break;
      }
    }
    out.sort((a, b) => b.at - a.at || b.seq - a.seq);
    return out.slice(0, q.limit);
  }
}
