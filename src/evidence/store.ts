// Evidence on disk: the image of a kept part (fails, parts near a threshold, sampled passes) with
// its verdict JSON and the image's sha256, bounded by a quota in bytes, a file count and an age,
// oldest deleted first. Inspection never waits for it: offer() only queues (a bounded queue;
// when the disk is slow or full the part's evidence is skipped and counted), and one writer
// encodes and writes in the background.
//
// On disk, per part: `<id>.jpg` and `<id>.json` (the record; written last, by rename, so a
// record always names a complete image). The store touches no other file in its directory: its
// index is rebuilt at start from the records, and only files it indexed are ever deleted.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitAtMost, type Clock, type TimerHandle } from '../clock.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { QueueReport, QueueReporter } from '../queues.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import type { FrameImage } from '../capture/frame.js';
import type { Verdict, VerdictKind } from '../verdict.js';
import { chooseEvidence, type EvidencePolicy, type EvidenceReason, type ThresholdRule } from './select.js';

/** Evidence ids are verdict ids (`<line>.<camera>.<run>.<seq>`): no slash, no leading dot. */
export const evidenceIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

const tmpSuffix = '.evidence-tmp';
const recordKind = 'linesight-evidence';

/** The record written next to each image: versioned, like the MQTT payloads. */
export interface EvidenceRecord {
  kind: typeof recordKind;
  version: 1;
  id: string;
  line: string;
  station: string;
  reason: EvidenceReason;
  nearThreshold: boolean;
  verdict: Verdict;
  image: { file: string; contentType: 'image/jpeg'; bytes: number; sha256: string };
  /** Object key in S3-compatible storage, when uploads are configured. */
  objectKey?: string;
  savedAt: string;
}

/** What the index keeps per part (the list API's items); the full record stays on disk. */
export interface EvidenceEntry {
  id: string;
  station: string;
  verdict: VerdictKind;
  reason: EvidenceReason;
  nearThreshold: boolean;
  label: string | null;
  score: number | null;
  decidedAt: string;
  savedAt: string;
  sha256: string;
  imageBytes: number;
  objectKey?: string;
  /** Bytes on disk (image and record). */
  bytes: number;
  savedAtWall: number;
}

export interface DecidedPart {
  verdict: Verdict;
  /** The frame of the part (a copy the store may keep); absent when the station kept none. */
  image: FrameImage | undefined;
  rule: ThresholdRule;
}

export interface EvidenceRef {
  id: string;
  objectKey?: string;
}

export interface StationEvidencePolicy extends EvidencePolicy {
  enabled: boolean;
}

export interface EvidenceStoreOptions {
  directory: string;
  quotaBytes: number;
  maxAgeMs: number;
  maxFiles: number;
  /** Parts waiting to be written; beyond this a part's evidence is skipped and counted. */
  maxQueue: number;
  jpegQuality: number;
  policy: (station: string) => StationEvidencePolicy;
  /** Object key for uploads; absent: no uploads. */
  objectKey?: ((v: Verdict) => string) | undefined;
  /** Told after each record is on disk (queues its upload). */
  onSaved?: ((record: EvidenceRecord, path: string) => void) | undefined;
  clock: Clock;
  log: Logger;
  random?: () => number;
}

export type EvidenceSkipReason = 'full' | 'no-image' | 'encode-error' | 'write-error' | 'too-large' | 'shutdown';

export interface EvidenceStats {
  files: number;
  bytes: number;
  quotaBytes: number;
  saved: number;
  queued: number;
  skipped: Record<EvidenceSkipReason, number>;
  deleted: { quota: number; age: number; files: number };
}

interface Job {
  part: DecidedPart;
  reason: EvidenceReason;
  nearThreshold: boolean;
  objectKey: string | undefined;
}

// How many recent decisions ref() remembers: enough for the cloud message of a fail, built just
// after the verdict, to find its evidence; bounded so memory does not grow with parts.
const recentRefs = 1024;
// Age is checked at every write, and at least this often when nothing is written.
const pruneEveryMs = 10 * 60_000;

export class EvidenceStore implements QueueReporter {
  readonly #o: EvidenceStoreOptions;
  readonly #random: () => number;
  /** Oldest first (insertion order is save order). */
  readonly #index = new Map<string, EvidenceEntry>();
  readonly #refs = new Map<string, EvidenceRef>();
  #queue: Job[] = [];
  #writing = false;
  #idle: Promise<void> = Promise.resolve();
  #idleResolve: (() => void) | undefined;
  #bytes = 0;
  #saved = 0;
  readonly #skipped: Record<EvidenceSkipReason, number> = { full: 0, 'no-image': 0, 'encode-error': 0, 'write-error': 0, 'too-large': 0, shutdown: 0 };
  readonly #deleted = { quota: 0, age: 0, files: 0 };
  readonly #rlog: RateLimitedLog;
  #pruneTimer: TimerHandle | undefined;
  #started = false;
  #stopped = false;

  constructor(options: EvidenceStoreOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
    this.#rlog = new RateLimitedLog({ clock: options.clock });
  }

  get directory(): string {
    return this.#o.directory;
  }

  /** Creates the directory, rebuilds the index from the records there, applies quota and age. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const dir = this.#o.directory;
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new LinesightError('LS_ERR_EVIDENCE_WRITE', (err as Error).message, { args: [dir], cause: err });
    }
    const names = await readdir(dir);
    const found: EvidenceEntry[] = [];
    for (const name of names) {
      // Left by a write the process did not finish (killed, power cut).
      if (name.endsWith(tmpSuffix)) {
        await rm(join(dir, name), { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const entry = await this.#readEntry(name);
      if (entry) found.push(entry);
    }
    // Saved in the same millisecond: the order they were decided in (ids end in the part's sequence).
    const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('.') + 1)) || 0;
    found.sort((a, b) => a.savedAtWall - b.savedAtWall || a.decidedAt.localeCompare(b.decidedAt) || seqOf(a.id) - seqOf(b.id));
    for (const e of found) {
      this.#index.set(e.id, e);
      this.#bytes += e.bytes;
    }
    await this.#enforceBounds();
    this.#schedulePrune();
    this.#o.log.info({ directory: dir, files: this.#index.size, bytes: this.#bytes }, 'evidence store ready');
  }

  /** An index entry from a record file, or undefined when the file is not one of ours (or is incomplete). */
  async #readEntry(name: string): Promise<EvidenceEntry | undefined> {
    const dir = this.#o.directory;
    try {
      const st = await stat(join(dir, name));
      // A record is a few KiB; a large .json is someone else's file.
      if (!st.isFile() || st.size > 256 * 1024) return undefined;
      const r = JSON.parse(await readFile(join(dir, name), 'utf8')) as Partial<EvidenceRecord>;
      if (r.kind !== recordKind || typeof r.id !== 'string' || !evidenceIdPattern.test(r.id) || name !== `${r.id}.json` || !r.image || !r.verdict) return undefined;
      if (r.image.file !== `${r.id}.jpg`) return undefined;
      const img = await stat(join(dir, r.image.file));
      return toEntry(r as EvidenceRecord, img.size + st.size);
    } catch {
      return undefined;
    }
  }

  /**
   * A part was decided: keeps its evidence if the station's policy wants it. Synchronous and cheap
   * (called on the verdict path): it only chooses and queues. Returns what will be kept, with the
   * object key the upload will use, or undefined.
   */
  offer(part: DecidedPart): EvidenceRef | undefined {
    if (!this.#started || this.#stopped) return undefined;
    const v = part.verdict;
    const policy = this.#o.policy(v.camera);
    if (!policy.enabled) return undefined;
    const choice = chooseEvidence(v, part.rule, policy, this.#random);
    if (!choice) return undefined;
    if (!part.image || part.image.data.length === 0 || !evidenceIdPattern.test(v.id)) return this.#skip('no-image', v);
    if (this.#queue.length >= this.#o.maxQueue) return this.#skip('full', v);
    const objectKey = this.#o.objectKey?.(v);
    this.#queue.push({ part, reason: choice.reason, nearThreshold: choice.nearThreshold, objectKey });
    const ref: EvidenceRef = objectKey ? { id: v.id, objectKey } : { id: v.id };
    this.#remember(ref);
    if (!this.#writing) void this.#drain();
    return ref;
  }

  /** Resolves when every part queued so far is written (or skipped). */
  flushed(): Promise<void> {
    return this.#writing ? this.#idle : Promise.resolve();
  }

  /** The evidence chosen for a recent verdict (the last 1024), for the cloud message of a fail. */
  ref(verdictId: string): EvidenceRef | undefined {
    return this.#refs.get(verdictId);
  }

  #remember(ref: EvidenceRef): void {
    this.#refs.set(ref.id, ref);
    if (this.#refs.size > recentRefs) this.#refs.delete(this.#refs.keys().next().value!);
  }

  #skip(reason: EvidenceSkipReason, v: Verdict, err?: unknown): undefined {
    this.#skipped[reason]++;
    this.#rlog.report(`skip:${reason}`, (suppressed) =>
      this.#o.log.warn({ reason, part: v.partId, camera: v.camera, verdict: v.verdict, suppressed, ...(err ? { err } : {}) }, 'evidence skipped'),
    );
    return undefined;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    this.#idle = new Promise((r) => (this.#idleResolve = r));
    try {
      for (let job = this.#queue.shift(); job; job = this.#queue.shift()) await this.#write(job);
    } finally {
      this.#writing = false;
      this.#idleResolve?.();
    }
  }

  async #write(job: Job): Promise<void> {
    const v = job.part.verdict;
    let jpeg: Buffer;
    try {
      jpeg = await this.#jpeg(job.part.image!);
    } catch (err) {
      this.#skip('encode-error', v, err);
      return;
    }
    const sha256 = createHash('sha256').update(jpeg).digest('hex');
    const record: EvidenceRecord = {
      kind: recordKind,
      version: 1,
      id: v.id,
      line: v.line,
      station: v.camera,
      reason: job.reason,
      nearThreshold: job.nearThreshold,
      verdict: v,
      image: { file: `${v.id}.jpg`, contentType: 'image/jpeg', bytes: jpeg.length, sha256 },
      ...(job.objectKey ? { objectKey: job.objectKey } : {}),
      savedAt: new Date(this.#o.clock.wallNow()).toISOString(),
    };
    const json = Buffer.from(JSON.stringify(record, null, 2));
    const bytes = jpeg.length + json.length;
    if (bytes > this.#o.quotaBytes) {
      this.#skip('too-large', v);
      return;
    }
    const dir = this.#o.directory;
    const imagePath = join(dir, record.image.file);
    const recordPath = join(dir, `${v.id}.json`);
    try {
      await writeFile(imagePath + tmpSuffix, jpeg);
      await writeFile(recordPath + tmpSuffix, json);
      await rename(imagePath + tmpSuffix, imagePath);
      await rename(recordPath + tmpSuffix, recordPath);
    } catch (err) {
      await rm(imagePath + tmpSuffix, { force: true }).catch(() => undefined);
      await rm(recordPath + tmpSuffix, { force: true }).catch(() => undefined);
      this.#skip('write-error', v, new LinesightError('LS_ERR_EVIDENCE_WRITE', (err as Error).message, { args: [dir], cause: err }));
      return;
    }
    // A part saved twice (a re-offered verdict) replaces its entry.
    const old = this.#index.get(v.id);
    if (old) {
      this.#index.delete(v.id);
      this.#bytes -= old.bytes;
    }
    this.#index.set(v.id, toEntry(record, bytes));
    this.#bytes += bytes;
    this.#saved++;
    await this.#enforceBounds();
    // Evicted at once (a quota smaller than one part's evidence is caught above): not uploaded.
    if (this.#index.has(v.id)) this.#o.onSaved?.(record, imagePath);
  }

  async #jpeg(image: FrameImage): Promise<Buffer> {
    const data = image.data;
    // JPEG from the camera: stored as it came (no second loss), so the hash is of the camera's bytes.
    if (image.kind === 'encoded' && data[0] === 0xff && data[1] === 0xd8) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    // sharp (libvips, 7 MiB resident) loads on the main thread only when a frame needs encoding.
    const { default: sharp } = await import('sharp');
    const input =
      image.kind === 'encoded'
        ? sharp(data, { limitInputPixels: 100_000_000 })
        : sharp(data, { raw: { width: image.width, height: image.height, channels: image.format === 'gray' ? 1 : 3 } });
    return input.jpeg({ quality: this.#o.jpegQuality }).toBuffer();
  }

  /** Oldest first: past the age, then while over the quota or the file count. */
  async #enforceBounds(): Promise<void> {
    const { quotaBytes, maxAgeMs, maxFiles } = this.#o;
    const oldestAllowed = this.#o.clock.wallNow() - maxAgeMs;
    for (const e of this.#index.values()) {
      let why: 'age' | 'quota' | 'files' | undefined;
      if (e.savedAtWall < oldestAllowed) why = 'age';
      else if (this.#bytes > quotaBytes) why = 'quota';
      else if (this.#index.size > maxFiles) why = 'files';
      if (!why) break;
      await this.#delete(e);
      this.#deleted[why]++;
    }
  }

  async #delete(e: EvidenceEntry): Promise<void> {
    this.#index.delete(e.id);
    this.#bytes -= e.bytes;
    const dir = this.#o.directory;
    // The record first: an image without its record is never listed (and the space is freed next).
    await rm(join(dir, `${e.id}.json`), { force: true }).catch((err: unknown) => this.#o.log.warn({ err, id: e.id }, 'cannot delete evidence record'));
    await rm(join(dir, `${e.id}.jpg`), { force: true }).catch((err: unknown) => this.#o.log.warn({ err, id: e.id }, 'cannot delete evidence image'));
  }

  #schedulePrune(): void {
    if (this.#stopped) return;
    this.#pruneTimer = this.#o.clock.setTimer(Math.min(pruneEveryMs, this.#o.maxAgeMs), () => {
      void (this.#writing ? Promise.resolve() : this.#enforceBounds()).finally(() => this.#schedulePrune());
    });
  }

  /** Newest first; filtered by station, verdict and reason. */
  list(query: { station?: string; verdict?: VerdictKind; reason?: EvidenceReason; limit?: number; offset?: number } = {}): { total: number; items: EvidenceEntry[] } {
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    const items: EvidenceEntry[] = [];
    let total = 0;
    const all = [...this.#index.values()];
    for (let i = all.length - 1; i >= 0; i--) {
      const e = all[i]!;
      if ((query.station && e.station !== query.station) || (query.verdict && e.verdict !== query.verdict) || (query.reason && e.reason !== query.reason)) continue;
      if (total >= offset && items.length < limit) items.push(e);
      total++;
    }
    return { total, items };
  }

  /** The record of one part (read from disk); LS_ERR_EVIDENCE_ID or LS_ERR_EVIDENCE_NOT_FOUND otherwise. */
  async record(id: string): Promise<EvidenceRecord> {
    const e = this.#entry(id);
    try {
      return JSON.parse(await readFile(join(this.#o.directory, `${e.id}.json`), 'utf8')) as EvidenceRecord;
    } catch {
      throw new LinesightError('LS_ERR_EVIDENCE_NOT_FOUND', undefined, { args: [id] });
    }
  }

  /** The image bytes of one part, with its hash. */
  async image(id: string): Promise<{ data: Buffer; sha256: string; contentType: 'image/jpeg' }> {
    const e = this.#entry(id);
    try {
      return { data: await readFile(join(this.#o.directory, `${e.id}.jpg`)), sha256: e.sha256, contentType: 'image/jpeg' };
    } catch {
      // Deleted by the quota between the lookup and the read.
      throw new LinesightError('LS_ERR_EVIDENCE_NOT_FOUND', undefined, { args: [id] });
    }
  }

  /** Paths come from the index only, never from the request: an id is looked up, not joined. */
  #entry(id: string): EvidenceEntry {
    if (!evidenceIdPattern.test(id)) throw new LinesightError('LS_ERR_EVIDENCE_ID', 'expected a verdict id: letters, digits, _ . - (at most 200)');
    const e = this.#index.get(id);
    if (!e) throw new LinesightError('LS_ERR_EVIDENCE_NOT_FOUND', undefined, { args: [id] });
    return e;
  }

  /** Path of a part's image while it is kept (for the uploader); undefined once deleted. */
  imagePath(id: string): string | undefined {
    return this.#index.has(id) ? join(this.#o.directory, `${id}.jpg`) : undefined;
  }

  stats(): EvidenceStats {
    return {
      files: this.#index.size,
      bytes: this.#bytes,
      quotaBytes: this.#o.quotaBytes,
      saved: this.#saved,
      queued: this.#queue.length + (this.#writing ? 1 : 0),
      skipped: { ...this.#skipped },
      deleted: { ...this.#deleted },
    };
  }

  /** The write queue (skips by reason) and the files on disk (deletions by quota, age, count). */
  queues(): QueueReport[] {
    const { full, 'no-image': noImage, 'encode-error': encodeError, 'write-error': writeError, 'too-large': tooLarge, shutdown } = this.#skipped;
    return [
      {
        queue: 'evidence-writes',
        depth: this.#queue.length + (this.#writing ? 1 : 0),
        capacity: this.#o.maxQueue,
        dropped: { full, 'no-image': noImage, 'encode-error': encodeError, 'write-error': writeError, 'too-large': tooLarge, shutdown },
      },
      { queue: 'evidence-files', depth: this.#index.size, capacity: this.#o.maxFiles, dropped: { ...this.#deleted } },
    ];
  }

  /** Writes what is queued, for at most `timeoutMs`; what is left then is skipped (counted). Idempotent. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#pruneTimer?.cancel();
    if (this.#writing) await waitAtMost(this.#idle, timeoutMs, this.#o.clock);
    const left = this.#queue.splice(0);
    this.#skipped.shutdown += left.length;
    if (left.length) this.#o.log.warn({ skipped: left.length }, 'evidence not written before shutdown');
    this.#rlog.close();
  }
}

function toEntry(r: EvidenceRecord, bytes: number): EvidenceEntry {
  const v = r.verdict;
  return {
    id: r.id,
    station: r.station,
    verdict: v.verdict,
    reason: r.reason,
    nearThreshold: r.nearThreshold,
    label: v.label,
    score: v.score,
    decidedAt: v.decidedAt,
    savedAt: r.savedAt,
    sha256: r.image.sha256,
    imageBytes: r.image.bytes,
    ...(r.objectKey ? { objectKey: r.objectKey } : {}),
    bytes,
    savedAtWall: Date.parse(r.savedAt),
  };
}
