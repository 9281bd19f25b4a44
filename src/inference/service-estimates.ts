// How long a part will take on a worker, learned per model version and frame size, for
// admission: a part is refused before it runs only when a fresh estimate says it cannot
// finish by its deadline.
//
// Why per model version *and* frame size: one estimate for everything (what this replaced)
// locked in. A burst of 12 MP frames pushed it past the budget, every later part was refused
// before it ran, so no part ever finished to bring it back down. Here a small frame has its own
// estimate, every finished run counts (late ones too), an estimate that has not been fed for
// `staleMs` is re-probed by letting one part through, and an unknown key always runs.

export interface EstimateOptions {
  /** An estimate older than this is not trusted to refuse: one part is let through to re-measure it. */
  staleMs: number;
  /** Weight of a new measurement in the moving average while the estimate is fresh. */
  alpha: number;
}

export const defaultEstimateOptions: EstimateOptions = { staleMs: 1000, alpha: 0.2 };

interface Estimate {
  ms: number;
  updatedAt: number;
  samples: number;
  probing: boolean;
}

export type Admission = { admit: true; probe: boolean; estimateMs: number | null } | { admit: false; estimateMs: number };

/**
 * The estimate key of a part: model build plus the frame's size class (powers of two of its
 * encoded bytes or raw pixels), so decode and resize cost, which grows with the frame, is
 * learned per size.
 */
export function estimateKey(modelKey: string, image: { kind: 'encoded' | 'raw'; data: { byteLength: number } } | undefined): string {
  if (!image) return `${modelKey}|control`;
  const size = Math.max(1, image.data.byteLength);
  return `${modelKey}|${image.kind}${Math.round(Math.log2(size))}`;
}

export class ServiceEstimates {
  readonly #o: EstimateOptions;
  readonly #byKey = new Map<string, Estimate>();

  constructor(options: Partial<EstimateOptions> = {}) {
    this.#o = { ...defaultEstimateOptions, ...options };
  }

  /**
   * Whether a part with `remainingMs` left is hopeless already, without claiming the probe: used
   * when the part is queued; the decision that counts is admit() when a worker is free.
   */
  peek(key: string, now: number, remainingMs: number): { admit: boolean; estimateMs: number | null } {
    const e = this.#byKey.get(key);
    if (!e || e.ms <= remainingMs) return { admit: true, estimateMs: e?.ms ?? null };
    const probeDue = !e.probing && now - e.updatedAt >= this.#o.staleMs && remainingMs > 0;
    return { admit: probeDue, estimateMs: e.ms };
  }

  /** Whether a part with `remainingMs` to its deadline should start now. */
  admit(key: string, now: number, remainingMs: number): Admission {
    const e = this.#byKey.get(key);
    if (!e) return { admit: true, probe: false, estimateMs: null };
    if (e.ms <= remainingMs) return { admit: true, probe: false, estimateMs: e.ms };
    if (!e.probing && now - e.updatedAt >= this.#o.staleMs && remainingMs > 0) {
      e.probing = true;
      return { admit: true, probe: true, estimateMs: e.ms };
    }
    return { admit: false, estimateMs: e.ms };
  }

  /** A run finished (in time or not) after `ms` on a worker. */
  record(key: string, ms: number, now: number): void {
    const e = this.#byKey.get(key);
    if (!e) {
      this.#byKey.set(key, { ms, updatedAt: now, samples: 1, probing: false });
      return;
    }
    // A stale estimate says little about now (the load, the frames, the model changed): the new
    // measurement replaces it rather than being averaged in.
    const stale = now - e.updatedAt >= this.#o.staleMs;
    e.ms = stale ? ms : e.ms * (1 - this.#o.alpha) + ms * this.#o.alpha;
    e.updatedAt = now;
    e.samples++;
    e.probing = false;
  }

  /** A probe that never produced a measurement (crashed, cancelled) frees the key for the next one. */
  release(key: string): void {
    const e = this.#byKey.get(key);
    if (e) e.probing = false;
  }

  /** Drops every estimate of a model build (it was unloaded). */
  forget(modelKey: string): void {
    for (const k of this.#byKey.keys()) if (k.startsWith(`${modelKey}|`)) this.#byKey.delete(k);
  }

  /** Current estimates, for metrics: model key, size class, ms. */
  snapshot(): Array<{ model: string; size: string; ms: number; samples: number }> {
    return [...this.#byKey].map(([k, e]) => {
      const i = k.lastIndexOf('|');
      return { model: k.slice(0, i), size: k.slice(i + 1), ms: e.ms, samples: e.samples };
    });
  }
}
