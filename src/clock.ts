// Time is injected so that deadlines and summaries are testable without sleeping.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds; comparable across worker threads (CLOCK_MONOTONIC via hrtime). */
  now(): number;
  /** Wall clock, epoch milliseconds, for timestamps people read. */
  wallNow(): number;
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const systemClock: Clock = {
  now: monotonicMs,
  wallNow: () => Date.now(),
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(t) };
  },
};

/** Wall-clock epoch ms corresponding to a monotonic timestamp from `clock`. */
export function toWall(clock: Clock, monoMs: number): number {
  return clock.wallNow() - (clock.now() - monoMs);
}

/**
 * Resolves when `work` settles or after `ms`, whichever is first; `true` if the work finished.
 * For bounded waits (drains, first connections) that go on either way.
 */
export async function waitAtMost(work: Promise<unknown>, ms: number, clock: Clock = systemClock): Promise<boolean> {
  let timer: TimerHandle | undefined;
  try {
    return await Promise.race([work.then(() => true, () => true), new Promise<boolean>((r) => (timer = clock.setTimer(ms, () => r(false))))]);
  } finally {
    timer?.cancel();
  }
}
