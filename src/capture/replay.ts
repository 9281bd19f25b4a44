// Replays image files from a directory as a camera at a fixed rate: the embedded demo, and
// how engineers re-run recorded parts through a new model or threshold.
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Clock, TimerHandle } from '../clock.js';
import type { ReplaySourceConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import type { Frame } from './frame.js';
import type { FrameSource, SourceHealth, SourceState } from './source.js';

const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff']);

export class ReplaySource implements FrameSource {
  readonly kind = 'replay';
  readonly #camera: string;
  readonly #config: ReplaySourceConfig;
  readonly #clock: Clock;
  #files: Array<{ name: string; bytes: Buffer }> = [];
  #state: SourceState = 'idle';
  #seq = 0;
  #lastFrameWall: number | null = null;
  #lastError: string | null = null;
  #stopped = false;
  #wake: (() => void) | undefined;
  #timer: TimerHandle | undefined;
  readonly #recent: number[] = [];

  constructor(camera: string, config: ReplaySourceConfig, clock: Clock) {
    this.#camera = camera;
    this.#config = config;
    this.#clock = clock;
  }

  async start(): Promise<void> {
    this.#state = 'connecting';
    const path = this.#config.path;
    let names: string[];
    try {
      const s = await stat(path);
      names = s.isDirectory() ? (await readdir(path)).sort().map((n) => join(path, n)) : [path];
    } catch (err) {
      this.#fail(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      throw new LinesightError('LS_ERR_SOURCE_CONFIG', this.#lastError!, { args: [`replay:${path}`] });
    }
    const images = names.filter((n) => imageExtensions.has(extname(n).toLowerCase()));
    if (!images.length) {
      this.#fail(`no image files (${[...imageExtensions].join(' ')}) in ${path}`);
      throw new LinesightError('LS_ERR_SOURCE_EMPTY', this.#lastError!, { args: [path] });
    }
    // Files are read once: replay measures inspection, not the disk.
    this.#files = await Promise.all(images.map(async (n) => ({ name: basename(n), bytes: await readFile(n) })));
    this.#state = 'streaming';
  }

  #fail(reason: string): void {
    this.#state = 'failed';
    this.#lastError = reason;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#wake?.();
    if (this.#state !== 'failed' && this.#state !== 'ended') this.#state = 'stopped';
  }

  #sleepUntil(t: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = this.#clock.setTimer(t - this.#clock.now(), resolve);
    });
  }

  async *frames(): AsyncGenerator<Frame> {
    const period = 1000 / this.#config.ratePerSec;
    let next = this.#clock.now();
    let i = 0;
    while (!this.#stopped && this.#files.length) {
      if (i === this.#files.length) {
        if (!this.#config.loop) break;
        i = 0;
      }
      await this.#sleepUntil(next);
      if (this.#stopped) break;
      const now = this.#clock.now();
      // Behind schedule (a blocked loop, a slow disk): skip ahead rather than burst.
      next = now - next > period ? now + period : next + period;
      const file = this.#files[i++]!;
      const wall = this.#clock.wallNow();
      this.#note(now, wall);
      // A fresh copy per frame: the buffer is transferred to a worker and detached here.
      yield {
        camera: this.#camera,
        seq: ++this.#seq,
        capturedAt: now,
        capturedWall: wall,
        timeSource: 'arrival',
        image: { kind: 'encoded', data: new Uint8Array(file.bytes) },
        origin: file.name,
      };
    }
    if (!this.#stopped) this.#state = 'ended';
  }

  #note(now: number, wall: number): void {
    this.#lastFrameWall = wall;
    this.#recent.push(now);
    while (this.#recent.length && this.#recent[0]! < now - 5000) this.#recent.shift();
  }

  health(): SourceHealth {
    const r = this.#recent;
    const span = r.length > 1 ? (r[r.length - 1]! - r[0]!) / 1000 : 0;
    return {
      state: this.#state,
      framesEmitted: this.#seq,
      fps: span > 0 ? Math.round(((r.length - 1) / span) * 10) / 10 : 0,
      lastFrameAt: this.#lastFrameWall === null ? null : new Date(this.#lastFrameWall).toISOString(),
      lastError: this.#lastError,
      reconnects: 0,
      timeSource: this.#seq ? 'arrival' : null,
      captureTimesRejected: 0,
    };
  }
}
