// The cloud publisher: verdicts become outbox messages (never blocking inspection), and a drain
// sends them over a transport (cloud-transport.ts: MQTT with mutual TLS, or the Greengrass
// nucleus's IPC), deleting each only once the far side took it. The drain is rate limited (token
// bucket, IoT Core allows 100 publishes/s per connection), keeps a bounded number in flight, and
// works in small batches that yield to the event loop, so a 1-hour backlog after a WAN outage
// never delays the line.
//
// What the far side refuses is quarantined so it never blocks what follows: checked before
// sending (payload over maxPayloadBytes, a topic with more than maxTopicSlashes slashes, over the
// broker's announced maximum packet size), refused by the far side (not authorized, packet too
// large...), or a message in flight alone when the connection closed, maxAttempts times (MQTT
// 3.1.1 brokers disconnect instead of answering). After a disconnect the first messages go one at
// a time ("probing") so only the guilty one is blamed. A far side that is busy (the nucleus's
// spooler full) holds the drain back with backoff, and blames nothing.
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { QueueReport, QueueReporter } from '../queues.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import type { Verdict } from '../verdict.js';
import type { CloudConnection, CloudTransport, SendOutcome } from './cloud-transport.js';
import type { MessageClass, NewMessage, Outbox, OutboxMessage } from './outbox.js';
import type { Publisher, PublisherHealth } from './publisher.js';
import { TokenBucket } from './token-bucket.js';

export interface CloudDrainOptions {
  outbox: Outbox;
  /**
   * What a verdict becomes in the outbox, when this publisher should add it itself. In the service
   * the cloud feed (cloud-feed.ts) adds every message and calls notify(); then this is absent.
   */
  toMessages?: (verdict: Verdict) => NewMessage[];
  publishesPerSecond?: number;
  maxInflight?: number;
  maxPayloadBytes?: number;
  maxTopicSlashes?: number;
  maxAttempts?: number;
  /** Backoff of reconnects, and of sending again after the far side said it is busy. */
  reconnect?: { initialMs?: number; maxMs?: number; jitter?: number; connectTimeoutMs?: number };
  /** Messages taken from the outbox per turn of the event loop. */
  batch?: number;
  /**
   * True while the line has parts in flight. The drain then sends at most one batch per
   * `busyGapMs` (100): a backlog goes up in the line's idle moments, and still moves (at a tenth
   * of the rate or so) when the line never idles.
   */
  lineBusy?: () => boolean;
  busyGapMs?: number;
  log: Logger;
  clock?: Clock;
  random?: () => number;
}

export interface CloudPublisherOptions extends CloudDrainOptions {
  transport: CloudTransport;
}

export interface CloudHealth extends PublisherHealth {
  /** Connection attempts after the first. */
  reconnects: number;
  quarantined: number;
  /** Messages refused before sending or by the far side since start. */
  refused: number;
  /** Informational: a dead cloud never makes the box unready. */
  since: string | null;
}

// Evidence jobs are the S3 uploader's (src/evidence/s3-uploader.ts); everything else goes over MQTT.
const MQTT_CLASSES: readonly MessageClass[] = ['fail', 'summary', 'event', 'pass'];

export class CloudPublisher implements Publisher, QueueReporter {
  readonly name: string;
  readonly outbox: Outbox;
  readonly #o: CloudPublisherOptions;
  readonly #transport: CloudTransport;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #problems: RateLimitedLog;
  readonly #maxInflight: number;
  readonly #maxPayload: number;
  readonly #maxSlashes: number;
  readonly #maxAttempts: number;
  readonly #batch: number;
  /** Monotonic time of the last batch sent while the line was busy. */
  #lastBusyPump = -Infinity;
  #conn: CloudConnection | undefined;
  #connected = false;
  #connectedSince: number | null = null;
  #failures = 0;
  #reconnects = 0;
  #reconnectTimer: TimerHandle | undefined;
  #pumpTimer: TimerHandle | undefined;
  #pumpQueued = false;
  #inflight = new Map<string, OutboxMessage>();
  #acked: string[] = [];
  #probing = false;
  /** Busy answers in a row, and until when (monotonic) the drain holds back after the last one. */
  #busyStreak = 0;
  #holdUntil = -Infinity;
  readonly #bucket: TokenBucket;
  #maxPacket = Infinity;
  #published = 0;
  #refused = 0;
  #failed = 0;
  #lastError: string | null = null;
  #stopped = false;
  #started = false;

  constructor(options: CloudPublisherOptions) {
    this.#o = options;
    this.#transport = options.transport;
    this.name = options.transport.name;
    this.outbox = options.outbox;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#problems = new RateLimitedLog({ clock: this.#clock });
    this.#maxInflight = options.maxInflight ?? 20;
    this.#maxPayload = options.maxPayloadBytes ?? 128 * 1024;
    this.#maxSlashes = options.maxTopicSlashes ?? 7;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#batch = options.batch ?? 10;
    this.#bucket = new TokenBucket(options.publishesPerSecond ?? 100, this.#clock);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const problem = this.#transport.startProblem?.() ?? null;
    if (problem) {
      this.#lastError = problem;
      this.#o.log.warn({ target: this.#transport.target }, `cloud: ${problem}`);
    }
    // Does not wait for the far side: the cloud being away is the normal case this exists for.
    this.#connect();
  }

  publish(verdict: Verdict): void {
    if (this.#stopped || !this.#o.toMessages) return;
    try {
      for (const m of this.#o.toMessages(verdict)) this.outbox.add(m);
    } catch (err) {
      this.#failed++;
      this.#problems.report('enqueue', (n) => this.#o.log.error({ err, alsoFailed: n }, 'cloud: could not enqueue a verdict'));
    }
    this.#schedulePump();
  }

  /** Wakes the drain after messages were added to the outbox directly (summaries, events, evidence). */
  notify(): void {
    this.#schedulePump();
  }

  #connect(): void {
    if (this.#stopped) return;
    // Events of a connection that is no longer the current one are ignored: #onClosed already
    // put its messages back. Transports never call these synchronously from connect().
    const conn: CloudConnection = this.#transport.connect({
      open: (info) => {
        if (conn !== this.#conn) return;
        this.#connected = true;
        this.#connectedSince = this.#clock.wallNow();
        this.#failures = 0;
        this.#lastError = null;
        this.#maxPacket = info.maxPacketBytes ?? Infinity;
        this.#o.log.info({ target: this.#transport.target, transport: this.name }, 'cloud: connected');
        this.#schedulePump();
      },
      closed: (reason) => {
        if (conn !== this.#conn) return;
        this.#onClosed(reason);
      },
      problem: (reason) => {
        if (conn !== this.#conn) return;
        this.#lastError = reason;
      },
    });
    this.#conn = conn;
  }

  #onClosed(reason: string): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    this.#connectedSince = null;
    const conn = this.#conn;
    this.#conn = undefined;
    void conn?.end();
    // What was in flight goes back in order; blame it only when it was alone (probing).
    const inflight = [...this.#inflight.values()];
    const alone = inflight.length === 1;
    this.#inflight.clear();
    this.#flushAcks();
    for (const m of inflight) {
      const attempts = this.outbox.failed(m.id, 'connection closed');
      if (alone && attempts >= this.#maxAttempts) this.#quarantine(m, `the connection closed after sending it ${attempts} times`);
    }
    this.#probing = inflight.length > 0 || this.#probing;
    this.#problems.report('disconnected', (n) =>
      this.#o.log.warn({ target: this.#transport.target, reason, alsoFailed: n }, wasConnected ? 'cloud: connection lost' : 'cloud: cannot connect'),
    );
    this.#lastError = reason;
    this.#scheduleReconnect();
  }

  /** Exponential backoff with jitter: `streak` failures in a row so far. */
  #backoff(streak: number): number {
    const r = this.#o.reconnect ?? {};
    const initial = r.initialMs ?? 1000;
    const max = r.maxMs ?? 60_000;
    const jitter = r.jitter ?? 0.3;
    const base = Math.min(max, initial * 2 ** Math.min(streak, 30));
    return base * (1 - jitter * this.#random());
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    const delay = this.#backoff(this.#failures);
    this.#failures++;
    this.#reconnectTimer = this.#clock.setTimer(delay, () => {
      this.#reconnectTimer = undefined;
      this.#reconnects++;
      this.#connect();
    });
  }

  #schedulePump(): void {
    if (this.#pumpQueued || this.#stopped) return;
    this.#pumpQueued = true;
    // Yield first: publish() returns at once, and the drain interleaves with the line's work.
    setImmediate(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  #pump(): void {
    this.#flushAcks();
    const conn = this.#conn;
    if (!conn || !this.#connected || this.#stopped) return;
    const now = this.#clock.now();
    if (now < this.#holdUntil) {
      this.#deferPump(this.#holdUntil - now);
      return;
    }
    if (this.#o.lineBusy?.()) {
      const gap = this.#o.busyGapMs ?? 100;
      const since = now - this.#lastBusyPump;
      if (since < gap) {
        this.#deferPump(gap - since);
        return;
      }
      this.#lastBusyPump = now;
    }
    const tokens = this.#bucket.available();
    const window = this.#probing ? 1 : this.#maxInflight;
    const room = Math.min(window - this.#inflight.size, tokens, this.#batch);
    if (room <= 0) {
      if (tokens < 1 && this.#inflight.size < window) this.#deferPump(this.#bucket.msUntilNext());
      return;
    }
    const batch = this.outbox.next(room, { classes: MQTT_CLASSES });
    for (const m of batch) {
      const problem = this.#precheck(m);
      if (problem) {
        this.#quarantine(m, problem);
        continue;
      }
      this.#bucket.take();
      this.#inflight.set(m.id, m);
      conn.send(m, (outcome) => this.#settled(conn, m, outcome));
    }
    // More may be waiting: go on after the event loop had its turn.
    if (batch.length > 0) this.#schedulePump();
  }

  /** Comes back after `ms` (the line busy, no token left, the far side busy), or sooner when an ack or a new message wakes the pump. */
  #deferPump(ms: number): void {
    if (this.#pumpTimer) return;
    this.#pumpTimer = this.#clock.setTimer(ms, () => {
      this.#pumpTimer = undefined;
      this.#schedulePump();
    });
  }

  #precheck(m: OutboxMessage): string | null {
    if (m.payload.length > this.#maxPayload) return `payload of ${m.payload.length} bytes is over the limit of ${this.#maxPayload} (cloud.maxPayloadBytes)`;
    const slashes = m.topic.split('/').length - 1;
    if (slashes > this.#maxSlashes) return `topic has ${slashes} slashes, the limit is ${this.#maxSlashes} (cloud.maxTopicSlashes)`;
    if (m.topic.length === 0 || /[#+\u0000]/.test(m.topic) || Buffer.byteLength(m.topic) > 65535) return 'not a valid topic to publish on';
    // Fixed header, topic and a few properties: the broker drops the connection on a larger packet.
    const packet = m.payload.length + Buffer.byteLength(m.topic) + 16;
    if (packet > this.#maxPacket) return `packet of ${packet} bytes is over the broker's maximum of ${this.#maxPacket}`;
    return null;
  }

  #settled(conn: CloudConnection, m: OutboxMessage, outcome: SendOutcome): void {
    // Settled by a connection that is gone: #onClosed already put it back.
    if (conn !== this.#conn || !this.#inflight.has(m.id)) return;
    this.#inflight.delete(m.id);
    switch (outcome.kind) {
      case 'acked':
        this.#published++;
        this.#probing = false;
        this.#busyStreak = 0;
        this.#acked.push(m.id);
        break;
      case 'refused':
        this.#quarantine(m, outcome.reason);
        break;
      case 'busy':
        // Back in its place; nothing more goes out until the hold ends (acks of what is in flight still count).
        this.outbox.failed(m.id, outcome.reason);
        this.#lastError = outcome.reason;
        this.#holdUntil = this.#clock.now() + this.#backoff(this.#busyStreak++);
        this.#problems.report('busy', (n) => this.#o.log.warn({ target: this.#transport.target, reason: outcome.reason, alsoBusy: n }, 'cloud: the far side is busy; holding back'));
        break;
      case 'failed': {
        const attempts = this.outbox.failed(m.id, outcome.reason);
        if (attempts >= this.#maxAttempts) this.#quarantine(m, `failed ${attempts} times: ${outcome.reason}`);
        break;
      }
    }
    this.#schedulePump();
  }

  /** Acks go to the outbox in batches: one transaction (one fsync) per turn, not per message. */
  #flushAcks(): void {
    if (this.#acked.length === 0) return;
    const ids = this.#acked;
    this.#acked = [];
    this.outbox.ack(ids);
  }

  #quarantine(m: OutboxMessage, reason: string): void {
    this.#refused++;
    this.outbox.quarantine(m.id, reason);
    this.#problems.report('quarantine', (n) =>
      this.#o.log.warn(
        { err: new LinesightError('LS_ERR_CLOUD_REFUSED', reason, { args: [m.id] }), topic: m.topic, station: m.station, class: m.class, alsoQuarantined: n },
        'cloud: message quarantined',
      ),
    );
  }

  async stop(drainMs: number): Promise<void> {
    if (this.#stopped) return;
    // Whatever is not acknowledged stays in the outbox for the next start; wait briefly for acks.
    const deadline = this.#clock.now() + drainMs;
    while (this.#inflight.size > 0 && this.#connected && this.#clock.now() < deadline) {
      await new Promise<void>((r) => this.#clock.setTimer(20, r));
    }
    this.#stopped = true;
    this.#reconnectTimer?.cancel();
    this.#pumpTimer?.cancel();
    this.#flushAcks();
    const conn = this.#conn;
    this.#conn = undefined;
    this.#connected = false;
    await conn?.end();
    this.#problems.close();
    // The outbox is the App's: the evidence uploader drains it too, and it closes it last.
  }

  health(): CloudHealth {
    const s = this.outbox.stats();
    return {
      connected: this.#connected,
      pending: s.depth,
      published: this.#published,
      failed: this.#failed,
      lastError: this.#lastError,
      reconnects: this.#reconnects,
      quarantined: s.quarantined,
      refused: this.#refused,
      since: this.#connectedSince === null ? null : new Date(this.#connectedSince).toISOString(),
    };
  }

  queues(): QueueReport[] {
    const s = this.outbox.stats();
    return [{ queue: 'cloud-outbox', depth: s.depth, capacity: s.maxMessages, dropped: s.dropped }];
  }
}
