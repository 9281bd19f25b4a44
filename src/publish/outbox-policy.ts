// What both outboxes share: per-class priority and time to live, the bounds, and how drops are
// counted and logged. The policy when full, stated once: the oldest message of the lowest-priority
// class goes first, so summaries and passes are dropped before fails, and a fail is dropped only
// when nothing of lower priority is left (then the oldest fail makes room for the newest). A new
// message that ranks below everything held is itself the one dropped.
import type { Logger } from '../log.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { systemClock, type Clock } from '../clock.js';
import type { MessageClass } from './outbox.js';

export const messageClasses: readonly MessageClass[] = ['fail', 'event', 'evidence', 'summary', 'pass'];

export interface ClassPolicy {
  /** Higher survives longer when the outbox is full. */
  priority: number;
  /** Dropped as expired after this long in the outbox; 0: never. */
  ttlMs: number;
}

export interface OutboxLimits {
  maxMessages: number;
  /** Payload plus topic bytes of waiting messages. */
  maxBytes: number;
  /** Quarantined messages kept for inspection; the oldest go beyond this (counted). */
  maxQuarantined: number;
  classes: Record<MessageClass, ClassPolicy>;
}

export const defaultClassPolicies: Record<MessageClass, ClassPolicy> = {
  fail: { priority: 50, ttlMs: 7 * 24 * 3_600_000 },
  event: { priority: 40, ttlMs: 7 * 24 * 3_600_000 },
  evidence: { priority: 30, ttlMs: 3 * 24 * 3_600_000 },
  summary: { priority: 20, ttlMs: 24 * 3_600_000 },
  pass: { priority: 10, ttlMs: 3_600_000 },
};

export const defaultOutboxLimits: OutboxLimits = {
  maxMessages: 1_000_000,
  maxBytes: 512 * 1024 * 1024,
  maxQuarantined: 1000,
  classes: defaultClassPolicies,
};

export interface OutboxOptions {
  limits?: Partial<OutboxLimits>;
  clock?: Clock;
  log?: Logger;
}

export function resolveLimits(limits: Partial<OutboxLimits> | undefined): OutboxLimits {
  return { ...defaultOutboxLimits, ...limits, classes: { ...defaultClassPolicies, ...limits?.classes } };
}

export function messageBytes(m: { topic: string; payload: Buffer }): number {
  return m.payload.length + Buffer.byteLength(m.topic);
}

/** Counts drops by reason (`full:<class>`, `expired:<class>`, `oversize:<class>`, `quarantine-full:<class>`) and logs them, rate-limited. */
export class DropCounter {
  readonly counts: Record<string, number> = {};
  readonly #log: Logger | undefined;
  readonly #limited: RateLimitedLog;

  constructor(clock: Clock = systemClock, log?: Logger) {
    this.#log = log;
    this.#limited = new RateLimitedLog({ clock });
  }

  drop(reason: string, message: { id: string; station: string }, n = 1): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + n;
    const log = this.#log;
    if (!log) return;
    this.#limited.report(reason, (suppressed) =>
      log.warn({ reason, id: message.id, station: message.station, alsoDropped: suppressed }, 'cloud outbox dropped a message'),
    );
  }

  close(): void {
    this.#limited.close();
  }
}
