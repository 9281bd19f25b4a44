// The outbox between the pipeline and the cloud: every message the cloud should get is added here
// first (never blocking inspection), and a drainer publishes it when the WAN is up. At-least-once:
// a message leaves the outbox only when the broker acknowledged it. Two implementations share
// this interface and one test suite: in memory (tests, and boxes without a disk to spare) and
// SQLite (production: survives a process kill and a power cut).

/** What kind of message; decides priority, time to live and what is dropped first when full. */
export type MessageClass = 'fail' | 'summary' | 'event' | 'pass' | 'evidence';

export interface NewMessage {
  /** Stable id for de-duplication downstream (a verdict's id, or a summary's station+window). */
  id: string;
  /** Ordering key: messages of one station leave in the order they were added. */
  station: string;
  class: MessageClass;
  topic: string;
  payload: Buffer;
}

export interface OutboxMessage extends NewMessage {
  /** Position in the outbox (monotonic across restarts): the delivery order within a station. */
  seq: number;
  addedAt: number;
  /** After this (wall ms), the message is dropped as expired instead of sent; null: never. */
  expiresAt: number | null;
  /** Delivery attempts so far. */
  attempts: number;
}

export interface QuarantinedMessage extends OutboxMessage {
  reason: string;
  quarantinedAt: number;
}

export interface OutboxStats {
  /** Messages waiting (not quarantined). */
  depth: number;
  /** Bytes (payload + topic) held, waiting and quarantined together: what maxBytes bounds. */
  bytes: number;
  /** Age of the oldest waiting message (ms), 0 when empty. */
  oldestAgeMs: number;
  /** Messages dropped since start, by reason (`full:<class>`, `expired:<class>`, `oversize:<class>`, `quarantine-full:<class>`). */
  dropped: Record<string, number>;
  quarantined: number;
  maxMessages: number;
  maxBytes: number;
}

export interface NextOptions {
  /** Only messages of these classes (each drainer takes its own: the cloud publisher all but `evidence`, the S3 uploader only `evidence`). */
  classes?: readonly MessageClass[];
}

export interface Outbox {
  /** Adds a message; never blocks. When full, evicts by policy (see implementations) and counts it. Returns false when the new message itself was the one dropped. Re-adding a known id is a no-op (true). */
  add(message: NewMessage): boolean;
  /**
   * Up to `limit` messages to send next, oldest first per station; skips expired ones (dropping
   * them). A message handed out is not handed out again until it is failed() (or the outbox is
   * reopened), so a drainer can keep several in flight.
   */
  next(limit: number, options?: NextOptions): OutboxMessage[];
  /** The broker acknowledged these: gone for good. */
  ack(ids: readonly string[]): void;
  /** A delivery attempt failed transiently; it stays, at its place in the order. Returns the attempts so far. */
  failed(id: string, reason: string): number;
  /** The broker refuses this message for good (too large, forbidden topic, too many attempts): moved aside so it never blocks what follows. */
  quarantine(id: string, reason: string): void;
  listQuarantine(options?: { limit?: number; offset?: number }): QuarantinedMessage[];
  /** Back into the outbox (at the end of their station's order); all when ids is absent. Returns how many. */
  retryQuarantined(ids?: readonly string[]): number;
  purgeQuarantined(ids?: readonly string[]): number;
  stats(): OutboxStats;
  close(): void;
}
