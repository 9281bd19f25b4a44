// One short line per station every few seconds on stdout: what an engineer watches while
// commissioning a line. Counts are since start; latency percentiles cover the last interval.
import type { Clock, TimerHandle } from '../clock.js';
import type { EventBus } from '../events.js';
import type { Verdict, VerdictKind } from '../verdict.js';

interface Tally {
  counts: Record<VerdictKind, number>;
  latencies: number[];
  model: string;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  // The epsilon keeps float error from moving the rank up one (0.999 * 2000 is 1998.0000000000002).
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length - 1e-9) - 1));
  return sorted[i]!;
}

export class ConsoleSummary {
  readonly #bus: EventBus;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #write: (line: string) => void;
  readonly #tallies = new Map<string, Tally>();
  #timer: TimerHandle | undefined;
  #off: (() => void) | undefined;

  constructor(options: { bus: EventBus; clock: Clock; intervalMs: number; write?: (line: string) => void }) {
    this.#bus = options.bus;
    this.#clock = options.clock;
    this.#intervalMs = options.intervalMs;
    this.#write = options.write ?? ((l) => process.stdout.write(l + '\n'));
  }

  start(): void {
    if (this.#intervalMs <= 0 || this.#off) return;
    this.#off = this.#bus.on('verdict', (v) => this.#add(v));
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimer(this.#intervalMs, () => {
      this.flush();
      this.#schedule();
    });
  }

  #add(v: Verdict): void {
    let t = this.#tallies.get(v.camera);
    if (!t) {
      t = { counts: { pass: 0, fail: 0, uncertain: 0, timeout: 0, error: 0 }, latencies: [], model: '' };
      this.#tallies.set(v.camera, t);
    }
    t.counts[v.verdict]++;
    t.latencies.push(v.timings.totalMs);
    if (v.model) t.model = `${v.model.name}@${v.model.version}`;
  }

  /** Prints the lines now and starts a new latency window. */
  flush(): void {
    for (const [camera, t] of this.#tallies) {
      const c = t.counts;
      const parts = c.pass + c.fail + c.uncertain + c.timeout + c.error;
      const lat = t.latencies.sort((a, b) => a - b);
      const ms = (v: number) => (Number.isNaN(v) ? '-' : `${v.toFixed(1)}ms`);
      this.#write(
        `[summary] ${camera} parts=${parts} pass=${c.pass} fail=${c.fail} uncertain=${c.uncertain} timeout=${c.timeout} error=${c.error} ` +
          `p50=${ms(percentile(lat, 50))} p99=${ms(percentile(lat, 99))} model=${t.model || '-'}`,
      );
      t.latencies = [];
    }
  }

  stop(): void {
    this.#timer?.cancel();
    this.#off?.();
    this.#off = undefined;
  }
}
