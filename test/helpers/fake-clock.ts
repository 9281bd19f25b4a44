// A clock tests move by hand: timers fire in order on advance(), never on their own.
import type { Clock, TimerHandle } from '../../src/clock.js';

export class FakeClock implements Clock {
  #now: number;
  #wallOffset: number;
  #timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #id = 0;

  constructor(start = 1_000, wallStart = Date.UTC(2026, 0, 1)) {
    this.#now = start;
    this.#wallOffset = wallStart - start;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#now + this.#wallOffset;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = { at: this.#now + Math.max(0, delayMs), fn, id: this.#id++ };
    this.#timers.push(t);
    return { cancel: () => (this.#timers = this.#timers.filter((x) => x !== t)) };
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.fn();
    }
    this.#now = target;
  }
}
