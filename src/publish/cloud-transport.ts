// The wire under the cloud drain (cloud-publisher.ts): one file per way to reach AWS IoT Core.
// The drain owns everything that is the same for all of them (the outbox, the rate limit, the
// in-flight bound, quarantine, ack-then-delete, backoff, health); a transport only opens a
// connection, sends one message on it and says how each send ended.
import type { OutboxMessage } from './outbox.js';

/** How one send ended, in the drain's terms. */
export type SendOutcome =
  /** The far side took responsibility for it (a PUBACK; the nucleus's response): delete it. */
  | { kind: 'acked' }
  /** Refused for good (not authorized, malformed, too large): quarantine, never block what follows. */
  | { kind: 'refused'; reason: string }
  /**
   * The far side cannot take it now but the connection is fine (the nucleus's spooler is full):
   * keep it in its place, and send nothing for a while. Never quarantined for this.
   */
  | { kind: 'busy'; reason: string }
  /** Failed for a reason that may not recur (a client closing): an attempt; quarantined after maxAttempts. */
  | { kind: 'failed'; reason: string };

export interface CloudConnection {
  /** Sends one message; `settled` is called at most once, and never after the connection closed. */
  send(message: OutboxMessage, settled: (outcome: SendOutcome) => void): void;
  /** Closes at once, acks or not; no events follow. Idempotent. */
  end(): Promise<void>;
}

export interface CloudConnectionEvents {
  /** Ready to send. `maxPacketBytes`: the far side's announced maximum, when it announces one. */
  open(info: { maxPacketBytes?: number }): void;
  /** Lost, or never established; called once per connection. The drain then reconnects with backoff. */
  closed(reason: string): void;
  /** Something to show in health while the connection stays up (a DISCONNECT's reason before the close). */
  problem(reason: string): void;
}

export interface CloudTransport {
  /** The publisher's name (logs, metrics): `cloud-mqtt`, `cloud-greengrass-ipc`. */
  readonly name: string;
  /** Where it connects, safe to log (credentials redacted). */
  readonly target: string;
  /** A problem known before connecting (an expired client certificate), reported once at start. */
  startProblem?(): string | null;
  /** Starts one connection attempt; its events go to `events` until closed() or end(). */
  connect(events: CloudConnectionEvents): CloudConnection;
}
