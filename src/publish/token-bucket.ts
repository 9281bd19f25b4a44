// A token bucket: at most `ratePerSecond` sends in any one-second window, after a full bucket's
// burst. AWS IoT Core refuses more than 100 publishes per second per connection, so the cloud
// drain limits itself rather than learn it from the broker.
import type { Clock } from '../clock.js';

export class TokenBucket {
  readonly #rate: number;
  readonly #clock: Clock;
  #tokens: number;
  #at: number;

  constructor(ratePerSecond: number, clock: Clock) {
    this.#rate = ratePerSecond;
    this.#clock = clock;
    this.#tokens = ratePerSecond;
    this.#at = clock.now();
  }

  /** Whole tokens available now. */
  available(): number {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#at) * this.#rate) / 1000);
    this.#at = now;
    return Math.floor(this.#tokens);
  }

  /** Spends one token; call only when available() said there is one. */
  take(): void {
    this.#tokens--;
  }

  /** Milliseconds until the next whole token. */
  msUntilNext(): number {
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * 1000) / this.#rate);
  }
}
