// Evidence images to S3-compatible storage, through the durable outbox: the outbox holds an
// upload job (which image, which key), never the image bytes, so an S3 or WAN outage of hours
// costs a few hundred bytes per part, survives a restart, and the jobs upload once the store is
// back. This is the outbox's second drainer, for the `evidence` class only; the cloud MQTT
// drainer takes the other classes. One upload at a time, so it never competes with the line.
import { readFile } from 'node:fs/promises';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Clock, TimerHandle } from '../clock.js';
import type { EvidenceConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Outbox, OutboxMessage } from '../publish/outbox.js';
import { redactText } from '../redact.js';
import type { EvidenceRecord } from './store.js';

export type S3Settings = NonNullable<EvidenceConfig['s3']>;

/** The outbox payload of an `evidence` message (JSON). */
export interface EvidenceUploadJob {
  v: 1;
  /** The evidence (verdict) id. */
  id: string;
  station: string;
  key: string;
  sha256: string;
  bytes: number;
  contentType: string;
}

export interface EvidenceUploaderOptions {
  outbox: Outbox;
  s3: S3Settings;
  /** Where a kept image is now; undefined once the evidence quota deleted it. */
  imagePath: (id: string) => string | undefined;
  clock: Clock;
  log: Logger;
  /** How often an empty outbox is looked at again. */
  idleMs?: number;
  /** First delay after a failed upload; doubles per failure in a row, with jitter, up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface EvidenceUploaderHealth {
  connected: boolean;
  uploaded: number;
  failed: number;
  quarantined: number;
  /** Jobs whose image the quota deleted before it could be uploaded. */
  gone: number;
  lastError: string | null;
}

/** Outbox message id of an upload job. */
export const uploadMessageId = (evidenceId: string): string => `evidence:${evidenceId}`;

/** The outbox message that uploads one saved record; its topic is the object key (it never goes to MQTT). */
export function uploadMessage(record: EvidenceRecord, key: string): { id: string; station: string; class: 'evidence'; topic: string; payload: Buffer } {
  const job: EvidenceUploadJob = { v: 1, id: record.id, station: record.station, key, sha256: record.image.sha256, bytes: record.image.bytes, contentType: record.image.contentType };
  return { id: uploadMessageId(record.id), station: record.station, class: 'evidence', topic: key, payload: Buffer.from(JSON.stringify(job)) };
}

// S3 answers that no retry can change: moved to the quarantine (with the reason) at once.
const permanentCodes = new Set(['AccessDenied', 'NoSuchBucket', 'InvalidBucketName', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'EntityTooLarge', 'InvalidArgument', 'KeyTooLongError']);

export class EvidenceUploader {
  readonly name = 'evidence-s3';
  readonly #o: EvidenceUploaderOptions;
  readonly #client: S3Client;
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #failuresInRow = 0;
  #stopped = false;
  readonly #health: EvidenceUploaderHealth = { connected: false, uploaded: 0, failed: 0, quarantined: 0, gone: 0, lastError: null };

  constructor(options: EvidenceUploaderOptions) {
    this.#o = options;
    const s = options.s3;
    this.#client = new S3Client({
      region: s.region,
      ...(s.endpoint ? { endpoint: s.endpoint } : {}),
      forcePathStyle: s.forcePathStyle,
      ...(s.accessKeyId && s.secretAccessKey ? { credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } } : {}),
      // Retries are ours (durable, with backoff); the SDK's would hold one job for seconds.
      maxAttempts: 1,
      // S3-compatible stores do not all know the newer flexible checksums; the sha256 travels as metadata.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Queues the upload of a saved record (called by the store after the files are on disk). */
  enqueue(record: EvidenceRecord): boolean {
    if (!record.objectKey) return false;
    const added = this.#o.outbox.add(uploadMessage(record, record.objectKey));
    this.#kick();
    return added;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  health(): EvidenceUploaderHealth {
    return { ...this.#health };
  }

  #kick(): void {
    if (this.#stopped || this.#running || this.#failuresInRow > 0) return;
    this.#timer?.cancel();
    this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimer(ms, () => {
      this.#timer = undefined;
      this.#running = this.#round().finally(() => (this.#running = undefined));
    });
  }

  /** Uploads what is waiting, one at a time, until empty or an upload fails (then backs off). */
  async #round(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      const [msg] = this.#o.outbox.next(1, { classes: ['evidence'] });
      if (!msg) {
        this.#schedule(this.#o.idleMs ?? 1000);
        return;
      }
      if (msg.class !== 'evidence') {
        // An outbox that ignores the class filter: hand it back for its own drainer.
        this.#o.outbox.failed(msg.id, 'not an evidence message');
        this.#o.log.error({ id: msg.id, class: msg.class }, 'outbox gave the evidence uploader a message of another class (NextOptions.classes not implemented?)');
        this.#schedule(this.#o.idleMs ?? 1000);
        return;
      }
      const ok = await this.#upload(msg);
      if (!ok) {
        const base = this.#o.backoffMs ?? 1000;
        const delay = Math.min(this.#o.maxBackoffMs ?? 60_000, base * 2 ** Math.min(this.#failuresInRow - 1, 16));
        this.#schedule(delay / 2 + Math.random() * (delay / 2));
        return;
      }
    }
  }

  /** True when the job is done with (uploaded, gone or quarantined); false on a transient failure. */
  async #upload(msg: OutboxMessage): Promise<boolean> {
    const { outbox, s3, log } = this.#o;
    let job: EvidenceUploadJob;
    try {
      job = JSON.parse(msg.payload.toString('utf8')) as EvidenceUploadJob;
      if (job.v !== 1 || typeof job.id !== 'string' || typeof job.key !== 'string') throw new Error('not a version 1 upload job');
    } catch (err) {
      this.#health.quarantined++;
      outbox.quarantine(msg.id, `unreadable upload job: ${(err as Error).message}`);
      return true;
    }
    const path = this.#o.imagePath(job.id);
    let body: Buffer | undefined;
    try {
      body = path ? await readFile(path) : undefined;
    } catch {
      body = undefined;
    }
    if (!body) {
      // The quota (or age) deleted the image before the WAN came back: nothing left to send.
      this.#health.gone++;
      log.warn({ id: job.id, key: job.key }, 'evidence image deleted before upload (quota or age); upload dropped');
      outbox.ack([msg.id]);
      return true;
    }
    const abort = (this.#abort = new AbortController());
    const timer = this.#o.clock.setTimer(s3.timeoutMs, () => abort.abort(new Error(`no answer within ${s3.timeoutMs} ms`)));
    try {
      await this.#client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: job.key, Body: body, ContentType: job.contentType, Metadata: { sha256: job.sha256, station: job.station, 'verdict-id': job.id } }),
        { abortSignal: abort.signal },
      );
    } catch (err) {
      const code = (err as { name?: string; Code?: string }).name ?? 'Error';
      const reason = redactText(new LinesightError('LS_ERR_EVIDENCE_UPLOAD', `${code}: ${(err as Error).message}`, { args: [s3.bucket] }).message);
      this.#health.failed++;
      this.#health.lastError = reason;
      if (permanentCodes.has(code)) {
        this.#health.quarantined++;
        outbox.quarantine(msg.id, reason);
        log.error({ id: job.id, key: job.key, reason }, 'evidence upload refused; quarantined');
        return true;
      }
      this.#health.connected = false;
      this.#failuresInRow++;
      const attempts = outbox.failed(msg.id, reason);
      if (attempts >= s3.maxAttempts) {
        this.#health.quarantined++;
        outbox.quarantine(msg.id, `${reason} (after ${attempts} attempts)`);
      }
      if (this.#failuresInRow === 1) log.warn({ id: job.id, key: job.key, reason, attempts }, 'evidence upload failed; retrying with backoff');
      return false;
    } finally {
      timer.cancel();
      this.#abort = undefined;
    }
    outbox.ack([msg.id]);
    if (this.#failuresInRow > 0) log.info({ afterFailures: this.#failuresInRow }, 'evidence uploads resumed');
    this.#failuresInRow = 0;
    this.#health.connected = true;
    this.#health.uploaded++;
    return true;
  }

  /** Stops taking jobs; an upload in flight is given `timeoutMs`, then aborted (it stays in the outbox). Idempotent. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    const running = this.#running;
    if (running) {
      const t = this.#o.clock.setTimer(timeoutMs, () => this.#abort?.abort(new Error('shutting down')));
      await running.catch(() => undefined);
      t.cancel();
    }
    this.#client.destroy();
  }
}
