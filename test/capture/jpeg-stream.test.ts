// JpegSplitter on the real sample JPEGs: any chunking, garbage between frames, truncated frames,
// and an FFD9 inside an APPn segment.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { JpegSplitter } from '../../src/capture/jpeg-stream.js';
import { samplesDir, truncatedJpeg } from '../helpers/env.js';

const samples = readdirSync(samplesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort()
  .map((n) => readFileSync(join(samplesDir, n)));
// Two small ones, so that trying every byte position stays fast.
const small = [...samples].sort((x, y) => x.length - y.length);
const a = small[0]!;
const b = small[1]!;

function split(chunks: Buffer[], splitter = new JpegSplitter()): { frames: Buffer[]; splitter: JpegSplitter } {
  const frames: Buffer[] = [];
  for (const c of chunks) frames.push(...splitter.push(c));
  return { frames, splitter };
}

function assertFrames(got: Buffer[], expected: Buffer[], context: string): void {
  assert.equal(got.length, expected.length, `${context}: ${got.length} frames, expected ${expected.length}`);
  got.forEach((f, i) => assert.ok(f.equals(expected[i]!), `${context}: frame ${i} differs`));
}

/** Deterministic bytes (mulberry32), so a failure reproduces. */
function noise(length: number, seed: number): Buffer {
  let s = seed >>> 0;
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}

/** Garbage that never holds an SOI but has plenty of other FF bytes. */
function garbage(length: number, seed: number): Buffer {
  const g = noise(length, seed);
  for (let i = 0; i < g.length; i += 7) g[i] = 0xff;
  for (let i = 1; i < g.length; i++) if (g[i - 1] === 0xff && g[i] === 0xd8) g[i] = 0xd9;
  return g;
}

test('the samples concatenated come back whole, byte for byte', () => {
  const { frames, splitter } = split([Buffer.concat(samples)]);
  assertFrames(frames, samples, 'one chunk');
  assert.equal(splitter.corrupt, 0);
  assert.equal(splitter.pending, 0);
});

test('every chunk boundary: two frames cut in two at each byte, and fed one byte at a time', () => {
  const stream = Buffer.concat([a, b]);
  for (let i = 0; i <= stream.length; i++) {
    const { frames, splitter } = split([stream.subarray(0, i), stream.subarray(i)]);
    assertFrames(frames, [a, b], `cut at ${i}`);
    assert.equal(splitter.corrupt, 0);
  }
  const bytes = [...stream].map((x) => Buffer.from([x]));
  const { frames, splitter } = split(bytes);
  assertFrames(frames, [a, b], 'byte by byte');
  assert.equal(splitter.corrupt, 0);
});

test('frames are copies: the chunk may be reused after push()', () => {
  const chunk = Buffer.concat([a, b]);
  const { frames } = split([chunk]);
  chunk.fill(0);
  assertFrames(frames, [a, b], 'after the chunk was overwritten');
});

test('garbage between frames (multipart headers, stray FF bytes) is skipped and not counted', () => {
  const part = (n: number) => Buffer.from(`\r\n--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${n}\r\n\r\n`);
  const stream = Buffer.concat([
    garbage(300, 1),
    part(a.length),
    a,
    Buffer.from([0xff, 0xff, 0xff, 0xd9, 0xff, 0x00, 0xff]),
    part(b.length),
    b,
    garbage(5000, 2),
    a,
    garbage(1, 3),
  ]);
  for (const chunkSize of [stream.length, 4096, 97, 1]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += chunkSize) chunks.push(stream.subarray(i, i + chunkSize));
    const { frames, splitter } = split(chunks);
    assertFrames(frames, [a, b, a], `chunks of ${chunkSize}`);
    assert.equal(splitter.corrupt, 0, `chunks of ${chunkSize}`);
  }
});

test('a stray SOI in garbage is one corrupt frame; the frame after it comes through', () => {
  const { frames, splitter } = split([Buffer.concat([a, Buffer.from([0xff, 0xd8]), Buffer.from('not a jpeg at all'), b])]);
  assertFrames(frames, [a, b], 'stray SOI');
  assert.equal(splitter.corrupt, 1);
});

test('a truncated frame is counted and the good frame after it comes through', () => {
  const truncated = readFileSync(truncatedJpeg);
  const { frames, splitter } = split([Buffer.concat([truncated, b, a])]);
  assertFrames(frames, [b, a], 'truncated.jpg then two good frames');
  assert.equal(splitter.corrupt, 1);

  // Cut anywhere: in a table, in the frame or scan header, in the entropy-coded data. A cut
  // inside a segment leaves a length that runs into the next frame; that frame must survive.
  for (let cut = 2; cut < a.length - 1; cut++) {
    const r = split([Buffer.concat([a.subarray(0, cut), b])]);
    assertFrames(r.frames, [b], `first frame cut at ${cut}`);
    assert.equal(r.splitter.corrupt, 1, `first frame cut at ${cut}`);
  }
});

test('an FFD9 inside an APPn or COM segment (an embedded thumbnail) does not end the frame', async () => {
  const outer = samples.at(-1)!;
  const thumbnail = a;
  const segment = (marker: number, payload: Buffer) => {
    const head = Buffer.from([0xff, marker, 0, 0]);
    head.writeUInt16BE(payload.length + 2, 2);
    return Buffer.concat([head, payload]);
  };
  // SOI, an APP9 with a whole JPEG in it, a COM with a bare FFD9, then the rest of the real image.
  const withThumbnail = Buffer.concat([
    outer.subarray(0, 2),
    segment(0xe9, Buffer.concat([Buffer.from('LSTHUMB\0'), thumbnail])),
    segment(0xfe, Buffer.from([0x41, 0xff, 0xd9, 0x42])),
    outer.subarray(2),
  ]);
  const { frames, splitter } = split([Buffer.concat([withThumbnail, b])]);
  assertFrames(frames, [withThumbnail, b], 'thumbnail inside APP9');
  assert.equal(splitter.corrupt, 0);
  // Still the outer image to a decoder, not the thumbnail.
  const [got, expected] = await Promise.all([sharp(frames[0]!).metadata(), sharp(outer).metadata()]);
  assert.deepEqual([got.width, got.height], [expected.width, expected.height]);
});

test('reset() drops a frame in progress and counts it; a frame over maxFrameBytes is dropped and counted as too large', () => {
  const splitter = new JpegSplitter();
  assert.deepEqual(splitter.push(a.subarray(0, 500)), []);
  assert.ok(splitter.pending > 0);
  splitter.reset();
  assert.equal(splitter.corrupt, 1);
  assert.equal(splitter.pending, 0);
  assertFrames(splitter.push(b), [b], 'after reset');

  // Whole in one chunk, and arriving in pieces (bounded while it is still pending).
  const big = small.at(-1)!;
  for (const chunkSize of [big.length + a.length, 100]) {
    const stream = Buffer.concat([big, a]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += chunkSize) chunks.push(stream.subarray(i, i + chunkSize));
    const bounded = split(chunks, new JpegSplitter({ maxFrameBytes: big.length - 1 }));
    assertFrames(bounded.frames, [a], `oversized frame then a small one, chunks of ${chunkSize}`);
    assert.equal(bounded.splitter.tooLarge, 1);
    assert.equal(bounded.splitter.corrupt, 0);
  }
});

/** The start of a real JPEG up to and including its SOS header: what follows is scan data. */
function headersOf(jpeg: Buffer): Buffer {
  let p = 2;
  for (;;) {
    const marker = jpeg[p + 1]!;
    const len = jpeg.readUInt16BE(p + 2);
    p += 2 + len;
    if (marker === 0xda) return jpeg.subarray(0, p);
  }
}

test('an endless frame (no EOI) is dropped at the cap, memory stays near the cap, and good frames after it come through', () => {
  const max = 1024 * 1024;
  const splitter = new JpegSplitter({ maxFrameBytes: max });
  const chunk = 64 * 1024;
  let held = 0;
  const frames: Buffer[] = [];
  const feed = (bytes: Buffer) => {
    for (let i = 0; i < bytes.length; i += chunk) {
      frames.push(...splitter.push(bytes.subarray(i, i + chunk)));
      held = Math.max(held, splitter.held);
      assert.ok(splitter.pending <= max, `pending ${splitter.pending}`);
    }
  };
  feed(a);
  // 20 MiB of scan data that never ends: twenty times the cap.
  feed(headersOf(b));
  // Entropy-coded data: every FF is stuffed (FF00), as an encoder writes it.
  const scan = noise(1024 * 1024, 7);
  for (let i = 0; i < scan.length - 1; i++) if (scan[i] === 0xff) scan[++i] = 0x00;
  scan[scan.length - 1] = 0x00;
  for (let i = 0; i < 20; i++) feed(scan);
  assert.equal(splitter.tooLarge, 1, 'the endless frame is one dropped frame');
  assert.ok(held <= max + 2 * chunk + 64 * 1024, `splitter held ${held} bytes with a cap of ${max}`);
  feed(b);
  feed(a);
  assertFrames(frames, [a, b, a], 'good frames around the endless one');
  assert.equal(splitter.corrupt, 0);
});

test('a huge complete frame followed by good frames: the huge one is dropped, the good ones come through', () => {
  const big = small.at(-1)!;
  const padded = Buffer.concat([big.subarray(0, 2), Buffer.from([0xff, 0xfe, 0xff, 0xff]), Buffer.alloc(0xfffd), big.subarray(2)]);
  const stream = Buffer.concat([a, padded, padded, b, a]);
  for (const chunkSize of [stream.length, 4096]) {
    const r = split(Array.from({ length: Math.ceil(stream.length / chunkSize) }, (_, i) => stream.subarray(i * chunkSize, (i + 1) * chunkSize)), new JpegSplitter({ maxFrameBytes: 0xfffd }));
    assertFrames(r.frames, [a, b, a], `chunks of ${chunkSize}`);
    assert.equal(r.splitter.tooLarge, 2);
    assert.equal(r.splitter.corrupt, 0);
  }
});
