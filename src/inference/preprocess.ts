// Decode a frame and turn it into the model's input tensor, as the manifest says: resize mode,
// colour order, layout, normalisation. Runs inside a worker thread; pixels are read once.
// JPEG frames go through libjpeg-turbo's scaled decode when the worker has it (jpeg-decoder.ts),
// everything else (and JPEGs it does not take) through sharp alone.
import sharp from 'sharp';
import { LinesightError } from '../errors.js';
import type { FrameImage } from '../capture/frame.js';
import { inputGeometry } from '../models/input-geometry.js';
import type { InputSpec } from '../models/manifest.js';
import { sharpShrinkOnLoad, type JpegDecoder, type JpegHeader } from './jpeg-decoder.js';
import { defaultMaxImagePixels } from './messages.js';

export interface Tensor {
  data: Float32Array | Uint8Array;
}

export interface DecodeLimits {
  /** Images with more pixels than this are refused from their header, before any decoding. */
  maxPixels: number;
  /** The scaled JPEG decoder; without it sharp decodes JPEGs at the size its shrink-on-load picks. */
  jpeg?: JpegDecoder;
}

interface Size {
  width: number;
  height: number;
}

const mp = (pixels: number): string => `${Math.round(pixels / 1e5) / 10} MP`;

function tooLarge(width: number, height: number, limits: DecodeLimits): LinesightError {
  return new LinesightError('LS_ERR_IMAGE_TOO_LARGE', `image is ${width}x${height} (${mp(width * height)}), over inference.maxImagePixels (${mp(limits.maxPixels)})`);
}

/** The image's size from its header alone (no pixels decoded); raw frames say theirs. */
async function headerSize(image: FrameImage): Promise<{ width: number; height: number }> {
  if (image.kind === 'raw') return { width: image.width, height: image.height };
  // sharp applies limitInputPixels to metadata() too, but with a message that names no size.
  const meta = await sharp(image.data, { limitInputPixels: false }).metadata();
  return { width: meta.width ?? 0, height: meta.height ?? 0 };
}

function openImage(image: FrameImage, limits: DecodeLimits): sharp.Sharp {
  // limitInputPixels is the second guard, for a header that lies about the size.
  if (image.kind === 'encoded') return sharp(image.data, { failOn: 'warning', limitInputPixels: limits.maxPixels });
  const channels = image.format === 'gray' ? 1 : 3;
  if (image.data.byteLength !== image.width * image.height * channels) {
    throw new LinesightError('LS_ERR_IMAGE_DECODE', `raw ${image.format} frame of ${image.width}x${image.height} needs ${image.width * image.height * channels} bytes, got ${image.data.byteLength}`);
  }
  // sharp reads raw pixels as RGB; BGR frames are swapped while filling the tensor instead.
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels }, limitInputPixels: limits.maxPixels });
}

/**
 * How much the resize shrinks the frame, as sharp reckons it for its shrink-on-load (common.cc
 * ResolveShrink): both axes for fill, the lesser for cover, the greater for contain.
 */
function shrinkFactor(mode: InputSpec['resize'], src: Size, target: Size): number {
  const h = src.width / target.width;
  const v = src.height / target.height;
  return mode === 'letterbox' ? Math.max(h, v) : Math.min(h, v);
}

/** A JPEG decoded by libjpeg-turbo at the DCT scale sharp would have used, handed to sharp raw. */
async function openScaled(jpeg: JpegDecoder, data: Uint8Array, factor: number): Promise<sharp.Sharp> {
  const px = await jpeg.decode(data, sharpShrinkOnLoad(factor));
  return sharp(px.data, { raw: { width: px.width, height: px.height, channels: px.channels } });
}

export async function toTensor(image: FrameImage, spec: InputSpec, limits: DecodeLimits = { maxPixels: defaultMaxImagePixels }): Promise<Tensor> {
  const { channels, height: H, width: W } = inputGeometry(spec);
  let pipeline: sharp.Sharp;
  let targetW = W;
  try {
    if (image.data.byteLength === 0) throw new LinesightError('LS_ERR_IMAGE_DECODE', 'empty image (0 bytes)');
    // A decompression bomb is refused from its header, before it inflates: raw frames and JPEGs
    // the scaled decoder takes here, other encoded ones by sharp's limitInputPixels, which reads
    // the header first (the size is only looked up for the message then, so a good frame's
    // header is parsed once, not twice).
    if (image.kind === 'raw' && image.width * image.height > limits.maxPixels) throw tooLarge(image.width, image.height, limits);
    const decoder = image.kind === 'encoded' ? limits.jpeg : undefined;
    const jpeg: JpegHeader | undefined = decoder?.accepts(image.data);
    if (jpeg && jpeg.width * jpeg.height > limits.maxPixels) throw tooLarge(jpeg.width, jpeg.height, limits);
    if (spec.resize === 'pad-right') {
      // The only mode whose output width depends on the source's aspect ratio.
      const { width, height } = jpeg ?? (await headerSize(image));
      if (!width || !height) throw new Error('image has no size');
      if (width * height > limits.maxPixels) throw tooLarge(width, height, limits);
      targetW = Math.max(1, Math.min(W, Math.ceil((H * width) / height)));
    }
    pipeline = decoder && jpeg ? await openScaled(decoder, image.data, shrinkFactor(spec.resize, jpeg, { width: targetW, height: H })) : openImage(image, limits);
    // CMYK, 16-bit and palette images end up as 8-bit sRGB (or 8-bit grey) like any camera frame.
    pipeline = channels === 1 ? pipeline.removeAlpha().grayscale() : pipeline.removeAlpha().toColourspace('srgb');
    switch (spec.resize) {
      case 'stretch':
        pipeline = pipeline.resize(W, H, { fit: 'fill' });
        break;
      case 'letterbox':
        pipeline = pipeline.resize(W, H, { fit: 'contain', background: { r: 0, g: 0, b: 0 } });
        break;
      case 'crop':
        pipeline = pipeline.resize(W, H, { fit: 'cover', position: 'centre' });
        break;
      case 'pad-right':
        pipeline = pipeline.resize(targetW, H, { fit: 'fill' });
        break;
    }
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== channels || info.width !== targetW || info.height !== H) {
      throw new Error(`decoder gave ${info.width}x${info.height}x${info.channels}, wanted ${targetW}x${H}x${channels}`);
    }
    return { data: fill(data, targetW, spec, channels, H, W, image) };
  } catch (err) {
    if (err instanceof LinesightError) throw err;
    const message = (err as Error).message;
    if (/exceeds pixel limit/i.test(message)) {
      const size = await headerSize(image).catch(() => undefined);
      if (size?.width && size.height) throw tooLarge(size.width, size.height, limits);
      throw new LinesightError('LS_ERR_IMAGE_TOO_LARGE', `${message} (inference.maxImagePixels is ${mp(limits.maxPixels)})`, { cause: err });
    }
    throw new LinesightError('LS_ERR_IMAGE_DECODE', message || 'unreadable image', { cause: err });
  }
}

/**
 * Interleaved HWC bytes (RGB or gray) of width `w` into the tensor of width `W`; columns
 * past `w` (pad-right) stay 0, which is what PaddleOCR pads with after normalising.
 * Normalisation goes through a table of the 256 values per channel (computed in double and
 * rounded to float32, as the arithmetic was), so the loop is one load and one store per value.
 */
function fill(px: Buffer, w: number, spec: InputSpec, C: number, H: number, W: number, image: FrameImage): Float32Array | Uint8Array {
  const plane = H * W;
  const bgrSource = image.kind === 'raw' && image.format === 'bgr';
  const wantBgr = spec.colorOrder === 'BGR';
  const swap = C === 3 && bgrSource !== wantBgr;
  const nchw = spec.layout === 'NCHW';
  const quantised = spec.dtype === 'uint8';
  const out = quantised ? new Uint8Array(C * plane) : new Float32Array(C * plane);
  let table: Float32Array | undefined;
  if (!quantised) {
    const { scale, mean, std } = spec.normalize;
    table = new Float32Array(C * 256);
    for (let c = 0; c < C; c++) {
      const m = mean[mean.length === 1 ? 0 : c]!;
      const s = std[std.length === 1 ? 0 : c]!;
      for (let v = 0; v < 256; v++) table[c * 256 + v] = (v * scale - m) / s;
    }
  }
  for (let c = 0; c < C; c++) {
    const from = swap ? 2 - c : c;
    const t = c * 256;
    for (let y = 0; y < H; y++) {
      let src = y * w * C + from;
      // NCHW: one plane per channel; NHWC: channels interleaved.
      let dst = nchw ? c * plane + y * W : y * W * C + c;
      const step = nchw ? 1 : C;
      if (table) {
        for (let x = 0; x < w; x++, src += C, dst += step) out[dst] = table[t + px[src]!]!;
      } else {
        for (let x = 0; x < w; x++, src += C, dst += step) out[dst] = px[src]!;
      }
    }
  }
  return out;
}
