// The parts waiting for a worker, one earliest-deadline-first queue per station, and the choice
// of which station goes next.
//
// Fair share: under overload one station's burst must not starve another. Each station has a
// virtual time that advances by the worker time its parts used; the eligible station with the
// least goes next (start-time fair queuing), and a station coming back from idle starts level
// with the others, so it cannot bank credit. A station may also not take the last free workers
// while other stations were active within `activeWindowMs`: with 2 workers a heavy station runs
// on one, and a light station's part finds the other free instead of waiting behind 80 ms runs.
import { EdfQueue, type EdfEntry } from './edf-queue.js';

interface StationLane<T> {
  queue: EdfQueue<T>;
  running: number;
  virtualMs: number;
  lastActiveAt: number;
}

export interface FairQueueOptions {
  workers: number;
  /** A station that queued a part within this window counts as active for the worker caps. */
  activeWindowMs: number;
}

export class FairQueue<T> {
  readonly #o: FairQueueOptions;
  readonly #lanes = new Map<string, StationLane<T>>();
  #size = 0;

  constructor(options: FairQueueOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#size;
  }

  sizeOf(station: string): number {
    return this.#lanes.get(station)?.queue.size ?? 0;
  }

  push(station: string, deadline: number, value: T, now: number): EdfEntry<T> {
    let lane = this.#lanes.get(station);
    if (!lane) this.#lanes.set(station, (lane = { queue: new EdfQueue<T>(), running: 0, virtualMs: 0, lastActiveAt: -Infinity }));
    if (lane.queue.size === 0 && lane.running === 0) {
      // Back from idle: level with the busiest-served active station, never ahead of its past.
      const others = this.#activeLanes(now).filter((l) => l !== lane);
      if (others.length) lane.virtualMs = Math.max(lane.virtualMs, Math.min(...others.map((l) => l.virtualMs)));
    }
    lane.lastActiveAt = now;
    this.#size++;
    return lane.queue.push(deadline, value);
  }

  remove(station: string, entry: EdfEntry<T>): boolean {
    const lane = this.#lanes.get(station);
    if (!lane?.queue.remove(entry)) return false;
    this.#size--;
    return true;
  }

  /** The oldest waiting entry of a station (for shedding free-run frames). */
  oldest(station: string): EdfEntry<T> | undefined {
    let oldest: EdfEntry<T> | undefined;
    for (const e of this.#lanes.get(station)?.queue.entries() ?? []) if (!oldest || e.order < oldest.order) oldest = e;
    return oldest;
  }

  /** The next part to start, or none when every station with parts is at its worker cap. */
  next(now: number): { station: string; entry: EdfEntry<T> } | undefined {
    const active = this.#activeLanes(now).length;
    const cap = active <= 1 ? this.#o.workers : Math.max(1, this.#o.workers - (active - 1));
    let best: [string, StationLane<T>] | undefined;
    for (const pair of this.#lanes) {
      const lane = pair[1];
      if (lane.queue.size === 0 || lane.running >= cap) continue;
      const b = best?.[1];
      if (!b || lane.virtualMs < b.virtualMs || (lane.virtualMs === b.virtualMs && lane.queue.peek()!.deadline < b.queue.peek()!.deadline)) best = pair;
    }
    if (!best) return undefined;
    return { station: best[0], entry: best[1].queue.peek()! };
  }

  /** A station's part went to a worker. */
  started(station: string): void {
    const lane = this.#lanes.get(station);
    if (lane) lane.running++;
  }

  /** A station's part left its worker after `ms` of worker time. */
  finished(station: string, ms: number, now: number): void {
    const lane = this.#lanes.get(station);
    if (!lane) return;
    lane.running--;
    lane.virtualMs += Math.max(ms, 0.001);
    lane.lastActiveAt = now;
  }

  entries(): Array<{ station: string; entry: EdfEntry<T> }> {
    return [...this.#lanes].flatMap(([station, lane]) => lane.queue.entries().map((entry) => ({ station, entry })));
  }

  #activeLanes(now: number): Array<StationLane<T>> {
    return [...this.#lanes.values()].filter((l) => l.queue.size > 0 || l.running > 0 || now - l.lastActiveAt <= this.#o.activeWindowMs);
  }
}
