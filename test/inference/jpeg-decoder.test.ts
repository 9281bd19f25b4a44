// The libjpeg-turbo fast path (native/jpeg): a model gets the same tensor, bit for bit, as from
// sharp alone, for camera-sized frames in every resize mode, grey and colour, baseline and
// progressive; JPEGs it does not take (CMYK, ICC-tagged, unreadable headers) go to sharp; a
// frame cut off mid-scan is a decode error; an oversized one is refused from its header.
// The addon is built by npm ci (libjpeg62-turbo-dev); these tests fail where it was not built.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { FrameImage } from '../../src/capture/frame.js';
import { systemClock } from '../../src/clock.js';
import { isLinesightError } from '../../src/errors.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { InferencePool, resolveJpegDecoder } from '../../src/inference/pool.js';
import { loadJpegDecoder, sharpShrinkOnLoad, type JpegDecoder } from '../../src/inference/jpeg-decoder.js';
import { toTensor } from '../../src/inference/preprocess.js';
import type { InputSpec } from '../../src/models/manifest.js';
import { samplesDir, tempDir } from '../helpers/env.js';
import { cameraFrame, manyScanJpeg } from '../helpers/jpeg-frames.js';

const loaded = loadJpegDecoder();
const normalize = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const maxPixels = 25_000_000;

function spec(over: Partial<InputSpec>): InputSpec {
  return { name: 'x', shape: [1, 3, 224, 224], layout: 'NCHW', dtype: 'float32', colorOrder: 'RGB', resize: 'stretch', normalize, ...over } as InputSpec;
}

/** The real decoder, counting the frames it decoded (so a silent fall-back to sharp shows). */
function counted(): { jpeg: JpegDecoder; decodes: number[] } {
  assert.ok('decoder' in loaded, `the libjpeg-turbo decoder was not built: ${'why' in loaded ? loaded.why : ''}`);
  const real = loaded.decoder;
  const decodes: number[] = [];
  return {
    decodes,
    jpeg: {
      accepts: (b) => real.accepts(b),
      decode: (b, shrink) => {
        decodes.push(shrink);
        return real.decode(b, shrink);
      },
    },
  };
}

const encoded = (data: Uint8Array): FrameImage => ({ kind: 'encoded', data });

async function sameAsSharp(bytes: Uint8Array, s: InputSpec, wantShrink?: number): Promise<void> {
  const { jpeg, decodes } = counted();
  const fast = await toTensor(encoded(bytes), s, { maxPixels, jpeg });
  const alone = await toTensor(encoded(bytes), s, { maxPixels });
  assert.equal(decodes.length, 1, 'the frame went through the fast path');
  if (wantShrink !== undefined) assert.equal(decodes[0], wantShrink, 'at the shrink sharp would pick');
  assert.equal(fast.data.length, alone.data.length);
  let differ = 0;
  for (let i = 0; i < fast.data.length; i++) if (fast.data[i] !== alone.data[i]) differ++;
  assert.equal(differ, 0, `${differ} of ${fast.data.length} tensor values differ from sharp's`);
}

test('sharp\'s shrink-on-load rule: the largest power of two reached, halved when the factor\'s whole part is that power', () => {
  const cases: Array<[number, number]> = [[1, 1], [1.9, 1], [2, 1], [2.52, 1], [3.9, 2], [4, 2], [4.57, 2], [5.71, 4], [8, 4], [8.5, 4], [9, 8], [12.8, 8], [40, 8]];
  for (const [factor, k] of cases) assert.equal(sharpShrinkOnLoad(factor), k, `factor ${factor}`);
});

test('a 1280x1024 camera frame: the same tensor as sharp alone in every resize mode, colour and grey', async () => {
  const frame = await cameraFrame(1280, 1024);
  await sameAsSharp(frame, spec({}), 2);
  await sameAsSharp(frame, spec({ resize: 'crop' }), 2);
  await sameAsSharp(frame, spec({ resize: 'letterbox', shape: [1, 3, 128, 128] }), 8);
  await sameAsSharp(frame, spec({ resize: 'pad-right', shape: [1, 3, 48, 192] }), 8);
  await sameAsSharp(frame, spec({ shape: [1, 1, 224, 224], colorOrder: 'GRAY', normalize: { scale: 1, mean: [128], std: [64] } }), 2);
  await sameAsSharp(frame, spec({ layout: 'NHWC', shape: [1, 224, 224, 3], colorOrder: 'BGR', dtype: 'uint8' }), 2);
});

test('5 MP, progressive, 4:4:4 and greyscale JPEGs take the fast path and match sharp', async () => {
  await sameAsSharp(await cameraFrame(2592, 1944), spec({}), 4);
  await sameAsSharp(await cameraFrame(1280, 1024, { quality: 85, progressive: true }), spec({}), 2);
  await sameAsSharp(await cameraFrame(1280, 1024, { quality: 95, chromaSubsampling: '4:4:4' }), spec({}), 2);
  await sameAsSharp(await cameraFrame(1280, 1024, { quality: 90 }, 1), spec({}), 2);
});

test('the bundled sample parts give the same tensors both ways (the recorded scores stay valid)', async () => {
  const files = readdirSync(samplesDir).filter((f) => f.endsWith('.jpg')).slice(0, 12);
  assert.ok(files.length >= 10);
  for (const f of files) await sameAsSharp(readFileSync(join(samplesDir, f)), spec({ resize: 'pad-right', shape: [1, 3, 48, 192] }));
});

test('a frame cut off in the middle of its scan is a decode error naming it, from the fast path', async () => {
  const { jpeg, decodes } = counted();
  const whole = await cameraFrame(1280, 1024);
  const err = await toTensor(encoded(whole.subarray(0, whole.length >> 1)), spec({}), { maxPixels, jpeg }).then(
    () => assert.fail('a truncated frame decoded'),
    (e: unknown) => e,
  );
  assert.ok(isLinesightError(err) && err.code === 'LS_ERR_IMAGE_DECODE', String(err));
  assert.match((err as Error).message, /premature end/i);
  assert.deepEqual(decodes, [2]);
});

test('an oversized frame is refused from its header, before any decoding', async () => {
  const { jpeg, decodes } = counted();
  const err = await toTensor(encoded(await cameraFrame(1280, 1024)), spec({}), { maxPixels: 1_000_000, jpeg }).then(
    () => assert.fail('an oversized frame decoded'),
    (e: unknown) => e,
  );
  assert.ok(isLinesightError(err) && err.code === 'LS_ERR_IMAGE_TOO_LARGE', String(err));
  assert.match((err as Error).message, /1280x1024/);
  assert.deepEqual(decodes, []);
});

test('CMYK and ICC-tagged JPEGs, and headers libjpeg cannot read, are left to sharp', async () => {
  const { jpeg, decodes } = counted();
  const rgb = await cameraFrame(640, 512);
  const cmyk = await sharp(rgb).toColourspace('cmyk').jpeg().toBuffer();
  const tagged = await sharp(rgb).withIccProfile('p3').jpeg().toBuffer();
  assert.equal(jpeg.accepts(cmyk), undefined);
  assert.equal(jpeg.accepts(tagged), undefined);
  // Both still decode (through sharp) into a tensor of the right size.
  for (const b of [cmyk, tagged]) assert.equal((await toTensor(encoded(b), spec({}), { maxPixels, jpeg })).data.length, 3 * 224 * 224);
  const junk = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 0x41)]);
  assert.equal(jpeg.accepts(junk), undefined);
  const err = await toTensor(encoded(junk), spec({}), { maxPixels, jpeg }).catch((e: unknown) => e);
  assert.ok(isLinesightError(err) && err.code === 'LS_ERR_IMAGE_DECODE', String(err));
  assert.deepEqual(decodes, []);
});

test('a frame in a SharedArrayBuffer, at an offset, decodes in place', async () => {
  const { jpeg } = counted();
  const frame = await cameraFrame(1280, 1024);
  const shared = new Uint8Array(new SharedArrayBuffer(frame.length + 16), 16, frame.length);
  shared.set(frame);
  const a = await toTensor(encoded(shared), spec({}), { maxPixels, jpeg });
  const b = await toTensor(encoded(frame), spec({}), { maxPixels });
  assert.deepEqual(a.data, b.data);
});

test('the pool decodes JPEGs with libjpeg-turbo by default (it is built here), with sharp when the config says so', () => {
  const make = (jpegDecoder?: 'auto' | 'libjpeg-turbo' | 'sharp') =>
    new InferencePool({ workers: 2, intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger, jpegDecoder });
  assert.equal(make().jpegDecoder, 'libjpeg-turbo');
  assert.equal(make('libjpeg-turbo').jpegDecoder, 'libjpeg-turbo');
  assert.equal(make('sharp').jpegDecoder, 'sharp');
});

test('a progressive JPEG of more scans than the limit (97 over 64) is refused by the fast path, not decoded scan after scan', async (t) => {
  const bytes = manyScanJpeg(tempDir(t));
  let sos = 0;
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 0xff && bytes[i + 1] === 0xda) sos++;
  assert.equal(sos, 97, 'start-of-scan markers written');
  const { jpeg, decodes } = counted();
  const err = await toTensor(encoded(bytes), spec({}), { maxPixels, jpeg }).then(
    () => assert.fail('a JPEG of 97 scans decoded'),
    (e: unknown) => e,
  );
  assert.ok(isLinesightError(err) && err.code === 'LS_ERR_IMAGE_DECODE', String(err));
  assert.match((err as Error).message, /more than 64 scans/);
  assert.equal(decodes.length, 1);
});

test('without the addon (npm ci found no libjpeg headers): auto decodes with sharp and warns once with the reason; asking for libjpeg-turbo is a start error', () => {
  const lines: string[] = [];
  const log = createLogger({ format: 'json', write: (l) => lines.push(l) });
  const missing = () => ({ why: "Cannot find module '@linesight/jpeg'" });
  assert.equal(resolveJpegDecoder('auto', log, missing), 'sharp');
  assert.equal(lines.length, 1);
  const warning = JSON.parse(lines[0]!) as { level: string; code: string; why: string; msg: string };
  assert.deepEqual([warning.level, warning.code], ['warn', 'LS_ERR_JPEG_DECODER_UNAVAILABLE']);
  assert.match(warning.why, /@linesight\/jpeg/);
  assert.match(warning.msg, /libjpeg62-turbo-dev/);
  assert.throws(() => resolveJpegDecoder('libjpeg-turbo', log, missing), (e: Error & { code?: string }) => e.code === 'LS_ERR_JPEG_DECODER_UNAVAILABLE' && /not built \(Cannot find module/.test(e.message));
  // sharp, asked for, never looks for the addon.
  assert.equal(resolveJpegDecoder('sharp', log, () => assert.fail('looked for the addon')), 'sharp');
});
