// The outbox in memory: for tests and for boxes that may lose the backlog on a restart. Same
// policy as the SQLite one (outbox-policy.ts) and the same test suite.
import { systemClock, type Clock } from '../clock.js';
import type { MessageClass, NewMessage, NextOptions, Outbox, OutboxMessage, OutboxStats, QuarantinedMessage } from './outbox.js';
import { DropCounter, messageBytes, messageClasses, resolveLimits, type OutboxLimits, type OutboxOptions } from './outbox-policy.js';

interface Entry extends OutboxMessage {
  bytes: number;
  leased: boolean;
}

interface QEntry extends QuarantinedMessage {
  bytes: number;
}

export class MemoryOutbox implements Outbox {
  readonly #limits: OutboxLimits;
  readonly #clock: Clock;
  readonly #drops: DropCounter;
  /** Waiting messages in seq order (a Map keeps insertion order). */
  readonly #waiting = new Map<string, Entry>();
  /** The same entries by class, oldest first: the eviction candidates. */
  readonly #byClass = new Map<MessageClass, Map<string, Entry>>(messageClasses.map((c) => [c, new Map()]));
  readonly #quarantine = new Map<string, QEntry>();
  /** Classes from lowest to highest priority: the eviction order. */
  readonly #evictionOrder: MessageClass[];
  #seq = 0;
  #bytes = 0;
  #quarantineBytes = 0;

  constructor(options: OutboxOptions = {}) {
    this.#limits = resolveLimits(options.limits);
    this.#clock = options.clock ?? systemClock;
    this.#drops = new DropCounter(this.#clock, options.log);
    this.#evictionOrder = [...messageClasses].sort((a, b) => this.#limits.classes[a].priority - this.#limits.classes[b].priority);
  }

  add(message: NewMessage): boolean {
    if (this.#waiting.has(message.id) || this.#quarantine.has(message.id)) return true;
    const bytes = messageBytes(message);
    if (bytes > this.#limits.maxBytes) {
      this.#drops.drop(`oversize:${message.class}`, message);
      return false;
    }
    if (!this.#makeRoom(message, bytes)) {
      this.#drops.drop(`full:${message.class}`, message);
      return false;
    }
    const now = this.#clock.wallNow();
    const ttl = this.#limits.classes[message.class].ttlMs;
    const entry: Entry = {
      ...message,
      seq: ++this.#seq,
      addedAt: now,
      expiresAt: ttl > 0 ? now + ttl : null,
      attempts: 0,
      bytes,
      leased: false,
    };
    this.#insert(entry);
    return true;
  }

  /** Evicts by policy until `bytes` more fit; false when the new message ranks below all that is left. */
  #makeRoom(message: NewMessage, bytes: number): boolean {
    const priority = this.#limits.classes[message.class].priority;
    while (this.#waiting.size + 1 > this.#limits.maxMessages || this.#bytes + this.#quarantineBytes + bytes > this.#limits.maxBytes) {
      // Quarantined messages wait for a person; under pressure they go first (counted).
      const q = this.#quarantine.values().next();
      if (!q.done && this.#bytes + this.#quarantineBytes + bytes > this.#limits.maxBytes) {
        this.#removeQuarantined(q.value);
        this.#drops.drop(`quarantine-full:${q.value.class}`, q.value);
        continue;
      }
      const victimClass = this.#evictionOrder.find((c) => this.#byClass.get(c)!.size > 0);
      if (!victimClass || this.#limits.classes[victimClass].priority > priority) return false;
      const victim = this.#byClass.get(victimClass)!.values().next().value!;
      this.#remove(victim);
      this.#drops.drop(`full:${victim.class}`, victim);
    }
    return true;
  }

  #insert(entry: Entry): void {
    this.#waiting.set(entry.id, entry);
    this.#byClass.get(entry.class)!.set(entry.id, entry);
    this.#bytes += entry.bytes;
  }

  #remove(entry: Entry): void {
    this.#waiting.delete(entry.id);
    this.#byClass.get(entry.class)!.delete(entry.id);
    this.#bytes -= entry.bytes;
  }

  #removeQuarantined(entry: QEntry): void {
    this.#quarantine.delete(entry.id);
    this.#quarantineBytes -= entry.bytes;
  }

  next(limit: number, options: NextOptions = {}): OutboxMessage[] {
    const out: OutboxMessage[] = [];
    const now = this.#clock.wallNow();
    const classes = options.classes;
    for (const entry of this.#waiting.values()) {
      if (out.length >= limit) break;
      if (entry.leased || (classes && !classes.includes(entry.class))) continue;
      if (entry.expiresAt !== null && now >= entry.expiresAt) {
        this.#remove(entry);
        this.#drops.drop(`expired:${entry.class}`, entry);
        continue;
      }
      entry.leased = true;
      out.push(publicView(entry));
    }
    return out;
  }

  ack(ids: readonly string[]): void {
    for (const id of ids) {
      const entry = this.#waiting.get(id);
      if (entry) this.#remove(entry);
    }
  }

  failed(id: string, _reason: string): number {
    const entry = this.#waiting.get(id);
    if (!entry) return 0;
    entry.leased = false;
    return ++entry.attempts;
  }

  quarantine(id: string, reason: string): void {
    const entry = this.#waiting.get(id);
    if (!entry) return;
    this.#remove(entry);
    const q: QEntry = { ...publicView(entry), reason, quarantinedAt: this.#clock.wallNow(), bytes: entry.bytes };
    this.#quarantine.set(id, q);
    this.#quarantineBytes += q.bytes;
    while (this.#quarantine.size > this.#limits.maxQuarantined) {
      const oldest = this.#quarantine.values().next().value!;
      this.#removeQuarantined(oldest);
      this.#drops.drop(`quarantine-full:${oldest.class}`, oldest);
    }
  }

  listQuarantine(options: { limit?: number; offset?: number } = {}): QuarantinedMessage[] {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? 100;
    return [...this.#quarantine.values()].slice(offset, offset + limit).map(({ bytes: _b, ...q }) => q);
  }

  retryQuarantined(ids?: readonly string[]): number {
    const chosen = ids ? ids.map((id) => this.#quarantine.get(id)).filter((q) => q !== undefined) : [...this.#quarantine.values()];
    let n = 0;
    for (const q of chosen) {
      this.#removeQuarantined(q);
      const ttl = this.#limits.classes[q.class].ttlMs;
      const now = this.#clock.wallNow();
      const message: NewMessage = { id: q.id, station: q.station, class: q.class, topic: q.topic, payload: q.payload };
      if (!this.#makeRoom(message, q.bytes)) {
        this.#drops.drop(`full:${q.class}`, q);
        continue;
      }
      // A new place at the end of its station's order, a fresh time to live and attempt count.
      this.#insert({ ...message, seq: ++this.#seq, addedAt: q.addedAt, expiresAt: ttl > 0 ? now + ttl : null, attempts: 0, bytes: q.bytes, leased: false });
      n++;
    }
    return n;
  }

  purgeQuarantined(ids?: readonly string[]): number {
    const chosen = ids ? ids.map((id) => this.#quarantine.get(id)).filter((q) => q !== undefined) : [...this.#quarantine.values()];
    for (const q of chosen) this.#removeQuarantined(q);
    return chosen.length;
  }

  stats(): OutboxStats {
    const oldest = this.#waiting.values().next();
    return {
      depth: this.#waiting.size,
      bytes: this.#bytes + this.#quarantineBytes,
      oldestAgeMs: oldest.done ? 0 : Math.max(0, this.#clock.wallNow() - oldest.value.addedAt),
      dropped: { ...this.#drops.counts },
      quarantined: this.#quarantine.size,
      maxMessages: this.#limits.maxMessages,
      maxBytes: this.#limits.maxBytes,
    };
  }

  close(): void {
    this.#drops.close();
  }
}

function publicView(entry: Entry): OutboxMessage {
  return {
    id: entry.id,
    station: entry.station,
    class: entry.class,
    topic: entry.topic,
    payload: entry.payload,
    seq: entry.seq,
    addedAt: entry.addedAt,
    expiresAt: entry.expiresAt,
    attempts: entry.attempts,
  };
}
