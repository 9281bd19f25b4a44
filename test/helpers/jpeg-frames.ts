// JPEG frames for the decoder's tests: a camera-like frame (real entropy, any size) and a hostile
// progressive JPEG of more scans than native/jpeg decodes.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/** A camera-like frame: smooth structure plus seeded sensor noise, so the JPEG has real entropy. */
export async function cameraFrame(width: number, height: number, jpeg: sharp.JpegOptions = { quality: 90 }, channels: 1 | 3 = 3): Promise<Buffer> {
  const px = Buffer.alloc(width * height * channels);
  let seed = 12345;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < channels; c++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const base = 128 + 80 * Math.sin((x + 40 * c) / 37) * Math.cos(y / 23);
        px[(y * width + x) * channels + c] = Math.max(0, Math.min(255, Math.round(base + ((seed >>> 24) % 13) - 6)));
      }
  return sharp(px, { raw: { width, height, channels } }).jpeg(jpeg).toBuffer();
}

/**
 * Each scan of a progressive JPEG is a pass over the whole image, and the format sets no limit: a
 * hostile frame can hold thousands. cjpeg (libjpeg-turbo-progs) writes any valid scan script of up
 * to 100 scans: here the DC, then every component's AC coefficients two at a time, 97 scans, over
 * native/jpeg's limit of 64 (encoders write about ten). Written under `dir`.
 */
export function manyScanJpeg(dir: string, width = 320, height = 256): Buffer {
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 2654435761) >>> 24;
  writeFileSync(join(dir, 'frame.ppm'), Buffer.concat([Buffer.from(`P6\n${width} ${height}\n255\n`), rgb]));
  const scans = ['0,1,2: 0-0, 0, 0;'];
  for (let c = 0; c < 3; c++) for (let k = 1; k < 64; k += 2) scans.push(`${c}: ${k}-${Math.min(63, k + 1)}, 0, 0;`);
  writeFileSync(join(dir, 'scans.txt'), scans.join('\n') + '\n');
  execFileSync('cjpeg', ['-quality', '90', '-scans', join(dir, 'scans.txt'), '-outfile', join(dir, 'many-scans.jpg'), join(dir, 'frame.ppm')]);
  return readFileSync(join(dir, 'many-scans.jpg'));
}
