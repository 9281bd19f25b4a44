// Replays image files from a directory as a camera at a fixed rate: the embedded demo, and
// how engineers re-run recorded parts through a new model or threshold.
//
// Only the names are listed at start; each file is read when its turn comes, so a directory
// of ten thousand 12 MP images costs one image of memory, not all of them. A file over the
// size cap, or one that vanished since the listing, is skipped, counted and logged.
import { open, readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Clock, TimerHandle } from '../clock.js';
import type { ReplaySourceConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Frame } from './frame.js';
import type { FrameSource, SourceDropReason, SourceHealth, SourceState } from './source.js';

const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff']);
// keepSchedule: how far behind its schedule the camera still delivers every frame. Frames that
// fell due longer ago are dropped (counted, reason superseded): a loop blocked for minutes must
// not be answered with minutes of frames at once.
const maxCatchUpMs = 1000;

/** Why a file was not replayed this time round. */
type Skip = { reason: SourceDropReason | 'vanished'; detail: string };

export class ReplaySource implements FrameSource {
  readonly kind = 'replay';
  readonly #camera: string;
  readonly #config: ReplaySourceConfig;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  #files: string[] = [];
  #state: SourceState = 'idle';
  #seq = 0;
  #lastFrameWall: number | null = null;
  #lastError: string | null = null;
  #stopped = false;
  #wake: (() => void) | undefined;
  #timer: TimerHandle | undefined;
  readonly #recent: number[] = [];
  /** Files skipped since start, by why; each file is logged once, not on every loop. */
  readonly skipped = { tooLarge: 0, vanished: 0, unreadable: 0 };
  readonly #logged = new Set<string>();
  onDrop: ((reason: SourceDropReason) => void) | undefined;

  constructor(camera: string, config: ReplaySourceConfig, deps: { clock: Clock; log?: Logger }) {
    this.#camera = camera;
    this.#config = config;
    this.#clock = deps.clock;
    this.#log = deps.log;
  }

  get #maxBytes(): number {
    return (this.#config.maxFileMB ?? 32) * 1024 * 1024;
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
    this.#files = names.filter((n) => imageExtensions.has(extname(n).toLowerCase()));
    if (!this.#files.length) {
      this.#fail(`no image files (${[...imageExtensions].join(' ')}) in ${path}`);
      throw new LinesightError('LS_ERR_SOURCE_EMPTY', this.#lastError!, { args: [path] });
    }
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

  /**
   * One file's bytes in a buffer of its own (it is transferred to a worker), or why not. The size
   * is checked before reading and the read is bounded, so a file that grows meanwhile cannot
   * make it allocate more than the cap.
   */
  async #read(file: string): Promise<Uint8Array | Skip> {
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? { reason: 'vanished', detail: 'no longer there' } : { reason: 'decode', detail: code ?? (err as Error).message };
    }
    try {
      const size = (await handle.stat()).size;
      const max = this.#maxBytes;
      const tooLarge = (n: string) => ({ reason: 'too-large' as const, detail: `${n} bytes, over maxFileMB (${max / 1024 / 1024} MiB)` });
      if (size > max) return tooLarge(String(size));
      // A buffer of its own, exactly the file: the pool transfers it to a worker without a copy.
      const bytes = new Uint8Array(size);
      const { bytesRead } = await handle.read(bytes, 0, size, 0);
      if ((await handle.read(new Uint8Array(1), 0, 1, size)).bytesRead > 0) return tooLarge(`more than ${size}`);
      return bytesRead === size ? bytes : bytes.slice(0, bytesRead);
    } catch (err) {
      return { reason: 'decode', detail: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
    } finally {
      await handle.close();
    }
  }

  /** The schedule moved past the frames due more than maxCatchUpMs ago, each counted as dropped. */
  #dropBeyondCatchUp(next: number, period: number): number {
    const behind = this.#clock.now() - next - maxCatchUpMs;
    if (behind <= 0) return next;
    const missed = Math.ceil(behind / period);
    for (let k = 0; k < missed; k++) this.onDrop?.('superseded');
    return next + missed * period;
  }

  #skip(file: string, skip: Skip): void {
    if (skip.reason === 'too-large') this.skipped.tooLarge++;
    else if (skip.reason === 'vanished') this.skipped.vanished++;
    else this.skipped.unreadable++;
    // A vanished file was not a frame; too-large and unreadable ones were, and are dropped.
    if (skip.reason !== 'vanished') this.onDrop?.(skip.reason);
    const key = `${file}:${skip.reason}`;
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    const code = skip.reason === 'too-large' ? 'LS_ERR_FRAME_TOO_LARGE' : 'LS_ERR_SOURCE_CONFIG';
    this.#log?.warn({ camera: this.#camera, file, code, reason: skip.reason }, `replay skips ${basename(file)}: ${skip.detail}`);
  }

  async *frames(): AsyncGenerator<Frame> {
    const period = 1000 / this.#config.ratePerSec;
    let next = this.#clock.now();
    let i = 0;
    let emittedThisPass = 0;
    while (!this.#stopped && this.#files.length) {
      if (i === this.#files.length) {
        if (!emittedThisPass) {
          // Every file vanished or is over the cap: looping would spin on nothing.
          this.#fail(`no readable image left in ${this.#config.path} (${this.#files.length} skipped)`);
          return;
        }
        if (!this.#config.loop) break;
        i = 0;
        emittedThisPass = 0;
      }
      await this.#sleepUntil(next);
      if (this.#stopped) break;
      if (this.#config.keepSchedule) next = this.#dropBeyondCatchUp(next, period);
      const file = this.#files[i++]!;
      // Read before the frame is stamped: its time is when the "camera" has it.
      const bytes = await this.#read(file);
      if (this.#stopped) break;
      if (!(bytes instanceof Uint8Array)) {
        this.#skip(file, bytes);
        continue;
      }
      const now = this.#clock.now();
      const due = next;
      // Behind schedule (a blocked loop, a slow disk): skip ahead rather than burst, unless the
      // schedule is the camera's own (then the late frames go out at once, stamped when due).
      next = !this.#config.keepSchedule && now - next > period ? now + period : next + period;
      const capturedAt = this.#config.keepSchedule ? Math.min(due, now) : now;
      const wall = this.#clock.wallNow() - (now - capturedAt);
      this.#note(capturedAt, wall);
      emittedThisPass++;
      yield {
        camera: this.#camera,
        seq: ++this.#seq,
        capturedAt,
        capturedWall: wall,
        timeSource: this.#config.keepSchedule ? 'camera' : 'arrival',
        image: { kind: 'encoded', data: bytes },
        origin: basename(file),
      };
    }
    if (!this.#stopped && this.#state !== 'failed') this.#state = 'ended';
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
      timeSource: this.#seq ? (this.#config.keepSchedule ? 'camera' : 'arrival') : null,
      captureTimesRejected: 0,
      framesTooLarge: this.skipped.tooLarge,
    };
  }
}
