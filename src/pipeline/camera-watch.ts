// Cameras change state while running (a stream stalls, a device fails, a replay ends), not only
// when a station starts. This watch reads each camera's state once a second and says so on the
// event bus (`camera-state`), for the cloud and anyone else listening. `connecting` is neither up
// nor down (the reconnect may succeed), so it is not reported.
import type { Clock, TimerHandle } from '../clock.js';
import type { EventBus } from '../events.js';
import type { SourceHealth } from '../capture/source.js';

export interface WatchedCamera {
  id: string;
  source(): SourceHealth;
}

export class CameraWatch {
  readonly #cameras: readonly WatchedCamera[];
  readonly #bus: EventBus;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #last = new Map<string, boolean>();
  #timer: TimerHandle | undefined;

  constructor(options: { cameras: readonly WatchedCamera[]; bus: EventBus; clock: Clock; intervalMs?: number }) {
    this.#cameras = options.cameras;
    this.#bus = options.bus;
    this.#clock = options.clock;
    this.#intervalMs = options.intervalMs ?? 1000;
  }

  start(): void {
    // What the stations said at start is the baseline; only changes after it are news.
    for (const c of this.#cameras) {
      const up = isUp(c.source());
      if (up !== undefined) this.#last.set(c.id, up);
    }
    this.#schedule();
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** One look at every camera (the timer calls this; tests may too). */
  check(): void {
    for (const c of this.#cameras) {
      const h = c.source();
      const up = isUp(h);
      if (up === undefined || this.#last.get(c.id) === up) continue;
      this.#last.set(c.id, up);
      const detail = up ? `camera ${h.state} again` : `camera ${h.state}${h.lastError ? `: ${h.lastError}` : ''}`;
      this.#bus.emit('camera-state', { camera: c.id, running: up, detail });
    }
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimer(this.#intervalMs, () => {
      this.check();
      this.#schedule();
    });
  }
}

function isUp(h: SourceHealth): boolean | undefined {
  if (h.state === 'streaming') return true;
  if (h.state === 'stalled' || h.state === 'failed' || h.state === 'ended') return false;
  return undefined;
}
