// Reading frame times from the camera programs' output (ffmpeg's showinfo lines) and pairing
// them with the images, on the fake clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShowinfoTimes, parseShowinfo } from '../../src/capture/ffmpeg-times.js';
import type { FrameImage } from '../../src/capture/frame.js';
import { StampPairer } from '../../src/capture/stamp-pairer.js';
import type { SessionFrame } from '../../src/capture/stream-source.js';
import { FakeClock } from '../helpers/fake-clock.js';

// Lines as ffmpeg 5.1 writes them at -loglevel info.
const showinfoConfig = '[Parsed_showinfo_1 @ 0x55c46783c8c0] config in time_base: 1/90000, frame_rate: 10/1';
const showinfoFrame = (n: number, pts: string) =>
  `[Parsed_showinfo_1 @ 0x55c46783c8c0] n:${String(n).padStart(4)} pts:${pts.padStart(7)} pts_time:1.79619e+09 duration:   9000 duration_time:0.1 pos:       -1 fmt:yuvj420p sar:1/1 s:1280x1024 i:P iskey:0 type:P`;

test('showinfo lines: the input time base, and each frame\'s number and pts; everything else is not showinfo\'s', () => {
  assert.deepEqual(parseShowinfo(showinfoConfig), { kind: 'timebase', num: 1, den: 90000 });
  assert.deepEqual(parseShowinfo(showinfoFrame(0, '161657548869012')), { kind: 'frame', n: 0, pts: 161657548869012 });
  assert.deepEqual(parseShowinfo(showinfoFrame(12, 'NOPTS')), { kind: 'frame', n: 12, pts: null });
  assert.equal(parseShowinfo('[Parsed_showinfo_1 @ 0x55c46783c8c0] config out time_base: 0/0, frame_rate: 0/0'), undefined);
  assert.equal(parseShowinfo('[rtsp @ 0x5574] method DESCRIBE failed: 404 Not Found'), undefined);
  assert.equal(parseShowinfo('n:   0 pts:      0'), undefined, 'only with the filter\'s prefix');
});

test('ShowinfoTimes: lines split anywhere across chunks; pts × time base in ms; other lines go on, showinfo\'s extra lines do not', () => {
  const times: Array<number | undefined> = [];
  const other: string[] = [];
  const reader = new ShowinfoTimes((ms) => times.push(ms), (line) => other.push(line));
  const text = [
    'Input #0, rtsp, from \'rtsp://127.0.0.1:8554/cam\':',
    showinfoConfig,
    showinfoFrame(0, '161657548869012'),
    '[Parsed_showinfo_1 @ 0x55c46783c8c0]   side data - ...',
    showinfoFrame(1, '161657548878012'),
    showinfoFrame(2, 'NOPTS'),
    '[rtsp @ 0x5574] RTP: missed 3 packets',
  ].join('\n');
  for (let i = 0; i < text.length; i += 17) reader.push(text.slice(i, i + 17));
  reader.end();
  assert.deepEqual(times, [(161657548869012 / 90000) * 1000, (161657548878012 / 90000) * 1000, undefined]);
  assert.ok(Math.abs(times[1]! - times[0]! - 100) < 1e-6, '9000 ticks of 1/90000 s are 100 ms');
  assert.deepEqual(other, ['Input #0, rtsp, from \'rtsp://127.0.0.1:8554/cam\':', '[rtsp @ 0x5574] RTP: missed 3 packets']);
});

test('ShowinfoTimes: frames before the time base line have no time', () => {
  const times: Array<number | undefined> = [];
  const reader = new ShowinfoTimes((ms) => times.push(ms), () => {});
  reader.push(`${showinfoFrame(0, '900')}\n${showinfoConfig}\n${showinfoFrame(1, '900')}\n`);
  assert.deepEqual(times, [undefined, 10]);
});

const jpeg = (bytes: number): FrameImage => ({ kind: 'encoded', data: new Uint8Array(bytes) });
const at = (ms: number) => ({ clock: 'wall' as const, ms, source: 'receive' as const });

function pairing(clock = new FakeClock(), limits = { maxLag: 3, maxWaitMs: 500 }) {
  const out: SessionFrame[] = [];
  const gaveUp: string[] = [];
  const pairer = new StampPairer((f) => out.push(f), clock, limits);
  pairer.onGiveUp = (why) => gaveUp.push(why);
  return { pairer, out, gaveUp, clock };
}

test('StampPairer: the k-th time goes with the k-th image whichever pipe is read first', () => {
  const { pairer, out, gaveUp } = pairing();
  pairer.stamp({ stamp: at(1) });
  pairer.image(jpeg(10));
  pairer.image(jpeg(11));
  pairer.image(jpeg(12));
  assert.equal(out.length, 1, 'images wait for their times');
  pairer.stamp({ stamp: at(2) });
  pairer.stamp({ stamp: undefined });
  assert.deepEqual(
    out.map((f) => [f.image.data.length, f.stamp?.ms]),
    [
      [10, 1],
      [11, 2],
      [12, undefined],
    ],
  );
  assert.deepEqual(gaveUp, []);
});

test('StampPairer: a size that does not match ends pairing; later images go on without times, in order', () => {
  const { pairer, out, gaveUp } = pairing();
  pairer.image(jpeg(10));
  pairer.image(jpeg(20));
  pairer.stamp({ stamp: at(1), bytes: 10 });
  pairer.stamp({ stamp: at(2), bytes: 21 });
  pairer.image(jpeg(30));
  pairer.stamp({ stamp: at(3), bytes: 30 });
  assert.deepEqual(
    out.map((f) => [f.image.data.length, f.stamp?.ms]),
    [
      [10, 1],
      [20, undefined],
      [30, undefined],
    ],
  );
  assert.equal(gaveUp.length, 1);
  assert.match(gaveUp[0]!, /21-byte image came with a 20-byte one/);
});

test('StampPairer: one side running ahead by more than maxLag ends pairing', () => {
  const images = pairing();
  for (let i = 0; i < 4; i++) images.pairer.image(jpeg(i + 1));
  assert.equal(images.out.length, 4, 'flushed without times');
  assert.match(images.gaveUp[0]!, /4 images arrived without their capture times/);

  const stamps = pairing();
  for (let i = 0; i < 4; i++) stamps.pairer.stamp({ stamp: at(i) });
  stamps.pairer.image(jpeg(1));
  assert.equal(stamps.out[0]!.stamp, undefined);
  assert.match(stamps.gaveUp[0]!, /4 capture times arrived without their images/);
});

test('StampPairer: an image whose time does not come within maxWaitMs goes on without it (fake clock)', () => {
  const { pairer, out, gaveUp, clock } = pairing();
  pairer.image(jpeg(1));
  clock.advance(300);
  pairer.image(jpeg(2));
  clock.advance(199);
  assert.equal(out.length, 0, 'the wait is counted from the oldest image, not restarted by newer ones');
  clock.advance(1);
  assert.equal(out.length, 2);
  assert.match(gaveUp[0]!, /no capture time within 500 ms/);
  assert.equal(clock.pendingTimers, 0);
});

test('StampPairer: end() lets waiting images go; a pairing that keeps up leaves no timer behind', () => {
  const { pairer, out, clock } = pairing();
  pairer.stamp({ stamp: at(5) });
  pairer.image(jpeg(1));
  assert.equal(clock.pendingTimers, 0);
  pairer.image(jpeg(2));
  assert.equal(clock.pendingTimers, 1);
  pairer.end();
  assert.deepEqual(
    out.map((f) => f.stamp?.ms),
    [5, undefined],
  );
  assert.equal(clock.pendingTimers, 0);
});
