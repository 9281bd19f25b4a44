// Hostile or broken clients can cause the same problem thousands of times a second; logging each
// would fill the disk and bury everything else. The first occurrence of each kind is logged at
// once, later ones within the interval are counted and summarised in one line when it ends.
import { systemClock, type Clock, type TimerHandle } from './clock.js';

interface Pending {
  count: number;
  last: (suppressed: number) => void;
  timer: TimerHandle | undefined;
  quietUntil: number;
}

export class RateLimitedLog {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #kinds = new Map<string, Pending>();

  constructor(options: { clock?: Clock; intervalMs?: number } = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#intervalMs = options.intervalMs ?? 60_000;
  }

  /**
   * `kind` must come from a small fixed set (a reason, not a client id), so the map stays small.
   * `log` is called with how many occurrences it stands for beyond itself.
   */
  report(kind: string, log: (suppressed: number) => void): void {
    const now = this.#clock.now();
    const p = this.#kinds.get(kind);
    if (!p || now >= p.quietUntil) {
      p?.timer?.cancel();
      log(0);
      this.#kinds.set(kind, { count: 0, last: log, timer: undefined, quietUntil: now + this.#intervalMs });
      return;
    }
    p.count++;
    p.last = log;
    p.timer ??= this.#clock.setTimer(p.quietUntil - now, () => this.#summarise(kind));
  }

  #summarise(kind: string): void {
    const p = this.#kinds.get(kind);
    if (!p) return;
    p.timer = undefined;
    if (p.count === 0) return;
    const n = p.count;
    p.count = 0;
    p.quietUntil = this.#clock.now() + this.#intervalMs;
    p.last(n - 1);
  }

  /** Logs what is still counted and cancels the timers. */
  close(): void {
    for (const kind of [...this.#kinds.keys()]) {
      const p = this.#kinds.get(kind)!;
      p.timer?.cancel();
      this.#summarise(kind);
      p.timer?.cancel();
    }
    this.#kinds.clear();
  }
}
