// Bench frames are made, not downloaded: from the bundled sample photos, at the camera's size,
// and the same bytes on every box that runs the same sharp (so two runs compare like with like).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { benchFrames, userFrames } from '../../src/bench/frames.js';
import { parseBenchArgs } from '../../src/cli-bench.js';
import { tempDir } from '../helpers/env.js';

test('frames have the asked size, differ from each other, and are made again byte for byte', async (t) => {
  const size = { width: 320, height: 256, label: 'test' };
  const a = await benchFrames(size, tempDir(t));
  const b = await benchFrames(size, tempDir(t));
  assert.equal(a.files.length, 24);
  assert.equal(a.set.count, 24);
  const meta = await sharp(a.files[0]!).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 320, 256]);
  const bytes = a.files.map((f) => readFileSync(f));
  assert.equal(new Set(bytes.map((x) => x.toString('base64'))).size, 24, 'every frame differs');
  for (let i = 0; i < 24; i++) assert.ok(bytes[i]!.equals(readFileSync(b.files[i]!)), `frame ${i + 1} reproduced`);
  assert.equal(a.set.meanBytes, b.set.meanBytes);
  // Second call on the same root reuses what is there.
  const again = await benchFrames(size, join(a.dir, '..'));
  assert.deepEqual(again.files, a.files);
});

test('--frames: a buyer\'s own images, sized from the first; a folder without images or with an unreadable one is refused by name', async (t) => {
  const dir = tempDir(t);
  const jpeg = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#5a7' } }).jpeg().toBuffer();
  writeFileSync(join(dir, 'b.jpg'), await jpeg(800, 600));
  writeFileSync(join(dir, 'a.JPEG'), await jpeg(1024, 768));
  writeFileSync(join(dir, 'notes.txt'), 'not a frame');
  const own = await userFrames(dir);
  assert.deepEqual(own.files.map((f) => basename(f)), ['a.JPEG', 'b.jpg']);
  assert.deepEqual([own.size.width, own.size.height], [1024, 768]);
  assert.match(own.size.label, /your frames/);
  assert.equal(own.set.count, 2);
  assert.ok(own.set.meanBytes > 0);

  const empty = tempDir(t);
  writeFileSync(join(empty, 'notes.txt'), 'x');
  await assert.rejects(userFrames(empty), (e: Error & { code?: string }) => e.code === 'LS_ERR_BENCH_OPTION' && /no \.jpg/.test(e.message));
  writeFileSync(join(dir, 'c.jpg'), 'truncated, not a JPEG');
  await assert.rejects(userFrames(dir), (e: Error & { code?: string }) => e.code === 'LS_ERR_BENCH_OPTION' && /c\.jpg/.test(e.message));
  assert.throws(() => parseBenchArgs(['--frames', dir, '--frame', '5mp']), { code: 'LS_ERR_BENCH_OPTION' });
  assert.equal(parseBenchArgs(['--frames', dir]).options.framesDir, dir);
});
