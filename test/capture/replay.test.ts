// ReplaySource reads each file when it is replayed (not all at start): edits after start show,
// vanished and oversized files are skipped and counted, order and looping are kept.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { ReplaySource } from '../../src/capture/replay.js';
import type { Frame } from '../../src/capture/frame.js';
import { samplesDir, tempDir } from '../helpers/env.js';
import { FakeClock } from '../helpers/fake-clock.js';

const samples = readdirSync(samplesDir).filter((n) => n.endsWith('.jpg')).sort();
const sample = (i: number) => readFileSync(join(samplesDir, samples[i]!));

function replay(t: Parameters<typeof tempDir>[0], path: string, extra: { loop?: boolean; maxFileMB?: number } = {}) {
  const logs: string[] = [];
  const log = createLogger({ level: 'warn', write: (line) => logs.push(line) });
  const source = new ReplaySource('cam1', { type: 'replay', path, ratePerSec: 200, loop: extra.loop ?? true, keepSchedule: false, maxFileMB: extra.maxFileMB ?? 32 }, { clock: systemClock, log });
  const drops: string[] = [];
  source.onDrop = (reason) => drops.push(reason);
  t.after(() => source.stop());
  return { source, logs, drops };
}

async function take(source: ReplaySource, n: number): Promise<Frame[]> {
  const got: Frame[] = [];
  if (n === 0) return got;
  for await (const f of source.frames()) {
    got.push(f);
    if (got.length === n) break;
  }
  return got;
}

test('files are read when replayed: an edit after start shows, a vanished file is skipped, a new one waits for a restart', async (t) => {
  const dir = tempDir(t);
  for (const [i, name] of ['a.jpg', 'b.jpg', 'c.jpg'].entries()) copyFileSync(join(samplesDir, samples[i]!), join(dir, name));
  const { source, logs, drops } = replay(t, dir);
  await source.start();
  writeFileSync(join(dir, 'b.jpg'), sample(5));
  rmSync(join(dir, 'c.jpg'));
  copyFileSync(join(samplesDir, samples[6]!), join(dir, 'd.jpg'));
  const frames = await take(source, 5);
  assert.deepEqual(frames.map((f) => f.origin), ['a.jpg', 'b.jpg', 'a.jpg', 'b.jpg', 'a.jpg']);
  assert.ok(Buffer.from(frames[1]!.image.data).equals(sample(5)), 'b.jpg as it is now, not as it was at start');
  assert.ok(Buffer.from(frames[0]!.image.data).equals(sample(0)));
  assert.deepEqual(frames.map((f) => f.seq), [1, 2, 3, 4, 5]);
  assert.equal(source.skipped.vanished, 2, 'c.jpg on each pass');
  assert.deepEqual(drops, [], 'a vanished file was never a frame');
  assert.equal(logs.filter((l) => /replay skips c\.jpg: no longer there/.test(l)).length, 1, logs.join('\n'));
});

test('a file over maxFileMB is skipped, counted as a too-large drop and logged once; the others still play', async (t) => {
  const dir = tempDir(t);
  copyFileSync(join(samplesDir, samples[0]!), join(dir, '1.jpg'));
  writeFileSync(join(dir, '2.jpg'), Buffer.alloc(1024 * 1024 + 1, 0xab));
  copyFileSync(join(samplesDir, samples[1]!), join(dir, '3.jpg'));
  const { source, logs, drops } = replay(t, dir, { maxFileMB: 1 });
  await source.start();
  const frames = await take(source, 4);
  assert.deepEqual(frames.map((f) => f.origin), ['1.jpg', '3.jpg', '1.jpg', '3.jpg']);
  assert.equal(source.skipped.tooLarge, 2);
  assert.equal(source.health().framesTooLarge, 2);
  assert.deepEqual(drops, ['too-large', 'too-large']);
  assert.equal(logs.filter((l) => /replay skips 2\.jpg: 1048577 bytes, over maxFileMB \(1 MiB\)/.test(l)).length, 1, logs.join('\n'));
});

test('without loop, one pass in name order, then the source ends', async (t) => {
  const dir = tempDir(t);
  for (const name of ['03.png', '01.jpg', '02.jpeg', 'notes.txt']) copyFileSync(join(samplesDir, samples[0]!), join(dir, name));
  const { source } = replay(t, dir, { loop: false });
  await source.start();
  const frames: Frame[] = [];
  for await (const f of source.frames()) frames.push(f);
  assert.deepEqual(frames.map((f) => f.origin), ['01.jpg', '02.jpeg', '03.png']);
  assert.equal(source.health().state, 'ended');
});

test('when every listed file is gone, the source fails with why instead of spinning', async (t) => {
  const dir = tempDir(t);
  copyFileSync(join(samplesDir, samples[0]!), join(dir, 'only.jpg'));
  const { source } = replay(t, dir);
  await source.start();
  rmSync(join(dir, 'only.jpg'));
  assert.deepEqual(await take(source, 1_000), []);
  const h = source.health();
  assert.equal(h.state, 'failed');
  assert.match(h.lastError!, /no readable image left in .+ \(1 skipped\)/);
});

/** Steps a source on a fake clock: timers fire only on advance(), the file reads are real. */
function stepper(source: ReplaySource, clock: FakeClock) {
  const it = source.frames()[Symbol.asyncIterator]();
  return async (jump = 0): Promise<Frame> => {
    const p = it.next();
    let got: IteratorResult<Frame> | undefined;
    void p.then((r) => (got = r));
    await new Promise((r) => setImmediate(r));
    clock.advance(jump);
    for (const end = Date.now() + 5000; !got && Date.now() < end; ) {
      clock.advance(0);
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.ok(got && !got.done, 'a frame');
    return got.value;
  };
}

const scheduled = (clock: FakeClock, keepSchedule: boolean) =>
  new ReplaySource('cam1', { type: 'replay', path: samplesDir, ratePerSec: 10, loop: true, keepSchedule, maxFileMB: 32 }, { clock });

test('keepSchedule: a frame that falls due while the loop is busy goes out at once, stamped when it was due, so the rate holds; without it the schedule moves on', async () => {
  for (const keepSchedule of [true, false]) {
    const clock = new FakeClock();
    const source = scheduled(clock, keepSchedule);
    await source.start();
    const next = stepper(source, clock);
    const first = await next();
    // The loop was busy for 350 ms when the second frame fell due (100 ms after the first).
    const late = await next(350);
    if (keepSchedule) {
      const after = [await next(), await next()];
      assert.deepEqual([late, ...after].map((f) => f.capturedAt - first.capturedAt), [100, 200, 300], 'stamped when due, none skipped');
      assert.ok([first, late, ...after].every((f) => f.timeSource === 'camera' && f.capturedWall - f.capturedAt === first.capturedWall - first.capturedAt));
      assert.equal(clock.now() - first.capturedAt, 350, 'the late ones went out at once');
    } else {
      assert.equal(late.capturedAt - first.capturedAt, 350, 'stamped on arrival');
      assert.equal(late.timeSource, 'arrival');
    }
    await source.stop();
  }
});

test('keepSchedule catches up at most a second: frames due longer ago are dropped and counted', async () => {
  const clock = new FakeClock();
  const source = scheduled(clock, true);
  const drops: string[] = [];
  source.onDrop = (reason) => drops.push(reason);
  await source.start();
  const next = stepper(source, clock);
  const first = await next();
  // Blocked for 3.35 s: the frames due at +100 ... +2300 ms are more than a second old.
  const late = await next(3350);
  assert.equal(late.capturedAt - first.capturedAt, 2400);
  assert.equal(drops.length, 23);
  assert.ok(drops.every((r) => r === 'superseded'));
  assert.equal((await next()).capturedAt - first.capturedAt, 2500, 'then every frame again');
  await source.stop();
});
