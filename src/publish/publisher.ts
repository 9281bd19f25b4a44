// The seam every verdict sink implements. publish() must never block or throw into the
// pipeline: a sink queues, retries and reports its own trouble.
import type { Verdict } from '../verdict.js';

export interface PublisherHealth {
  connected: boolean;
  pending: number;
  published: number;
  failed: number;
  lastError: string | null;
}

export interface Publisher {
  readonly name: string;
  start(): Promise<void>;
  publish(verdict: Verdict): void;
  /** Flushes what it can within `drainMs`, then closes; idempotent. */
  stop(drainMs: number): Promise<void>;
  health(): PublisherHealth;
}
