// The outbox on disk, in SQLite (WAL). A message whose add() returned is in the database file:
// it survives a process kill (the WAL write happened). Power cuts, by `synchronous`:
// - background (default): the WAL is fsynced right after each commit on libuv's thread pool
//   (wal-sync.ts) and checkpoints run in a worker thread, so the event loop never waits for the
//   disk; a power cut loses at most the commits of the last few milliseconds.
// - full: fsynced inside add(), on the event loop (4 to 14 ms per message on this box's disk).
// - normal: fsynced only at checkpoints.
// One row per message; `seq` (the
// rowid, AUTOINCREMENT so it never goes back) is the delivery order. Leases (what is in flight)
// live in memory only: after a restart everything is sent again, which is what at-least-once
// means; ids let the cloud side drop the duplicates.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database, { type Database as SqliteDb } from 'better-sqlite3';
import { systemClock, type Clock } from '../clock.js';
import { LinesightError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { MessageClass, NewMessage, NextOptions, Outbox, OutboxMessage, OutboxStats, QuarantinedMessage } from './outbox.js';
import { OutboxCheckpointer } from './outbox-checkpointer.js';
import { WalSync, type WalSyncStats } from './wal-sync.js';
import { DropCounter, messageBytes, messageClasses, resolveLimits, type OutboxLimits, type OutboxOptions } from './outbox-policy.js';

export type OutboxSynchronous = 'background' | 'full' | 'normal';

export interface SqliteOutboxOptions extends OutboxOptions {
  path: string;
  /** See the top of this file; default `background`. */
  synchronous?: OutboxSynchronous;
  /** Background mode: how often the worker thread checkpoints the WAL (default 1000 ms). */
  checkpointIntervalMs?: number;
}

interface Row {
  seq: number;
  id: string;
  station: string;
  class: MessageClass;
  topic: string;
  payload: Buffer;
  bytes: number;
  added_at: number;
  expires_at: number | null;
  attempts: number;
}

interface QRow extends Row {
  reason: string;
  quarantined_at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  station TEXT NOT NULL,
  class TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  bytes INTEGER NOT NULL,
  added_at INTEGER NOT NULL,
  expires_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_class ON messages (class, seq);
CREATE TABLE IF NOT EXISTS quarantine (
  qseq INTEGER PRIMARY KEY AUTOINCREMENT,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  station TEXT NOT NULL,
  class TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  bytes INTEGER NOT NULL,
  added_at INTEGER NOT NULL,
  expires_at INTEGER,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  quarantined_at INTEGER NOT NULL
);
`;

export class SqliteOutbox implements Outbox {
  readonly path: string;
  readonly #limits: OutboxLimits;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #drops: DropCounter;
  readonly #db: SqliteDb;
  readonly #evictionOrder: MessageClass[];
  readonly #leased = new Set<string>();
  #depth = 0;
  #bytes = 0;
  #quarantined = 0;
  #quarantineBytes = 0;
  #closed = false;
  readonly #walSync: WalSync | undefined;
  readonly #checkpointer: OutboxCheckpointer | undefined;
  readonly #sql: ReturnType<SqliteOutbox['prepare']>;
  readonly #addTx: (message: NewMessage) => boolean;

  /** Opens (creating if needed) the outbox file; throws LS_ERR_OUTBOX_OPEN naming the file and SQLite's reason. */
  constructor(options: SqliteOutboxOptions) {
    this.path = options.path;
    this.#limits = resolveLimits(options.limits);
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log;
    this.#drops = new DropCounter(this.#clock, options.log);
    this.#evictionOrder = [...messageClasses].sort((a, b) => this.#limits.classes[a].priority - this.#limits.classes[b].priority);
    let db: SqliteDb | undefined;
    try {
      mkdirSync(dirname(options.path), { recursive: true });
      db = new Database(options.path, { timeout: 5000 });
      db.pragma('journal_mode = WAL');
      const mode = options.synchronous ?? 'background';
      db.pragma(`synchronous = ${mode === 'full' ? 'FULL' : 'NORMAL'}`);
      db.exec(SCHEMA);
      this.#db = db;
      this.#sql = this.prepare();
      this.#addTx = db.transaction((message: NewMessage) => this.#addInTx(message));
      this.#recount();
      if (mode === 'background') {
        // The worker keeps the WAL short; this connection checkpoints itself only if the worker
        // fell far behind (40 MB of WAL), so the file stays bounded even then.
        db.pragma('wal_autocheckpoint = 10000');
        // SQLite reuses the WAL file after a checkpoint instead of shrinking it; past a burst this
        // gives the disk space back when the log restarts.
        db.pragma('journal_size_limit = 4194304');
        this.#walSync = new WalSync(`${options.path}-wal`, { onError: (err) => this.#syncError(err) });
        this.#checkpointer = new OutboxCheckpointer(options.path, {
          intervalMs: options.checkpointIntervalMs,
          onError: (message) => this.#log?.warn({ err: message, path: this.path }, 'cloud outbox checkpoint failed; the main thread checkpoints instead'),
        });
      }
    } catch (err) {
      try {
        this.#walSync?.close();
        db?.close();
      } catch {
        // Already failing; the open error is the one to report.
      }
      const { message } = describeError(err);
      throw new LinesightError('LS_ERR_OUTBOX_OPEN', `${message} (move the file aside to start with an empty outbox)`, { args: [options.path], cause: err });
    }
  }

  private prepare() {
    const db = this.#db;
    const cols = 'seq, id, station, class, topic, payload, bytes, added_at, expires_at, attempts';
    return {
      totals: db.prepare('SELECT count(*) AS n, sum(bytes) AS b FROM messages'),
      qtotals: db.prepare('SELECT count(*) AS n, sum(bytes) AS b FROM quarantine'),
      known: db.prepare<[string, string]>('SELECT 1 FROM messages WHERE id = ? UNION ALL SELECT 1 FROM quarantine WHERE id = ?'),
      insert: db.prepare<[string, string, string, string, Buffer, number, number, number | null]>(
        'INSERT INTO messages (id, station, class, topic, payload, bytes, added_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      oldestOfClass: db.prepare<[string]>(`SELECT ${cols} FROM messages WHERE class = ? ORDER BY seq LIMIT 1`),
      head: db.prepare<[number]>(`SELECT ${cols} FROM messages ORDER BY seq LIMIT ?`),
      oldest: db.prepare('SELECT added_at FROM messages ORDER BY seq LIMIT 1'),
      get: db.prepare<[string]>(`SELECT ${cols} FROM messages WHERE id = ?`),
      delete: db.prepare<[string]>('DELETE FROM messages WHERE id = ?'),
      bumpAttempts: db.prepare<[string]>('UPDATE messages SET attempts = attempts + 1 WHERE id = ? RETURNING attempts'),
      toQuarantine: db.prepare<[string, number, string]>(
        `INSERT INTO quarantine (${cols}, reason, quarantined_at) SELECT ${cols}, ?, ? FROM messages WHERE id = ?`,
      ),
      qOldest: db.prepare(`SELECT * FROM quarantine ORDER BY qseq LIMIT 1`),
      qList: db.prepare<[number, number]>(`SELECT * FROM quarantine ORDER BY qseq LIMIT ? OFFSET ?`),
      qAll: db.prepare(`SELECT * FROM quarantine ORDER BY qseq`),
      qGet: db.prepare<[string]>(`SELECT * FROM quarantine WHERE id = ?`),
      qDelete: db.prepare<[string]>('DELETE FROM quarantine WHERE id = ?'),
    };
  }

  add(message: NewMessage): boolean {
    if (this.#closed) return false;
    try {
      const kept = this.#addTx(message);
      this.#walSync?.committed();
      return kept;
    } catch (err) {
      // Disk full, I/O error: inspection goes on; the loss is counted and logged, never thrown.
      this.#storeError(err, message);
      return false;
    }
  }

  #addInTx(message: NewMessage): boolean {
    if (this.#sql.known.get(message.id, message.id)) return true;
    const bytes = messageBytes(message);
    if (bytes > this.#limits.maxBytes) {
      this.#drops.drop(`oversize:${message.class}`, message);
      return false;
    }
    if (!this.#makeRoom(message.class, bytes)) {
      this.#drops.drop(`full:${message.class}`, message);
      return false;
    }
    const now = this.#clock.wallNow();
    const ttl = this.#limits.classes[message.class].ttlMs;
    this.#sql.insert.run(message.id, message.station, message.class, message.topic, message.payload, bytes, now, ttl > 0 ? now + ttl : null);
    this.#depth++;
    this.#bytes += bytes;
    return true;
  }

  #makeRoom(cls: MessageClass, bytes: number): boolean {
    const priority = this.#limits.classes[cls].priority;
    while (this.#depth + 1 > this.#limits.maxMessages || this.#bytes + this.#quarantineBytes + bytes > this.#limits.maxBytes) {
      if (this.#quarantined > 0 && this.#bytes + this.#quarantineBytes + bytes > this.#limits.maxBytes) {
        const q = this.#sql.qOldest.get() as QRow;
        this.#deleteQuarantined(q);
        this.#drops.drop(`quarantine-full:${q.class}`, q);
        continue;
      }
      let victim: Row | undefined;
      for (const c of this.#evictionOrder) {
        if (this.#limits.classes[c].priority > priority) break;
        victim = this.#sql.oldestOfClass.get(c) as Row | undefined;
        if (victim) break;
      }
      if (!victim) return false;
      this.#deleteWaiting(victim);
      this.#drops.drop(`full:${victim.class}`, victim);
    }
    return true;
  }

  #deleteWaiting(row: { id: string; bytes: number }): void {
    if (this.#sql.delete.run(row.id).changes === 0) return;
    this.#depth--;
    this.#bytes -= row.bytes;
    this.#leased.delete(row.id);
  }

  #deleteQuarantined(row: { id: string; bytes: number }): void {
    if (this.#sql.qDelete.run(row.id).changes === 0) return;
    this.#quarantined--;
    this.#quarantineBytes -= row.bytes;
  }

  /** The counters from the tables: at open, and after a transaction rolled back. */
  #recount(): void {
    const m = this.#sql.totals.get() as { n: number; b: number | null };
    const q = this.#sql.qtotals.get() as { n: number; b: number | null };
    this.#depth = m.n;
    this.#bytes = m.b ?? 0;
    this.#quarantined = q.n;
    this.#quarantineBytes = q.b ?? 0;
  }

  #storeError(err: unknown, message: { id: string; station: string; class: MessageClass }): void {
    this.#drops.drop(`store-error:${message.class}`, message);
    try {
      this.#recount();
    } catch {
      // The database is failing; the counters stay as they were until it recovers.
    }
    this.#log?.error({ err: new LinesightError('LS_ERR_OUTBOX_WRITE', describeError(err).message, { cause: err }), path: this.path }, 'cloud outbox write failed');
  }

  next(limit: number, options: NextOptions = {}): OutboxMessage[] {
    if (this.#closed || limit <= 0) return [];
    const out: OutboxMessage[] = [];
    const now = this.#clock.wallNow();
    const expired: Row[] = [];
    const classes = options.classes;
    // Leased messages are at or near the head; ask for enough rows to get past them. With a class
    // filter the rows of other classes are skipped too: scan lazily (LIMIT -1) until the page is full.
    for (const r of this.#sql.head.iterate(classes ? -1 : limit + this.#leased.size) as IterableIterator<Row>) {
      if (out.length >= limit) break;
      if (this.#leased.has(r.id) || (classes && !classes.includes(r.class as MessageClass))) continue;
      if (r.expires_at !== null && now >= r.expires_at) {
        expired.push(r);
        continue;
      }
      this.#leased.add(r.id);
      out.push(toMessage(r));
    }
    if (expired.length > 0) {
      this.#db.transaction(() => {
        for (const r of expired) {
          this.#deleteWaiting(r);
          this.#drops.drop(`expired:${r.class}`, r);
        }
      })();
      this.#walSync?.committed();
      // The expired rows took places in this page; fill them.
      if (out.length < limit) out.push(...this.next(limit - out.length, options));
    }
    return out;
  }

  ack(ids: readonly string[]): void {
    if (this.#closed || ids.length === 0) return;
    // One transaction (one fsync) per batch of acknowledgements.
    this.#db.transaction(() => {
      for (const id of ids) {
        const row = this.#sql.get.get(id) as Row | undefined;
        if (row) this.#deleteWaiting(row);
        this.#leased.delete(id);
      }
    })();
    this.#walSync?.committed();
  }

  failed(id: string, _reason: string): number {
    if (this.#closed) return 0;
    this.#leased.delete(id);
    const row = this.#sql.bumpAttempts.get(id) as { attempts: number } | undefined;
    this.#walSync?.committed();
    return row?.attempts ?? 0;
  }

  quarantine(id: string, reason: string): void {
    if (this.#closed) return;
    this.#db.transaction(() => {
      const row = this.#sql.get.get(id) as Row | undefined;
      if (!row) return;
      this.#sql.toQuarantine.run(reason.slice(0, 500), this.#clock.wallNow(), id);
      this.#deleteWaiting(row);
      this.#quarantined++;
      this.#quarantineBytes += row.bytes;
      while (this.#quarantined > this.#limits.maxQuarantined) {
        const q = this.#sql.qOldest.get() as QRow;
        this.#deleteQuarantined(q);
        this.#drops.drop(`quarantine-full:${q.class}`, q);
      }
    })();
    this.#walSync?.committed();
  }

  listQuarantine(options: { limit?: number; offset?: number } = {}): QuarantinedMessage[] {
    if (this.#closed) return [];
    const rows = this.#sql.qList.all(options.limit ?? 100, options.offset ?? 0) as QRow[];
    return rows.map((r) => ({ ...toMessage(r), reason: r.reason, quarantinedAt: r.quarantined_at }));
  }

  #chosen(ids?: readonly string[]): QRow[] {
    if (!ids) return this.#sql.qAll.all() as QRow[];
    return ids.map((id) => this.#sql.qGet.get(id) as QRow | undefined).filter((r) => r !== undefined);
  }

  retryQuarantined(ids?: readonly string[]): number {
    if (this.#closed) return 0;
    const retried = this.#db.transaction(() => {
      let n = 0;
      for (const q of this.#chosen(ids)) {
        this.#deleteQuarantined(q);
        if (!this.#makeRoom(q.class, q.bytes)) {
          this.#drops.drop(`full:${q.class}`, q);
          continue;
        }
        const ttl = this.#limits.classes[q.class].ttlMs;
        const now = this.#clock.wallNow();
        // A new seq: the end of its station's order, a fresh time to live and attempt count.
        this.#sql.insert.run(q.id, q.station, q.class, q.topic, q.payload, q.bytes, q.added_at, ttl > 0 ? now + ttl : null);
        this.#depth++;
        this.#bytes += q.bytes;
        n++;
      }
      return n;
    })();
    this.#walSync?.committed();
    return retried;
  }

  purgeQuarantined(ids?: readonly string[]): number {
    if (this.#closed) return 0;
    const purged = this.#db.transaction(() => {
      const rows = this.#chosen(ids);
      for (const q of rows) this.#deleteQuarantined(q);
      return rows.length;
    })();
    this.#walSync?.committed();
    return purged;
  }

  stats(): OutboxStats {
    const oldest = this.#closed ? undefined : (this.#sql.oldest.get() as { added_at: number } | undefined);
    return {
      depth: this.#depth,
      bytes: this.#bytes + this.#quarantineBytes,
      oldestAgeMs: oldest ? Math.max(0, this.#clock.wallNow() - oldest.added_at) : 0,
      dropped: { ...this.#drops.counts },
      quarantined: this.#quarantined,
      maxMessages: this.#limits.maxMessages,
      maxBytes: this.#limits.maxBytes,
    };
  }

  /** Resolves when every write so far is on disk (background mode; at once in the others, where add() returns only then or never promises it). */
  durable(): Promise<void> {
    return this.#walSync?.durable() ?? Promise.resolve();
  }

  /** Background mode: the WAL syncs and worker checkpoints so far (null in the other modes). */
  syncStats(): (WalSyncStats & { checkpoints: number }) | null {
    return this.#walSync ? { ...this.#walSync.stats(), checkpoints: this.#checkpointer?.checkpoints ?? 0 } : null;
  }

  #syncError(err: Error): void {
    this.#log?.error({ err: new LinesightError('LS_ERR_OUTBOX_WRITE', `fsync of the outbox WAL failed: ${err.message}`, { cause: err }), path: this.path }, 'cloud outbox write failed');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#drops.close();
    // The worker's connection goes first (asynchronously); SQLite's locks keep both safe meanwhile.
    void this.#checkpointer?.close();
    this.#walSync?.close();
    this.#db.close();
  }
}

function toMessage(r: Row): OutboxMessage {
  return {
    id: r.id,
    station: r.station,
    class: r.class,
    topic: r.topic,
    payload: r.payload,
    seq: r.seq,
    addedAt: r.added_at,
    expiresAt: r.expires_at,
    attempts: r.attempts,
  };
}
