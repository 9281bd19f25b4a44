// The tensor a model gets, value by value, for each layout, colour order, dtype and pad-right:
// a raw frame at the model's own size (no resampling), checked against the manifest's formula
// value = (pixel x scale - mean[c]) / std[c] written out plainly here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FrameImage } from '../../src/capture/frame.js';
import { toTensor } from '../../src/inference/preprocess.js';
import type { InputSpec } from '../../src/models/manifest.js';

const W = 5;
const H = 3;
/** Distinct bytes per pixel and channel, so a swapped channel or a shifted row shows. */
const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 37 + 11) % 256);
const pixel = (x: number, y: number, c: number) => rgb[(y * W + x) * 3 + c]!;
const normalize = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

function spec(over: Partial<InputSpec>): InputSpec {
  return { name: 'x', shape: [1, 3, H, W], layout: 'NCHW', dtype: 'float32', colorOrder: 'RGB', resize: 'stretch', normalize, ...over } as InputSpec;
}

const raw = (format: 'rgb' | 'bgr', data = rgb): FrameImage => ({ kind: 'raw', data: new Uint8Array(data), width: W, height: H, format });
const f32 = (v: number) => Math.fround(v);

test('NCHW float32 RGB: one plane per channel, each value normalised with its channel\'s mean and std', async () => {
  const { data } = await toTensor(raw('rgb'), spec({}));
  assert.ok(data instanceof Float32Array);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) assert.equal(data[c * H * W + y * W + x], f32((pixel(x, y, c) / 255 - normalize.mean[c]!) / normalize.std[c]!), `c${c} y${y} x${x}`);
});

test('NHWC float32 BGR from an RGB frame: channels interleaved and swapped, mean and std in the model\'s order', async () => {
  const { data } = await toTensor(raw('rgb'), spec({ layout: 'NHWC', shape: [1, H, W, 3], colorOrder: 'BGR' }));
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) assert.equal(data[(y * W + x) * 3 + c], f32((pixel(x, y, 2 - c) / 255 - normalize.mean[c]!) / normalize.std[c]!), `y${y} x${x} c${c}`);
});

test('a BGR camera frame into an RGB model is swapped; into a BGR model it is not', async () => {
  const bgr = Uint8Array.from({ length: rgb.length }, (_, i) => rgb[i - (i % 3) + 2 - (i % 3)]!);
  const intoRgb = await toTensor(raw('bgr', bgr), spec({}));
  const direct = await toTensor(raw('rgb'), spec({}));
  assert.deepEqual(intoRgb.data, direct.data);
  const intoBgr = await toTensor(raw('bgr', bgr), spec({ colorOrder: 'BGR' }));
  const viaSwap = await toTensor(raw('rgb'), spec({ colorOrder: 'BGR' }));
  assert.deepEqual(intoBgr.data, viaSwap.data);
});

test('uint8 input: the bytes as they are, no normalisation', async () => {
  const { data } = await toTensor(raw('rgb'), spec({ dtype: 'uint8', layout: 'NHWC', shape: [1, H, W, 3] }));
  assert.ok(data instanceof Uint8Array);
  assert.deepEqual([...data], [...rgb]);
});

test('pad-right: the frame keeps its aspect at the model\'s height, the columns past it stay 0', async () => {
  // A 5x3 frame into a 12-wide, 3-high tensor: 5 columns of image, 7 of zeros.
  const { data } = await toTensor(raw('rgb'), spec({ shape: [1, 3, H, 12], resize: 'pad-right' }));
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < 12; x++) {
        const want = x < W ? f32((pixel(x, y, c) / 255 - normalize.mean[c]!) / normalize.std[c]!) : 0;
        assert.equal(data[c * H * 12 + y * 12 + x], want, `c${c} y${y} x${x}`);
      }
});

test('a grey model gets one channel, normalised with its single mean and std', async () => {
  const { data } = await toTensor(raw('rgb'), spec({ shape: [1, 1, H, W], colorOrder: 'GRAY', normalize: { scale: 1, mean: [128], std: [64] } }));
  assert.equal(data.length, W * H);
  // sharp's grey is Rec. 709 luma of the sRGB pixel; whatever the weights, each value is (v - 128) / 64 of a byte.
  for (const v of data) assert.ok(Number.isInteger(v * 64 + 128) && v * 64 + 128 >= 0 && v * 64 + 128 <= 255, String(v));
});
