// The fast path for JPEG frames: the system's libjpeg-turbo (native/jpeg, built by npm ci)
// decodes at the scale sharp's shrink-on-load would pick, and sharp resizes what is left as
// before, so the model gets the same pixels, bit for bit (test/inference/jpeg-decoder.test.ts).
//
// Why it exists: at 1280 x 1024 a camera JPEG's decode is most of a small model's CPU per part,
// and the same libjpeg decode costs less outside libvips (its bundled mozjpeg, its pipeline and
// thread hand-offs). On the bench frames, in alternating runs on a quiet host: 9.2 against 8.7 ms
// CPU per 1.3 MP frame, 45.2 against 41.5 per 12 MP frame (6-8 % less); in a worker of the
// service, decode p50 9.5-9.7 against 8.7-8.9 ms; in a busier hour of the same VM 12.1-12.8
// against 9.8. A deeper shrink than sharp's would save about 0.8 ms more but change the pixels
// (mean 1.4 levels, up to 27), and with them every score a model was validated with.
//
// What it does not take (sharp decodes those, exactly as before): CMYK and YCCK JPEGs, 12-bit
// ones, and frames with an embedded ICC profile (sharp converts them to sRGB).
import { createRequire } from 'node:module';

export interface JpegHeader {
  width: number;
  height: number;
  components: number;
  precision: number;
  colorSpace: 'gray' | 'ycc' | 'rgb' | 'cmyk' | 'ycck' | 'unknown';
  icc: boolean;
}

export interface ScaledPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 3;
}

interface Addon {
  header(bytes: Uint8Array): JpegHeader;
  decode(bytes: Uint8Array, shrink: number, done: (err: Error | null, out?: ScaledPixels) => void): void;
}

export interface JpegDecoder {
  /** The frame's header, or undefined when this decoder does not take it (sharp then decodes). */
  accepts(bytes: Uint8Array): JpegHeader | undefined;
  /** Decodes at 1/shrink of the full size (1, 2, 4 or 8); every libjpeg warning is an error. */
  decode(bytes: Uint8Array, shrink: number): Promise<ScaledPixels>;
}

export type JpegDecoderChoice = 'auto' | 'libjpeg-turbo' | 'sharp';

const isJpeg = (b: Uint8Array) => b.byteLength > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

function wrap(addon: Addon): JpegDecoder {
  return {
    accepts(bytes) {
      if (!isJpeg(bytes)) return undefined;
      let h: JpegHeader;
      try {
        h = addon.header(bytes);
      } catch {
        // A header libjpeg cannot read goes to sharp, whose error names the problem as before.
        return undefined;
      }
      const colour = h.colorSpace === 'ycc' || h.colorSpace === 'gray' || h.colorSpace === 'rgb';
      return colour && h.precision === 8 && !h.icc && h.width > 0 && h.height > 0 ? h : undefined;
    },
    decode(bytes, shrink) {
      return new Promise((resolve, reject) => addon.decode(bytes, shrink, (err, out) => (err ? reject(err) : resolve(out!))));
    },
  };
}

let loaded: { decoder: JpegDecoder } | { why: string } | undefined;

/** The libjpeg-turbo decoder, or why it is not there (not built: no libjpeg headers at npm ci). */
export function loadJpegDecoder(): { decoder: JpegDecoder } | { why: string } {
  if (!loaded) {
    try {
      loaded = { decoder: wrap(createRequire(import.meta.url)('@linesight/jpeg') as Addon) };
    } catch (err) {
      loaded = { why: (err as Error).message.split('\n')[0]! };
    }
  }
  return loaded;
}

/** The libjpeg-turbo decoder where it was built, else undefined (the caller decodes with sharp). */
export function builtJpegDecoder(): JpegDecoder | undefined {
  const loaded = loadJpegDecoder();
  return 'decoder' in loaded ? loaded.decoder : undefined;
}

/**
 * The DCT shrink (1, 2, 4 or 8) sharp 0.34 picks for a JPEG resized by `factor` (source over
 * target on the axis that shrinks least: src/pipeline.cc, fastShrinkOnLoad): the largest power
 * of two the factor reaches, halved when the factor's whole part is exactly that power (sharp's
 * guard against libjpeg's rounding of scaled sizes).
 */
export function sharpShrinkOnLoad(factor: number): number {
  let k = factor >= 8 ? 8 : factor >= 4 ? 4 : factor >= 2 ? 2 : 1;
  if (k > 1 && Math.floor(factor) === k) k /= 2;
  return k;
}
