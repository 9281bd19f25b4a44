// Hostile files for tests, made on the spot so nothing large is committed: images that are too
// big, in odd colour spaces or broken, and archives that try to escape or explode.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import sharp from 'sharp';
import { samplesDir, truncatedJpeg } from './env.js';
import { makeVersion } from './model-versions.js';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/**
 * A valid `side` x `side` 1-bit grayscale PNG of zeros: a decompression bomb (30000 x 30000 is
 * 900 MP, about 110 KB on disk) that a decoder would turn into gigabytes of pixels.
 */
export function hugePng(side = 30_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grayscale
  const row = 1 + Math.ceil(side / 8);
  const idat = deflateSync(Buffer.alloc(row * side), { level: 9 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

export const sampleJpeg = (name = '001-copy-centre-upright.jpg') => readFileSync(join(samplesDir, name));

/** A bundled sample part as a CMYK JPEG (print shops and some line-scan tools write these). */
export const cmykJpeg = (name?: string) => sharp(sampleJpeg(name)).toColourspace('cmyk').jpeg().toBuffer();

/** A bundled sample part as a 16-bit-per-channel TIFF (machine-vision cameras write these). */
export const tiff16 = (name?: string) => sharp(sampleJpeg(name)).toColourspace('rgb16').tiff({ compression: 'lzw' }).toBuffer();

export const truncated = () => readFileSync(truncatedJpeg);

/** A tar.gz of a model version whose model file unpacks to `unpackedMB` MiB of zeros. */
export function gzipBomb(work: string, unpackedMB: number): Buffer {
  const dir = makeVersion(work, '9.9.9');
  writeFileSync(join(dir, 'padding.bin'), Buffer.alloc(unpackedMB * 1024 * 1024));
  return execFileSync('tar', ['-czf', '-', '-C', join(work, 'label-orientation'), '9.9.9'], { maxBuffer: 64 * 1024 * 1024 });
}

/** Archives whose entries try to leave the staging directory or point elsewhere. */
export function escapingArchives(work: string): Record<'traversal' | 'absolute' | 'symlink' | 'hardlink', Buffer> {
  const v = join(work, 'v');
  mkdirSync(v, { recursive: true });
  writeFileSync(join(work, 'escape.txt'), 'x');
  const traversal = execFileSync('tar', ['-cPf', '-', '-C', v, '../escape.txt']);
  const absolute = execFileSync('tar', ['-cPf', '-', join(work, 'escape.txt')]);
  const sym = join(work, 'sym');
  makeVersion(sym, '1.6.0');
  symlinkSync('/etc/passwd', join(sym, 'label-orientation', '1.6.0', 'passwd'));
  const symlink = execFileSync('tar', ['-czf', '-', '-C', join(sym, 'label-orientation'), '1.6.0']);
  const hard = join(work, 'hard');
  const hv = makeVersion(hard, '1.7.0');
  linkSync(join(hv, 'model.onnx'), join(hv, 'model-copy.onnx'));
  const hardlink = execFileSync('tar', ['-czf', '-', '-C', join(hard, 'label-orientation'), '1.7.0']);
  return { traversal, absolute, symlink, hardlink };
}

/** A tar.gz of one version directory. */
export const versionArchive = (root: string, version: string) => execFileSync('tar', ['-czf', '-', '-C', join(root, 'label-orientation'), version]);

/** The "billion laughs" config: nine levels of nine aliases. */
export function yamlAliasBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  const names = 'abcdefghi';
  for (let i = 1; i < names.length; i++) {
    const prev = names[i - 1]!;
    lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  lines.push('stations: *i');
  return lines.join('\n') + '\n';
}

/** Kernel's view of this process: resident now and the high-water mark, in MiB. */
export function rssMiB(): { rss: number; hwm: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}
