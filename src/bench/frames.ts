// The camera frames the bench feeds: real photos (the bundled sample parts) tiled into frames of
// the camera's size, with seeded sensor noise so they compress like a camera's JPEGs rather than
// like upscaled thumbnails. Generated once per size into the cache; the same bytes every time.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import sharp from 'sharp';
import { LinesightError } from '../errors.js';
import { bundledSamplesDir, cacheDir } from '../paths.js';
import type { FrameSet } from './result.js';

export interface FrameSize {
  width: number;
  height: number;
  label: string;
}

export const frameSizes: Record<string, FrameSize> = {
  '1280x1024': { width: 1280, height: 1024, label: '1.3 MP (1280x1024)' },
  '5mp': { width: 2592, height: 1944, label: '5 MP (2592x1944)' },
  '12mp': { width: 4000, height: 3000, label: '12 MP (4000x3000)' },
};

const frameCount = 24;
const grid = 4;
const noiseAmplitude = 6;
const jpegQuality = 90;

/** Mulberry32: a small seeded generator, so the noise (and the JPEG bytes) repeat exactly. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function samplePhotos(): string[] {
  const out: string[] = [];
  for (const dir of readdirSync(bundledSamplesDir).sort()) {
    const d = join(bundledSamplesDir, dir);
    if (!statSync(d).isDirectory()) continue;
    for (const f of readdirSync(d).sort()) if (/\.jpe?g$/i.test(f)) out.push(join(d, f));
  }
  return out;
}

async function makeFrame(photos: string[], index: number, size: FrameSize): Promise<Buffer> {
  const tw = Math.floor(size.width / grid);
  const th = Math.floor(size.height / grid);
  const tiles = await Promise.all(
    Array.from({ length: grid * grid }, async (_, k) => {
      const photo = photos[(index * 7 + k * 5) % photos.length]!;
      const input = await sharp(photo).resize(tw, th, { fit: 'cover' }).toBuffer();
      return { input, left: (k % grid) * tw, top: Math.floor(k / grid) * th };
    }),
  );
  const { data, info } = await sharp({ create: { width: size.width, height: size.height, channels: 3, background: { r: 96, g: 96, b: 96 } } })
    .composite(tiles)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rnd = seeded(index + 1);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]! + Math.round((rnd() - 0.5) * 2 * noiseAmplitude);
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).jpeg({ quality: jpegQuality }).toBuffer();
}

/** The directory of frames for `size` (made on first use) and what they are. */
export async function benchFrames(size: FrameSize, root = join(cacheDir, 'bench-frames')): Promise<{ dir: string; files: string[]; set: FrameSet }> {
  const dir = join(root, `${size.width}x${size.height}`);
  const name = (i: number) => `frame-${String(i + 1).padStart(2, '0')}.jpg`;
  if (!existsSync(join(dir, name(frameCount - 1)))) {
    mkdirSync(dir, { recursive: true });
    const photos = samplePhotos();
    for (let i = 0; i < frameCount; i++) {
      const tmp = join(dir, `.${name(i)}.tmp`);
      writeFileSync(tmp, await makeFrame(photos, i, size));
      renameSync(tmp, join(dir, name(i)));
    }
  }
  const files = Array.from({ length: frameCount }, (_, i) => join(dir, name(i)));
  const bytes = files.reduce((n, f) => n + readFileSync(f).byteLength, 0);
  return {
    dir,
    files,
    set: {
      count: files.length,
      meanBytes: Math.round(bytes / files.length),
      source: `the bundled sample photos (samples/), tiled ${grid}x${grid} into ${size.width}x${size.height}, seeded noise +-${noiseAmplitude}, JPEG q${jpegQuality}`,
    },
  };
}

/** At most this many of a user's frames are read into memory for the in-process baselines. */
const maxUserFrames = 48;

/**
 * A buyer's own camera frames (--frames DIR): JPEG or PNG files as their camera writes them, so
 * the decode, which at camera resolutions is most of the CPU per part, costs what it will on the
 * line. The service replays every image in DIR; the baselines time the first 48 (by name). The
 * frame size is the first file's; each file must be an image sharp can read.
 */
export async function userFrames(dir: string): Promise<{ dir: string; files: string[]; set: FrameSet; size: FrameSize }> {
  const root = resolve(dir);
  const bad = (detail: string) => new LinesightError('LS_ERR_BENCH_OPTION', detail, { args: ['--frames'] });
  let names: string[];
  try {
    names = readdirSync(root).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  } catch (err) {
    throw bad(`cannot read ${root}: ${(err as Error).message}`);
  }
  if (!names.length) throw bad(`${root} holds no .jpg, .jpeg or .png file`);
  const files = names.map((f) => join(root, f));
  let first: FrameSize | undefined;
  let bytes = 0;
  for (const f of files.slice(0, maxUserFrames)) {
    const data = readFileSync(f);
    bytes += data.byteLength;
    const meta = await sharp(data).metadata().catch((err: Error) => {
      throw bad(`${basename(f)} is not an image sharp can read: ${err.message}`);
    });
    if (!meta.width || !meta.height) throw bad(`${basename(f)} has no size`);
    first ??= { width: meta.width, height: meta.height, label: `${Math.round((meta.width * meta.height) / 1e5) / 10} MP (${meta.width}x${meta.height}, your frames)` };
  }
  const timed = Math.min(files.length, maxUserFrames);
  return {
    dir: root,
    files: files.slice(0, maxUserFrames),
    size: first!,
    set: {
      count: files.length,
      meanBytes: Math.round(bytes / timed),
      source: `your frames from ${root} (${files.length} image(s)${files.length > maxUserFrames ? `; the baselines time the first ${maxUserFrames}` : ''})`,
    },
  };
}
