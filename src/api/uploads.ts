// Model archives arrive as request streams and go to a staging file, never into memory: the
// bytes are counted on the way and the upload is cut off the moment it passes the limit. A few
// uploads at a time, each holding one slot, so disk bandwidth and space stay bounded too.
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { LinesightError } from '../errors.js';
import type { QueueReport, QueueReporter } from '../queues.js';

/** Concurrent model uploads: the depth is the uploads in progress, refusals count as drops. */
export class UploadSlots implements QueueReporter {
  readonly limit: number;
  #active = 0;
  #refused = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** A release function (idempotent), or a 429 LS_ERR_UPLOAD_BUSY when all slots are taken. */
  acquire(): () => void {
    if (this.#active >= this.limit) {
      this.#refused++;
      throw new LinesightError('LS_ERR_UPLOAD_BUSY', `${this.#active} of ${this.limit} (models.maxConcurrentUploads) are in progress; retry when one has finished`);
    }
    this.#active++;
    let held = true;
    return () => {
      if (held) this.#active--;
      held = false;
    };
  }

  get active(): number {
    return this.#active;
  }

  queues(): QueueReport[] {
    return [{ queue: 'model-uploads', depth: this.#active, capacity: this.limit, dropped: { busy: this.#refused } }];
  }
}

export function tooLarge(limit: number, what: string): LinesightError {
  return new LinesightError('LS_ERR_UPLOAD_TOO_LARGE', `${what}; the limit is ${limit} bytes (models.maxUploadMB)`);
}

/**
 * Writes `body` to `file` (which must not exist), with backpressure, and resolves with its size.
 * Past `limit` bytes it stops reading and rejects with 413; the caller deletes the file and
 * answers, and the connection is closed after the answer (the rest of the body is never read).
 * The body stream is paused, not destroyed, so the answer can still be sent on its socket.
 */
export function receiveToFile(body: Readable, file: string, limit: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(file, { flags: 'wx' });
    let bytes = 0;
    let settled = false;
    const stop = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      body.pause();
      if (err) {
        out.destroy();
        // Resolve only once the file handle is closed, so the caller's delete cannot race it.
        out.once('close', () => reject(err));
      } else resolve(bytes);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit) return stop(tooLarge(limit, `the body passed ${limit} bytes`));
      if (!out.write(chunk)) body.pause();
    };
    out.on('drain', () => {
      if (!settled) body.resume();
    });
    out.on('error', (err) => stop(err));
    body.on('data', onData);
    body.once('end', () => {
      if (!settled) out.end();
    });
    out.once('finish', () => stop(undefined));
    body.once('error', (err) => stop(new LinesightError('LS_ERR_UPLOAD_ABORTED', `after ${bytes} bytes: ${err.message}`)));
    body.once('close', () => {
      if (!body.readableEnded) stop(new LinesightError('LS_ERR_UPLOAD_ABORTED', `the client went away after ${bytes} bytes`));
    });
  });
}
