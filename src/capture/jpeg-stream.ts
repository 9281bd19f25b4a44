// Splits a byte stream of concatenated JPEGs (ffmpeg image2pipe, GStreamer jpegenc ! fdsink,
// the parts of an MJPEG HTTP stream) into whole images. It walks the JPEG marker structure
// rather than searching for FFD9, so an FFD9 inside a segment (EXIF thumbnail, ICC data)
// does not cut a frame; garbage and truncated frames are skipped and counted. A frame that
// grows past maxFrameBytes (a camera sending an endless frame, a hostile stream) is dropped and
// counted, and the splitter looks for the next SOI: it never holds much more than the cap.

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
/** SOI and the first byte of the marker that always follows it. */
const SOI_MARKER = Buffer.from([0xff, SOI, 0xff]);

/** APPn and COM segments carry arbitrary data (EXIF thumbnails, ICC profiles), SOIs included. */
function isAppOrComment(marker: number): boolean {
  return (marker >= 0xe0 && marker <= 0xef) || marker === 0xfe;
}

export interface JpegSplitterOptions {
  /** Larger frames are dropped and counted in `tooLarge` (default 32 MiB: a 20 MP JPEG at high quality). */
  maxFrameBytes?: number;
}

export const defaultMaxFrameBytes = 32 * 1024 * 1024;

/** A source's `maxFrameMB` in bytes; configs built in code (not through the schema) may lack it. */
export function maxFrameBytes(maxFrameMB: number | undefined): number {
  return maxFrameMB === undefined ? defaultMaxFrameBytes : maxFrameMB * 1024 * 1024;
}

export class JpegSplitter {
  readonly #max: number;
  #buf: Buffer = Buffer.alloc(0);
  /** Backing store of #buf, with spare capacity. */
  #store: Buffer = Buffer.alloc(0);
  /** Where the current frame starts in #buf, or -1 while looking for SOI. */
  #start = -1;
  /** Where parsing resumes. */
  #pos = 0;
  /** Inside entropy-coded data after SOS. */
  #inScan = false;
  #corrupt = 0;
  #tooLarge = 0;

  constructor(options: JpegSplitterOptions = {}) {
    this.#max = options.maxFrameBytes ?? defaultMaxFrameBytes;
  }

  /** Frames dropped because they were malformed or truncated. */
  get corrupt(): number {
    return this.#corrupt;
  }

  /** Frames dropped because they grew past maxFrameBytes. */
  get tooLarge(): number {
    return this.#tooLarge;
  }

  get maxFrameBytes(): number {
    return this.#max;
  }

  /** Bytes of memory the splitter holds (its buffer's capacity). */
  get held(): number {
    return this.#store.length;
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.#start < 0 ? 0 : this.#buf.length - this.#start;
  }

  /** Drops a partial frame (the stream broke); counts it if one was in progress. */
  reset(): void {
    if (this.#start >= 0 && this.#buf.length - this.#start > 0) this.#corrupt++;
    this.#buf = Buffer.alloc(0);
    this.#start = -1;
    this.#pos = 0;
    this.#inScan = false;
  }

  /** Feeds bytes; returns the JPEGs completed by them, each in its own buffer. */
  push(chunk: Uint8Array): Buffer[] {
    this.#append(chunk);
    const out: Buffer[] = [];
    for (;;) {
      const frame = this.#next();
      if (frame === undefined) break;
      out.push(frame);
    }
    // Keep memory bounded to the frame in progress.
    if (this.#start > 0) this.#discard(this.#start);
    else if (this.#start < 0 && this.#buf.length > 1) this.#discard(this.#buf.length - 1);
    if (this.pending > this.#max) this.#dropOversized();
    return out;
  }

  /**
   * The frame in progress passed the cap: drop it, give its memory back, and look for the next
   * SOI in what follows (the rest of an oversized frame's scan holds none).
   */
  #dropOversized(): void {
    this.#tooLarge++;
    this.#store = Buffer.alloc(0);
    this.#buf = this.#store;
    this.#start = -1;
    this.#pos = 0;
    this.#inScan = false;
  }

  /**
   * Appends into spare capacity (doubling when full): a large frame arriving in many small
   * chunks costs linear time, not a concatenation per chunk.
   */
  #append(chunk: Uint8Array): void {
    const len = this.#buf.length;
    const need = len + chunk.length;
    if (need > this.#store.length) {
      // Doubling stops near the cap: a frame that outgrows it is dropped, so more is never needed.
      const grown = Buffer.allocUnsafeSlow(Math.max(need, Math.min(this.#store.length * 2, this.#max + 64 * 1024), 64 * 1024));
      this.#store.copy(grown, 0, 0, len);
      this.#store = grown;
    }
    this.#store.set(chunk, len);
    this.#buf = this.#store.subarray(0, need);
  }

  /** Drops the first `n` bytes (already handed out or garbage). */
  #discard(n: number): void {
    const len = this.#buf.length;
    this.#store.copyWithin(0, n, len);
    this.#buf = this.#store.subarray(0, len - n);
    this.#pos -= n;
    if (this.#start >= 0) this.#start -= n;
    if (this.#pos < 0) this.#pos = 0;
  }

  #resync(from: number): void {
    this.#corrupt++;
    this.#start = -1;
    this.#inScan = false;
    this.#pos = from;
  }

  /**
   * The frame in progress broke its own structure. Look for the next SOI from just after its
   * own, not from here: a frame cut inside a header segment declares a length that runs into
   * the next frame, and skipping it would skip that frame's SOI too.
   */
  #abandon(): void {
    this.#resync(this.#start + 2);
  }

  #next(): Buffer | undefined {
    const b = this.#buf;
    for (;;) {
      if (this.#start < 0) {
        const i = b.indexOf(0xff, this.#pos);
        if (i < 0 || i + 1 >= b.length) {
          this.#pos = Math.max(this.#pos, b.length - 1);
          return undefined;
        }
        if (b[i + 1] === SOI) {
          this.#start = i;
          this.#pos = i + 2;
          this.#inScan = false;
        } else {
          this.#pos = i + 1;
        }
        continue;
      }
      if (this.#inScan) {
        // Entropy-coded data: FF00 is a stuffed byte, FFD0-FFD7 restart markers; any other FFxx ends the scan.
        let i = this.#pos;
        for (;;) {
          i = b.indexOf(0xff, i);
          if (i < 0 || i + 1 >= b.length) {
            this.#pos = i < 0 ? b.length : i;
            return undefined;
          }
          const m = b[i + 1]!;
          if (m === 0x00 || (m >= 0xd0 && m <= 0xd7) || m === 0xff) {
            i += m === 0xff ? 1 : 2;
            continue;
          }
          break;
        }
        this.#inScan = false;
        this.#pos = i;
        continue;
      }
      // Between segments: expect a marker.
      const p = this.#pos;
      if (p + 1 >= b.length) return undefined;
      if (b[p] !== 0xff) {
        this.#abandon();
        continue;
      }
      const m = b[p + 1]!;
      if (m === 0xff) {
        this.#pos = p + 1; // fill byte
        continue;
      }
      if (m === EOI) {
        const start = this.#start;
        this.#start = -1;
        this.#pos = p + 2;
        // push() bounds a frame still arriving; one that arrived whole in a chunk is checked here.
        if (p + 2 - start > this.#max) {
          this.#tooLarge++;
          continue;
        }
        // Its own allocation (not Node's shared pool): the buffer is later moved to a worker whole.
        const frame = Buffer.allocUnsafeSlow(p + 2 - start);
        b.copy(frame, 0, start, p + 2);
        return frame;
      }
      if (m === SOI) {
        // A new image began before the last one ended: the last one was cut.
        this.#resync(p);
        continue;
      }
      if ((m >= 0xd0 && m <= 0xd7) || m === 0x01) {
        this.#pos = p + 2;
        continue;
      }
      if (p + 3 >= b.length) return undefined;
      const len = b.readUInt16BE(p + 2);
      if (len < 2) {
        this.#abandon();
        continue;
      }
      const end = p + 2 + len;
      if (!isAppOrComment(m)) {
        // Tables and frame/scan headers never hold an SOI. One here means this frame was cut inside
        // the segment and the next frame began; its length would otherwise splice the two into one.
        const soi = b.subarray(p + 2, Math.min(end + 2, b.length)).indexOf(SOI_MARKER);
        if (soi >= 0) {
          this.#resync(p + 2 + soi);
          continue;
        }
      }
      // Wait for the marker after the segment too, so the check above sees an SOI straddling its end.
      if (end + 2 > b.length) return undefined;
      this.#pos = end;
      if (m === SOS) this.#inScan = true;
    }
  }
}
