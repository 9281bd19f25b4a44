// Young-generation collections paced by the memory a thread allocates outside V8's heap.
//
// Why: frames, decoded pixels and tensors are ArrayBuffers whose bytes live outside V8's heap,
// behind small JS objects. V8 frees those bytes only when a collection finds the object dead,
// and a thread that allocates few JS objects (an inference thread; the main thread between
// verdicts) rarely needs a young-generation collection of its own. The dead buffers then pile up
// until V8's external-memory limit (64 MiB over the last full collection) starts a full
// mark-compact of the whole heap: tens of MiB more RSS per thread, and on the main thread a
// 5-10 ms pause every second or two, which a part waiting for its capture or its verdict feels.
// A young-generation collection (about half a millisecond with the 2 MB young generation the
// launchers set) frees the same buffers while they are still young. So each thread asks for one
// once every few megabytes of new outside-heap memory, at a moment it chose (after a reply,
// after a result). It saves memory, not time: a forced collection also promotes what is in flight
// then, and at high rates it costs CPU, so it is an option (inference.freeBuffersEarly), off by
// default. Measured in README "Memory" (linesight bench memory --free-buffers-early).
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export type GcFunction = (options: { type: 'minor' | 'major' }) => void;

let exposed: GcFunction | null | undefined;

/**
 * V8's gc(), whether or not Node started with --expose-gc: the flag can be set at run time, and
 * a new context then has the function (so do worker threads started after). Null where V8 refuses.
 */
export function exposedGc(): GcFunction | null {
  if (exposed === undefined) {
    try {
      const global = (globalThis as { gc?: GcFunction }).gc;
      if (typeof global === 'function') exposed = global;
      else {
        setFlagsFromString('--expose-gc');
        const fn: unknown = runInNewContext('gc');
        exposed = typeof fn === 'function' ? (fn as GcFunction) : null;
      }
    } catch {
      exposed = null;
    }
  }
  return exposed;
}

export interface YoungGcOptions {
  /** Outside-heap bytes allocated since the last collection asked for that start the next (default 8 MiB). */
  everyBytes?: number;
  gc?: GcFunction | null;
  /** V8's count of outside-heap bytes: it rises at each allocation and falls only at a collection's sweep. */
  externalBytes?: () => number;
}

export class YoungGcPacer {
  readonly #every: number;
  readonly #gc: GcFunction | null;
  readonly #external: () => number;
  #since: number;
  collections = 0;

  constructor(o: YoungGcOptions = {}) {
    this.#every = o.everyBytes ?? 8 * 1024 * 1024;
    this.#gc = o.gc === undefined ? exposedGc() : o.gc;
    this.#external = o.externalBytes ?? (() => getHeapStatistics().external_memory);
    this.#since = this.#external();
  }

  /**
   * Call where the thread can spare half a millisecond: collects the young generation when
   * `everyBytes` of outside-heap memory were allocated since the last time. True when it did.
   */
  tick(): boolean {
    if (!this.#gc) return false;
    const now = this.#external();
    // The count falls only when a later collection's sweep has run: a fall lowers the mark, so
    // the next collection still comes after everyBytes of new allocations, not sooner.
    if (now < this.#since) this.#since = now;
    if (now - this.#since < this.#every) return false;
    this.#gc({ type: 'minor' });
    this.#since = this.#external();
    this.collections++;
    return true;
  }
}
