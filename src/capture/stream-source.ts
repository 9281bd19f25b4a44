// What every live camera source shares: connect, read frames, notice a stall, reconnect with
// exponential backoff and jitter, and report health. A camera kind only says how to open a
// session (a child process, an HTTP stream) and yields images; this class does the rest.
//
// Frames are handed on newest-first: if the consumer has not taken the previous frame when a
// new one arrives, the old one is superseded (counted), so latency never grows with a backlog.
//
// A session may give each image the capture time its camera program reported; the frame's
// capturedAt is then that time (within the limits in capture-time.ts), else its arrival here.
import type { Clock, TimerHandle } from '../clock.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import { captureTime, type CaptureStamp, type TimeSource } from './capture-time.js';
import type { Frame, FrameImage } from './frame.js';
import type { FrameSource, SourceDropReason, SourceHealth, SourceState } from './source.js';

export interface ReconnectPolicy {
  /** First retry delay. */
  initialMs: number;
  /** Longest retry delay. */
  maxMs: number;
  /** No frame for this long while streaming: the session is closed and reopened. */
  stallMs: number;
  /** How long a new session may take to give its first frame. */
  connectMs: number;
}

export const defaultReconnect: ReconnectPolicy = { initialMs: 500, maxMs: 30_000, stallMs: 5_000, connectMs: 10_000 };

export interface StreamSourceOptions {
  camera: string;
  clock: Clock;
  log: Logger;
  reconnect?: Partial<ReconnectPolicy>;
  /** Random in [0,1): injected so backoff is testable. */
  random?: () => number;
  /** Finite sources (a video file without loop) end instead of reconnecting. */
  finite?: boolean;
}

export type DropReason = SourceDropReason;

/** One image as a session yields it, with the capture time its camera program gave, if any. */
export interface SessionFrame {
  image: FrameImage;
  stamp?: CaptureStamp | undefined;
}

export interface SourceCounters {
  decodeErrors: number;
  superseded: number;
  /** Stamps that failed the plausibility check; those frames carry their arrival time. */
  captureTimesRejected: number;
  /** Frames dropped for growing past the source's maxFrameMB. */
  tooLarge: number;
}

export abstract class StreamSource implements FrameSource {
  abstract readonly kind: string;
  protected readonly camera: string;
  protected readonly clock: Clock;
  protected readonly log: Logger;
  readonly #policy: ReconnectPolicy;
  readonly #random: () => number;
  readonly #finite: boolean;
  #state: SourceState = 'idle';
  #lastError: string | null = null;
  #reconnects = 0;
  #seq = 0;
  #lastFrameMono: number | null = null;
  #lastFrameWall: number | null = null;
  readonly #recent: number[] = [];
  #timeSource: TimeSource | null = null;
  #rejectionLogged = false;
  /** A too-large frame was logged and no frame has got through since. */
  #tooLargeBurst = false;
  #latest: Frame | undefined;
  #waiter: (() => void) | undefined;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #done = false;
  #retryTimer: TimerHandle | undefined;
  #retryWake: (() => void) | undefined;
  readonly counters: SourceCounters = { decodeErrors: 0, superseded: 0, captureTimesRejected: 0, tooLarge: 0 };
  /** Called for each frame that is dropped before it reaches a station. */
  onDrop: ((reason: DropReason) => void) | undefined;

  constructor(options: StreamSourceOptions) {
    this.camera = options.camera;
    this.clock = options.clock;
    this.log = options.log;
    this.#policy = { ...defaultReconnect, ...options.reconnect };
    this.#random = options.random ?? Math.random;
    this.#finite = options.finite ?? false;
  }

  /**
   * Checks configuration that can never work (unknown scheme, missing program), throwing a
   * LinesightError; transient trouble (host down) belongs in open().
   */
  protected abstract validate(): Promise<void>;

  /**
   * Opens one session and yields its images until it ends; throws to report why it broke.
   * Must stop promptly when `signal` aborts.
   */
  protected abstract open(signal: AbortSignal): AsyncIterable<SessionFrame>;

  async start(): Promise<void> {
    if (this.#loop) return;
    try {
      await this.validate();
    } catch (err) {
      this.#state = 'failed';
      this.#lastError = (err as Error).message;
      throw err;
    }
    this.#loop = this.#run();
  }

  /** Counts an image the session could not use (corrupt, truncated). */
  protected decodeError(detail: string): void {
    this.counters.decodeErrors++;
    this.onDrop?.('decode');
    this.log.debug({ camera: this.camera, detail }, 'frame could not be decoded');
  }

  /**
   * Counts a frame dropped for growing past `maxBytes`. Logged once per burst (until a frame
   * gets through again): a camera misconfigured to send huge frames would otherwise flood the log.
   */
  protected frameTooLarge(maxBytes: number): void {
    this.counters.tooLarge++;
    this.onDrop?.('too-large');
    if (this.#tooLargeBurst) return;
    this.#tooLargeBurst = true;
    const err = new LinesightError('LS_ERR_FRAME_TOO_LARGE', `a frame from ${this.kind} grew past maxFrameMB (${maxBytes / 1024 / 1024} MiB); dropped, waiting for the next frame`);
    this.log.warn({ camera: this.camera, code: err.code, maxFrameMB: maxBytes / 1024 / 1024 }, err.message);
  }

  #delay(attempt: number): number {
    // Full jitter: cameras on one switch that dropped together do not reconnect in lockstep.
    const cap = Math.min(this.#policy.maxMs, this.#policy.initialMs * 2 ** Math.min(attempt, 20));
    return Math.round(cap / 2 + (this.#random() * cap) / 2);
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stopped) {
      this.#state = 'connecting';
      const abort = new AbortController();
      this.#abort = abort;
      let stallTimer: TimerHandle | undefined;
      let stalled = false;
      let gotFrame = false;
      const armStall = () => {
        stallTimer?.cancel();
        // Opening a stream (RTSP set-up, probing, waiting for a keyframe) takes longer than the gap
        // between frames, so the first frame gets a longer allowance than the stall watchdog.
        const limit = gotFrame ? this.#policy.stallMs : Math.max(this.#policy.stallMs, this.#policy.connectMs);
        stallTimer = this.clock.setTimer(limit, () => {
          stalled = true;
          this.#state = 'stalled';
          this.#lastError = gotFrame ? `no frame for ${limit} ms` : `no first frame within ${limit} ms of opening the stream`;
          this.log.warn({ camera: this.camera, ms: limit }, gotFrame ? 'camera stalled; reconnecting' : 'camera gives no frame; reconnecting');
          abort.abort(new LinesightError('LS_ERR_SOURCE_STALLED', this.#lastError));
        });
      };
      try {
        armStall();
        for await (const frame of this.open(abort.signal)) {
          if (this.#stopped) break;
          if (!gotFrame) {
            gotFrame = true;
            attempt = 0;
            this.#state = 'streaming';
            this.#lastError = null;
            this.log.info({ camera: this.camera, source: this.kind }, 'camera streaming');
          }
          armStall();
          this.#deliver(frame);
        }
        if (!this.#stopped && !stalled) {
          if (this.#finite) {
            this.#state = 'ended';
            break;
          }
          throw new Error('stream ended');
        }
      } catch (err) {
        if (this.#stopped) break;
        if (!stalled) {
          this.#state = 'failed';
          this.#lastError = (err as Error).message;
          this.log.warn({ camera: this.camera, err }, 'camera session failed');
        }
      } finally {
        stallTimer?.cancel();
        abort.abort();
      }
      if (this.#stopped) break;
      const wait = this.#delay(attempt++);
      this.#reconnects++;
      await new Promise<void>((resolve) => {
        this.#retryWake = resolve;
        this.#retryTimer = this.clock.setTimer(wait, resolve);
      });
    }
    if (this.#stopped) this.#state = 'stopped';
    this.#done = true;
    this.#waiter?.();
  }

  #deliver({ image, stamp }: SessionFrame): void {
    const now = this.clock.now();
    const wall = this.clock.wallNow();
    if (this.#latest) {
      this.counters.superseded++;
      this.onDrop?.('superseded');
    }
    this.#tooLargeBurst = false;
    const time = captureTime(stamp, { mono: now, wall });
    if (time.rejected) this.#rejected(time.rejected);
    this.#timeSource = time.timeSource;
    this.#latest = { camera: this.camera, seq: ++this.#seq, capturedAt: time.capturedAt, capturedWall: time.capturedWall, timeSource: time.timeSource, image };
    this.#lastFrameMono = now;
    this.#lastFrameWall = wall;
    this.#recent.push(now);
    while (this.#recent.length && this.#recent[0]! < now - 5000) this.#recent.shift();
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  /** Counted every time; logged once per source: a camera clock that is off is off on every frame. */
  #rejected(why: string): void {
    this.counters.captureTimesRejected++;
    if (this.#rejectionLogged) return;
    this.#rejectionLogged = true;
    this.log.warn({ camera: this.camera, why }, 'camera timestamp implausible; such frames use their arrival time (is the camera clock synchronised with this box?)');
  }

  async *frames(): AsyncGenerator<Frame> {
    for (;;) {
      const f = this.#latest;
      if (f) {
        this.#latest = undefined;
        yield f;
        continue;
      }
      if (this.#done || this.#stopped) return;
      await new Promise<void>((r) => (this.#waiter = r));
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#retryTimer?.cancel();
    this.#retryWake?.();
    this.#abort?.abort();
    this.#waiter?.();
    await this.#loop;
    this.#state = this.#state === 'failed' && !this.#loop ? 'failed' : 'stopped';
  }

  health(): SourceHealth {
    const r = this.#recent;
    const now = this.clock.now();
    const span = r.length > 1 ? (r[r.length - 1]! - r[0]!) / 1000 : 0;
    const fresh = this.#lastFrameMono !== null && now - this.#lastFrameMono < 5000;
    return {
      state: this.#state,
      framesEmitted: this.#seq,
      fps: span > 0 && fresh ? Math.round(((r.length - 1) / span) * 10) / 10 : 0,
      lastFrameAt: this.#lastFrameWall === null ? null : new Date(this.#lastFrameWall).toISOString(),
      lastError: this.#lastError,
      reconnects: this.#reconnects,
      timeSource: this.#timeSource,
      captureTimesRejected: this.counters.captureTimesRejected,
      framesTooLarge: this.counters.tooLarge,
    };
  }
}
