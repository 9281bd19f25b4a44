// Latency percentiles for the bench: nearest-rank, as the console summary computes them, so the
// bench and the running service report the same p99 for the same parts.
import { percentile } from '../publish/console-summary.js';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  /** With fewer than 1000 parts this is the maximum: the bench says how many parts it saw. */
  p999: number;
  max: number;
}

const round = (x: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export function summarize(values: readonly number[]): LatencySummary {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return { count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: s.length,
    p50: round(percentile(s, 50)),
    p95: round(percentile(s, 95)),
    p99: round(percentile(s, 99)),
    p999: round(percentile(s, 99.9)),
    max: round(s.at(-1)!),
  };
}

export function median(values: readonly number[]): number {
  return values.length ? percentile([...values].sort((a, b) => a - b), 50) : 0;
}

export { round };
