// The last few frames of a camera, so a trigger that arrives just after its frame (photo-eye
// wiring and network latency) can still use it, within the station's tolerance.
import type { Frame } from './frame.js';

export class FrameRing {
  readonly #frames: Frame[] = [];
  readonly #capacity: number;
  #evicted = 0;

  constructor(capacity = 8) {
    this.#capacity = capacity;
  }

  push(frame: Frame): void {
    this.#frames.push(frame);
    if (this.#frames.length > this.#capacity) {
      this.#frames.shift();
      this.#evicted++;
    }
  }

  get size(): number {
    return this.#frames.length;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Frames pushed out by newer ones (the normal case: most frames are never asked for). */
  get evicted(): number {
    return this.#evicted;
  }

  /** The newest frame captured in [at - toleranceMs, at], if any. */
  nearestBefore(at: number, toleranceMs: number): Frame | undefined {
    for (let i = this.#frames.length - 1; i >= 0; i--) {
      const f = this.#frames[i]!;
      if (f.capturedAt <= at) return f.capturedAt >= at - toleranceMs ? f : undefined;
    }
    return undefined;
  }
}
