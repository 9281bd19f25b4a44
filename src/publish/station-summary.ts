// A station's summary over one window: counts by verdict, yield, latency percentiles, budget
// misses and the model versions that inspected. Per-verdict work is a few increments into state
// of fixed size (a log-scale latency histogram, reused across windows), so a busy station costs
// the same memory as an idle one, whatever the window length.
import type { Verdict, VerdictKind } from '../verdict.js';
import { CLOUD_PAYLOAD_VERSION, ms2, summaryId, type CloudSummaryPayload } from './cloud-messages.js';

/**
 * Latencies in buckets 1 % wide on a log scale from 0.01 ms to 10 minutes (1,800 counters):
 * a percentile is within 0.5 % of the exact one (the bucket's geometric middle, clamped to the
 * smallest and largest value seen).
 */
const MIN_MS = 0.01;
const RATIO = 1.01;
const BUCKETS = Math.ceil(Math.log(600_000 / MIN_MS) / Math.log(RATIO)) + 1;

export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  readonly #logRatio = Math.log(RATIO);
  #n = 0;
  #min = Infinity;
  #max = -Infinity;

  get count(): number {
    return this.#n;
  }

  add(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const v = Math.max(0, ms);
    const i = v <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(v / MIN_MS) / this.#logRatio));
    this.#counts[i]!++;
    this.#n++;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /** Nearest-rank percentile (the console summary's definition); NaN when empty. */
  percentile(p: number): number {
    if (this.#n === 0) return NaN;
    const rank = Math.min(this.#n, Math.max(1, Math.ceil((p / 100) * this.#n)));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const mid = i === 0 ? MIN_MS : MIN_MS * RATIO ** (i - 0.5);
        return Math.min(this.#max, Math.max(this.#min, mid));
      }
    }
    return this.#max;
  }

  get max(): number {
    return this.#n ? this.#max : NaN;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#n = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
  }
}

/** Distinct model versions tracked per window; a swap storm beyond this is counted under `other`. */
export const MAX_MODELS_PER_WINDOW = 8;

/** End of the window that holds `wallMs`: windows are aligned to multiples of the interval since the epoch. */
export function windowEnd(wallMs: number, intervalMs: number): number {
  return (Math.floor(wallMs / intervalMs) + 1) * intervalMs;
}

export class StationSummary {
  readonly line: string;
  readonly station: string;
  readonly #latency = new LatencyHistogram();
  readonly #counts: Record<VerdictKind, number> = { pass: 0, fail: 0, uncertain: 0, timeout: 0, error: 0 };
  readonly #models = new Map<string, number>();
  #otherModels = 0;
  #budgetMisses = 0;
  #start: number;

  constructor(line: string, station: string, windowStartWallMs: number) {
    this.line = line;
    this.station = station;
    this.#start = windowStartWallMs;
  }

  get windowStart(): number {
    return this.#start;
  }

  get parts(): number {
    return this.#latency.count;
  }

  add(v: Verdict): void {
    this.#counts[v.verdict]++;
    this.#latency.add(v.timings.totalMs);
    if (!v.deadlineMet) this.#budgetMisses++;
    if (v.model) {
      const ref = `${v.model.name}@${v.model.version}`;
      const n = this.#models.get(ref);
      if (n !== undefined) this.#models.set(ref, n + 1);
      else if (this.#models.size < MAX_MODELS_PER_WINDOW) this.#models.set(ref, 1);
      else this.#otherModels++;
    }
  }

  /** The payload for the window [start, endWallMs), then a fresh window starting at endWallMs. */
  close(endWallMs: number): CloudSummaryPayload {
    const parts = this.#latency.count;
    const c = this.#counts;
    const pct = (p: number) => ms2(this.#latency.percentile(p));
    const payload: CloudSummaryPayload = {
      v: CLOUD_PAYLOAD_VERSION,
      kind: 'summary',
      id: summaryId(this.line, this.station, this.#start),
      line: this.line,
      station: this.station,
      window: { start: new Date(this.#start).toISOString(), end: new Date(Math.max(endWallMs, this.#start)).toISOString() },
      parts,
      counts: { ...c },
      yield: parts ? Math.round((c.pass / parts) * 1e4) / 1e4 : null,
      latencyMs: parts ? { p50: pct(50), p95: pct(95), p99: pct(99), max: ms2(this.#latency.max) } : null,
      budgetMisses: this.#budgetMisses,
      models: [...this.#models].map(([model, n]) => ({ model, parts: n })).concat(this.#otherModels ? [{ model: 'other', parts: this.#otherModels }] : []),
    };
    this.#reset(Math.max(endWallMs, this.#start));
    return payload;
  }

  #reset(startWallMs: number): void {
    this.#start = startWallMs;
    this.#latency.reset();
    for (const k of Object.keys(this.#counts) as VerdictKind[]) this.#counts[k] = 0;
    this.#models.clear();
    this.#otherModels = 0;
    this.#budgetMisses = 0;
  }
}
