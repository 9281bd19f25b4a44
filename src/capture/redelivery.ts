// QoS 1 is at-least-once, so a part can be announced twice; this tells a repeat from a new part.
//
// Two ways a trigger comes twice:
// - the broker resends a message whose PUBACK it never got (our connection dropped between
//   delivery and ack). The resend carries the DUP flag and the same packet id, so it is known
//   exactly: a DUP packet whose id and payload we already passed on.
// - the publisher resends a message whose PUBACK it never got (its connection, or the broker,
//   went down). The broker takes that as a new message and gives it a new packet id, so only the
//   part id can tell: the same part id again within `windowMs` is a repeat. A part without an id
//   cannot be told apart from a new one and is passed on.
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';

export interface TriggerMessage {
  messageId?: number | undefined;
  dup: boolean;
  payload: Buffer;
  partId?: string | undefined;
}

export type Repeat = 'packet' | 'part';

export interface RedeliveryOptions {
  clock: Clock;
  /** How long a part id counts as seen; 0 turns part-id matching off. */
  windowMs: number;
  /** Packet ids remembered; brokers hand ids out in turn, so a few thousand cover any resend. */
  maxPackets?: number;
  /** Part ids remembered at most, whatever the window (bounds memory under a trigger flood). */
  maxParts?: number;
}

export class RedeliveryFilter {
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #maxPackets: number;
  readonly #maxParts: number;
  /** Packet id → digest of the payload it carried; insertion order is arrival order. */
  readonly #packets = new Map<number, string>();
  /** Part id → when it stops counting as seen; insertion order is arrival order. */
  readonly #parts = new Map<string, number>();

  constructor(options: RedeliveryOptions) {
    this.#clock = options.clock;
    this.#windowMs = options.windowMs;
    this.#maxPackets = options.maxPackets ?? 2048;
    this.#maxParts = options.maxParts ?? 100_000;
  }

  /**
   * The broker started a fresh session for us: it resends nothing from before, and its packet
   * ids start over, so the remembered ones would only cause false matches.
   */
  newSession(): void {
    this.#packets.clear();
  }

  /** Whether `m` repeats a message already passed on; if not, remembers it as passed on. */
  check(m: TriggerMessage): Repeat | undefined {
    const digest = m.messageId === undefined ? undefined : createHash('sha1').update(m.payload).digest('base64');
    if (m.dup && m.messageId !== undefined && this.#packets.get(m.messageId) === digest) return 'packet';
    const now = this.#clock.now();
    this.#expireParts(now);
    if (m.partId !== undefined && this.#windowMs > 0 && this.#parts.has(m.partId)) {
      // A publisher resend never refreshes the window: the part is the one seen first.
      this.#remember(m.messageId, digest);
      return 'part';
    }
    this.#remember(m.messageId, digest);
    if (m.partId !== undefined && this.#windowMs > 0) {
      this.#parts.set(m.partId, now + this.#windowMs);
      if (this.#parts.size > this.#maxParts) this.#parts.delete(this.#parts.keys().next().value!);
    }
    return undefined;
  }

  #remember(messageId: number | undefined, digest: string | undefined): void {
    if (messageId === undefined || digest === undefined) return;
    // Re-inserted so that the map stays in arrival order: an id the broker reused is fresh.
    this.#packets.delete(messageId);
    this.#packets.set(messageId, digest);
    if (this.#packets.size > this.#maxPackets) this.#packets.delete(this.#packets.keys().next().value!);
  }

  #expireParts(now: number): void {
    for (const [id, until] of this.#parts) {
      if (until > now) break;
      this.#parts.delete(id);
    }
  }
}
