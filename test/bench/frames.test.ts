// Bench frames are made, not downloaded: from the bundled sample photos, at the camera's size,
// and the same bytes on every box that runs the same sharp (so two runs compare like with like).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { benchFrames } from '../../src/bench/frames.js';
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
