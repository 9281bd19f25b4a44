// Pairs the images a camera program writes on one pipe with the capture times it prints on
// another. The k-th time belongs to the k-th image; the pipes are read separately, so either
// side may be a little ahead. Pairing is strict: at any sign that the two disagree (a byte count
// that does not match, one side far ahead, a time that does not come) it ends for the session
// and every later image goes on with no time (its arrival time). Pairing wrongly would give
// every frame its neighbour's time; not pairing only gives up the better time.
import type { Clock, TimerHandle } from '../clock.js';
import type { CaptureStamp } from './capture-time.js';
import type { FrameImage } from './frame.js';
import type { SessionFrame } from './stream-source.js';

/** A time as read, with the image's size when the program reports it (a check on the pairing). */
export interface ReadStamp {
  stamp: CaptureStamp | undefined;
  bytes?: number;
}

export interface PairingLimits {
  /** Images (or times) one side may be ahead of the other. */
  maxLag: number;
  /** How long an image waits for its time. */
  maxWaitMs: number;
}

export const defaultPairingLimits: PairingLimits = { maxLag: 8, maxWaitMs: 1_000 };

export class StampPairer {
  readonly #emit: (frame: SessionFrame) => void;
  readonly #clock: Clock;
  readonly #limits: PairingLimits;
  readonly #images: FrameImage[] = [];
  readonly #stamps: ReadStamp[] = [];
  #waiting: TimerHandle | undefined;
  #watched: FrameImage | undefined;
  #stopped: string | undefined;
  /** Called once, with the reason, when pairing ends before the session does. */
  onGiveUp: ((why: string) => void) | undefined;

  constructor(emit: (frame: SessionFrame) => void, clock: Clock, limits: PairingLimits = defaultPairingLimits) {
    this.#emit = emit;
    this.#clock = clock;
    this.#limits = limits;
  }

  /** Why pairing ended early, if it did. */
  get stopped(): string | undefined {
    return this.#stopped;
  }

  image(image: FrameImage): void {
    if (this.#stopped) return this.#emit({ image });
    this.#images.push(image);
    this.#pair();
    if (this.#images.length > this.#limits.maxLag) this.giveUp(`${this.#images.length} images arrived without their capture times`);
  }

  stamp(stamp: ReadStamp): void {
    if (this.#stopped) return;
    this.#stamps.push(stamp);
    this.#pair();
    if (this.#stamps.length > this.#limits.maxLag) this.giveUp(`${this.#stamps.length} capture times arrived without their images`);
  }

  /** Ends pairing for the session: waiting images go on without a time, later times are ignored. */
  giveUp(why: string): void {
    if (this.#stopped) return;
    this.#stopped = why;
    this.#stamps.length = 0;
    this.#flush();
    this.onGiveUp?.(why);
  }

  /** The session is over: images still waiting go on without a time. */
  end(): void {
    this.#stopped ??= 'session ended';
    this.#flush();
  }

  #pair(): void {
    while (this.#images.length && this.#stamps.length) {
      const image = this.#images[0]!;
      const { stamp, bytes } = this.#stamps[0]!;
      if (bytes !== undefined && bytes !== image.data.length) {
        this.giveUp(`capture time for a ${bytes}-byte image came with a ${image.data.length}-byte one`);
        return;
      }
      this.#images.shift();
      this.#stamps.shift();
      this.#emit({ image, stamp });
    }
    this.#watch();
  }

  /** A bound on the wait for the oldest image's time, so a program that stops printing times cannot hold frames. */
  #watch(): void {
    const head = this.#images[0];
    if (head === this.#watched) return;
    this.#waiting?.cancel();
    this.#waiting = undefined;
    this.#watched = head;
    if (!head || this.#stopped) return;
    this.#waiting = this.#clock.setTimer(this.#limits.maxWaitMs, () => this.giveUp(`no capture time within ${this.#limits.maxWaitMs} ms of an image`));
  }

  #flush(): void {
    this.#waiting?.cancel();
    this.#waiting = undefined;
    this.#watched = undefined;
    for (const image of this.#images.splice(0)) this.#emit({ image });
  }
}
