// Decode a frame and turn it into the model's input tensor, as the manifest says: resize mode,
// colour order, layout, normalisation. Runs inside a worker thread; pixels are read once.
import sharp from 'sharp';
import { LinesightError } from '../errors.js';
import type { FrameImage } from '../capture/frame.js';
import { inputGeometry, type InputSpec } from '../models/manifest.js';

export interface Tensor {
  data: Float32Array | Uint8Array;
  /** Decoded image size, before resizing. */
  sourceWidth: number;
  sourceHeight: number;
}

function openImage(image: FrameImage): sharp.Sharp {
  if (image.kind === 'encoded') return sharp(image.data, { failOn: 'warning' });
  const channels = image.format === 'gray' ? 1 : 3;
  if (image.data.byteLength !== image.width * image.height * channels) {
    throw new LinesightError('LS_ERR_IMAGE_DECODE', `raw ${image.format} frame of ${image.width}x${image.height} needs ${image.width * image.height * channels} bytes, got ${image.data.byteLength}`);
  }
  // sharp reads raw pixels as RGB; BGR frames are swapped while filling the tensor instead.
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels } });
}

export async function toTensor(image: FrameImage, spec: InputSpec): Promise<Tensor> {
  const { channels, height: H, width: W } = inputGeometry(spec);
  let pipeline: sharp.Sharp;
  let sourceWidth: number;
  let sourceHeight: number;
  let targetW = W;
  try {
    pipeline = openImage(image);
    const meta = await pipeline.metadata();
    sourceWidth = meta.width ?? 0;
    sourceHeight = meta.height ?? 0;
    if (!sourceWidth || !sourceHeight) throw new Error('image has no size');
    pipeline = channels === 1 ? pipeline.grayscale() : pipeline.removeAlpha().toColourspace('srgb');
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
        targetW = Math.max(1, Math.min(W, Math.ceil((H * sourceWidth) / sourceHeight)));
        pipeline = pipeline.resize(targetW, H, { fit: 'fill' });
        break;
    }
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels || info.width !== targetW || info.height !== H) {
      throw new Error(`decoder gave ${info.width}x${info.height}x${info.channels}, wanted ${targetW}x${H}x${channels}`);
    }
    return { data: fill(data, targetW, spec, channels, H, W, image), sourceWidth, sourceHeight };
  } catch (err) {
    if (err instanceof LinesightError) throw err;
    throw new LinesightError('LS_ERR_IMAGE_DECODE', (err as Error).message, { cause: err });
  }
}

/**
 * Interleaved HWC bytes (RGB or gray) of width `w` into the tensor of width `W`; columns
 * past `w` (pad-right) stay 0, which is what PaddleOCR pads with after normalising.
 */
function fill(px: Buffer, w: number, spec: InputSpec, C: number, H: number, W: number, image: FrameImage): Float32Array | Uint8Array {
  const plane = H * W;
  const bgrSource = image.kind === 'raw' && image.format === 'bgr';
  const wantBgr = spec.colorOrder === 'BGR';
  const swap = C === 3 && bgrSource !== wantBgr;
  const nchw = spec.layout === 'NCHW';
  const out = spec.dtype === 'uint8' ? new Uint8Array(C * plane) : new Float32Array(C * plane);
  const { scale, mean, std } = spec.normalize;
  const m = Array.from({ length: C }, (_, c) => mean[mean.length === 1 ? 0 : c]!);
  const s = Array.from({ length: C }, (_, c) => std[std.length === 1 ? 0 : c]!);
  const quantised = spec.dtype === 'uint8';
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < w; x++) {
      const src = (y * w + x) * C;
      for (let c = 0; c < C; c++) {
        const v = px[src + (swap ? 2 - c : c)]!;
        const dst = nchw ? c * plane + y * W + x : (y * W + x) * C + c;
        out[dst] = quantised ? v : (v * scale - m[c]!) / s[c]!;
      }
    }
  }
  return out;
}
