// Hostile images through the real pool (2 workers, the default 100 ms budget, the bundled
// model): each gets a clear answer (a decode or size error, or a correct verdict after colour
// conversion), never a crash or a hung worker, and good parts are still served afterwards.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { systemClock } from '../../src/clock.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { InferencePool } from '../../src/inference/pool.js';
import type { FrameImage } from '../../src/capture/frame.js';
import { decide, ruleFromManifest } from '../../src/models/decision.js';
import { ModelRegistry, type ModelVersion } from '../../src/models/registry.js';
import { modelsDir, samplesDir, tempDir, truncatedJpeg, type ExpectedParts } from '../helpers/env.js';
import { cameraFrame, manyScanJpeg } from '../helpers/jpeg-frames.js';

const budgetMs = 100;
const expected = JSON.parse(readFileSync(join(samplesDir, 'expected.json'), 'utf8')) as ExpectedParts;
const sampleFile = '001-copy-centre-upright.jpg';
const sample = readFileSync(join(samplesDir, sampleFile));
let pool: InferencePool;
let model: ModelVersion;

before(async () => {
  pool = new InferencePool({ workers: 2, intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger });
  pool.start();
  model = await new ModelRegistry(modelsDir).resolve('label-orientation');
  await pool.warmUp({ key: model.key, bytes: model.bytes, manifest: model.manifest });
});
after(() => pool.close());

/**
 * One part through the pool. On a loaded machine a slow earlier part can make the run-time
 * estimate refuse the next one at admission (the right answer then, and not what these tests are
 * about): after the estimate goes stale (1 s) one part is let through to measure again.
 */
async function infer(image: FrameImage) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await pool.infer({ station: 'hostile', model: { key: model.key, bytes: model.bytes, manifest: model.manifest }, image: { ...image, data: new Uint8Array(image.data) } as FrameImage, deadline: systemClock.now() + budgetMs, budgetMs });
    } catch (err) {
      if (!isLinesightError(err, 'LS_ERR_ADMISSION_REFUSED') || attempt === 3) throw err;
      await new Promise((r) => setTimeout(r, 1100));
    }
  }
}
const encoded = (bytes: Uint8Array): FrameImage => ({ kind: 'encoded', data: new Uint8Array(bytes) });

async function expectError(image: FrameImage, code: string, message: RegExp): Promise<void> {
  const r = await infer(image);
  assert.ok(!r.ok, JSON.stringify(r));
  assert.equal(r.stage, 'decode');
  assert.equal(r.error.code, code, r.error.message);
  assert.match(r.error.message, message);
}

async function expectSampleVerdict(image: FrameImage, tolerance: number): Promise<void> {
  const r = await infer(image);
  assert.ok(r.ok, JSON.stringify(r));
  const d = decide(r.scores, ruleFromManifest(model.manifest));
  const want = expected.parts[sampleFile]!;
  assert.equal(d.verdict, want.verdict);
  assert.ok(Math.abs(d.scores[model.manifest.labels[1]!]! - want.scores[1]) < tolerance, JSON.stringify(d.scores));
}

/** A PNG of `width` x `height` 8-bit grey pixels, all zero, whose IDAT holds only `rows` rows (0: all of them). */
function png(width: number, height: number, rows = 0): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const idat = deflateSync(Buffer.alloc((width + 1) * (rows || height)), { level: 9 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

test('a 30000x30000 PNG is refused from its header, naming its size and the limit', async () => {
  const huge = png(30000, 30000, 4);
  assert.ok(huge.length < 4096, `${huge.length} bytes`);
  await expectError(encoded(huge), 'LS_ERR_IMAGE_TOO_LARGE', /image is 30000x30000 \(900 MP\), over inference\.maxImagePixels \(25 MP\)/);
});

test('a decompression bomb (a whole 6000x6000 PNG of zeros in a few kB) is refused before it inflates', async () => {
  const bomb = png(6000, 6000);
  assert.ok(bomb.length < 200_000, `${bomb.length} bytes`);
  await expectError(encoded(bomb), 'LS_ERR_IMAGE_TOO_LARGE', /image is 6000x6000 \(36 MP\)/);
});

test('a raw frame over the pixel limit is refused before sharp sees it', async () => {
  const width = 5001;
  const height = 5000;
  await expectError({ kind: 'raw', data: new Uint8Array(width * height), width, height, format: 'gray' }, 'LS_ERR_IMAGE_TOO_LARGE', /image is 5001x5000 \(25 MP\), over inference\.maxImagePixels/);
});

test('a CMYK JPEG is converted to RGB and inspected like the original', async () => {
  const cmyk = await sharp(sample).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
  assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
  await expectSampleVerdict(encoded(cmyk), 0.05);
});

test('a 16-bit TIFF is brought to 8 bits and gives the same tensor, so the same verdict', async () => {
  const tiff = await sharp(sample).toColourspace('rgb16').tiff({ compression: 'lzw' }).toBuffer();
  assert.equal((await sharp(tiff).metadata()).depth, 'ushort');
  await expectSampleVerdict(encoded(tiff), 0.02);
});

test('a truncated JPEG, an empty file and junk bytes are decode errors naming the problem', async () => {
  await expectError(encoded(readFileSync(truncatedJpeg)), 'LS_ERR_IMAGE_DECODE', /cannot decode image: .+/);
  await expectError(encoded(new Uint8Array(0)), 'LS_ERR_IMAGE_DECODE', /empty image \(0 bytes\)/);
  await expectError(encoded(Buffer.from('GIF89a but not really')), 'LS_ERR_IMAGE_DECODE', /cannot decode image: .+/);
});

test('through the libjpeg-turbo path: a 1280x1024 frame cut mid-scan, a 97-scan progressive JPEG and a 26 MP header are refused by name', async (t) => {
  assert.equal(pool.jpegDecoder, 'libjpeg-turbo', 'npm ci built native/jpeg: these frames take its path');
  const whole = await cameraFrame(1280, 1024);
  await expectError(encoded(whole.subarray(0, whole.length >> 1)), 'LS_ERR_IMAGE_DECODE', /cannot decode image: premature end/i);
  await expectError(encoded(manyScanJpeg(tempDir(t))), 'LS_ERR_IMAGE_DECODE', /progressive JPEG with more than 64 scans/);
  const big = await sharp({ create: { width: 5200, height: 5000, channels: 3, background: '#777' } }).jpeg().toBuffer();
  await expectError(encoded(big), 'LS_ERR_IMAGE_TOO_LARGE', /image is 5200x5000 \(26 MP\), over inference\.maxImagePixels \(25 MP\)/);
  // The whole frame still decodes and is inspected (a verdict, not an error).
  const r = await infer(encoded(whole));
  assert.ok(r.ok, JSON.stringify(r));
});

test('after every hostile image the pool still serves good parts on both workers', async () => {
  const results = await Promise.all([infer(encoded(sample)), infer(encoded(sample))]);
  for (const r of results) assert.ok(r.ok, JSON.stringify(r));
  assert.equal(pool.stats.crashed, 0);
  assert.equal(pool.stats.hung, 0);
  assert.equal(pool.threads.length, 2);
});
