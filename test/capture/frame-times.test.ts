// Reading frame times from the camera programs' output (ffmpeg's showinfo lines, gst-launch's
// identity reports and base time) and pairing them with the images, on the fake clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShowinfoTimes, parseShowinfo } from '../../src/capture/ffmpeg-times.js';
import type { FrameImage } from '../../src/capture/frame.js';
import { GstTimes, isGstDebugLine, parseGstLine, parseGstTime } from '../../src/capture/gstreamer-times.js';
import { StampPairer, type ReadStamp } from '../../src/capture/stamp-pairer.js';
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
  // With -loglevel level+info each line carries its level.
  assert.deepEqual(parseShowinfo('[Parsed_showinfo_2 @ 0x55f7bfb81b80] [info] n:  12 pts:   1080000 pts_time:12 pos: -1'), { kind: 'frame', n: 12, pts: 1080000 });
  assert.deepEqual(parseShowinfo('[Parsed_showinfo_2 @ 0x55f7bfb81b80] [info] config in time_base: 1/1000000, frame_rate: 30/1'), { kind: 'timebase', num: 1, den: 1000000 });
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

// Lines as gst-launch-1.0 1.22 writes them with -v and GST_DEBUG=pipeline:5.
const gstBuffer = (bytes: number, pts: string) =>
  `/GstPipeline:pipeline0/GstIdentity:linesight_time: last-message = chain   ******* (linesight_time:sink) (${bytes} bytes, dts: ${pts}, pts: ${pts}, duration: 0:00:00.033333333, offset: -1, offset_end: -1, flags: 00004240 discont marker tag-memory , meta: none) 0x55e1a4ba26c0`;
const gstBase = '0:00:00.424938258  7355 0x557533e67e40 DEBUG               pipeline gstpipeline.c:494:gst_pipeline_change_state:<pipeline0> start_time=0:00:00.000000000, now=0:06:13.796567843, base_time 0:06:13.796567843';

test('GStreamer times: H:MM:SS.nnnnnnnnn in ms, "none"; identity reports, the base time, the clock', () => {
  assert.equal(parseGstTime('0:06:13.796567843'), 373_796.567843);
  assert.equal(parseGstTime('1234:00:00.000000001'), 1234 * 3_600_000 + 1e-6);
  assert.equal(parseGstTime('none'), undefined);
  assert.equal(parseGstTime('99:99:99.999999999'), undefined);
  assert.deepEqual(parseGstLine(gstBuffer(9423, '0:00:00.002972728')), { kind: 'buffer', bytes: 9423, ptsMs: 2.972728 });
  assert.deepEqual(parseGstLine(gstBuffer(9423, 'none')), { kind: 'buffer', bytes: 9423, ptsMs: undefined });
  assert.deepEqual(parseGstLine(gstBase), { kind: 'base', ms: 373_796.567843 });
  assert.deepEqual(parseGstLine('New clock: GstSystemClock'), { kind: 'clock', name: 'GstSystemClock' });
  assert.equal(parseGstLine('/GstPipeline:pipeline0/GstIdentity:identity0: last-message = chain   ******* (identity0:sink) (9 bytes, dts: none, pts: 0:00:00.1, duration'), undefined, 'another identity');
  assert.equal(parseGstLine('/GstPipeline:pipeline0/GstIdentity:linesight_time: last-message = event   ******* (linesight_time:sink) E (type: eos (28174), ) 0x7f1b'), undefined);
  assert.ok(isGstDebugLine(gstBase));
  assert.ok(!isGstDebugLine('ERROR: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Could not open resource for reading and writing.'));
});

test('GstTimes: frames reported before the clock and base time wait for them; then base + pts on the monotonic clock, with the JPEG size', () => {
  const stamps: ReadStamp[] = [];
  const other: string[] = [];
  const times = new GstTimes((s) => stamps.push(s), (line) => other.push(line), 'receive');
  times.stdout(`Setting pipeline to PLAYING ...\n${gstBuffer(100, '0:00:00.100000000')}\n`);
  assert.equal(stamps.length, 0, 'no base time yet');
  times.stdout('New clock: GstSystemClock\n');
  times.stderr(`${gstBase}\nWARNING: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Could not read from resource.\n0:00:01.1 7355 0x5575 DEBUG pipeline gstpipeline.c:506:gst_pipeline_change_state:<pipeline0> NOT adjusting base_time\n`);
  times.stdout(gstBuffer(200, '0:00:00.200000000') + '\n' + gstBuffer(300, 'none') + '\n');
  assert.deepEqual(stamps, [
    { bytes: 100, stamp: { clock: 'mono', ms: 373_796.567843 + 100, source: 'receive' } },
    { bytes: 200, stamp: { clock: 'mono', ms: 373_796.567843 + 200, source: 'receive' } },
    { bytes: 300, stamp: undefined },
  ]);
  assert.deepEqual(other, ['WARNING: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Could not read from resource.']);
});

test('GstTimes: another pipeline clock, or no base time, gives frames without times (sizes still reported) and says why once', () => {
  const audio: ReadStamp[] = [];
  const whyAudio: string[] = [];
  const a = new GstTimes((s) => audio.push(s), () => {}, 'camera');
  a.onUnusable = (why) => whyAudio.push(why);
  a.stdout(`New clock: GstPulseSrcClock\n${gstBuffer(10, '0:00:00.1')}\n`);
  a.stderr(gstBase + '\n');
  a.stdout(gstBuffer(11, '0:00:00.200000000') + '\n');
  assert.deepEqual(audio, [
    { bytes: 10, stamp: undefined },
    { bytes: 11, stamp: undefined },
  ]);
  assert.deepEqual(whyAudio, ['the pipeline runs on GstPulseSrcClock, not GstSystemClock']);

  const nodebug: ReadStamp[] = [];
  const whyNoDebug: string[] = [];
  const b = new GstTimes((s) => nodebug.push(s), () => {}, 'camera', 2);
  b.onUnusable = (why) => whyNoDebug.push(why);
  b.stdout('New clock: GstSystemClock\n');
  for (let i = 1; i <= 4; i++) b.stdout(gstBuffer(i, `0:00:00.${i}00000000`) + '\n');
  assert.deepEqual(nodebug.map((s) => s.bytes), [1, 2, 3, 4], 'every frame still reported, in order');
  assert.ok(nodebug.every((s) => s.stamp === undefined));
  assert.match(whyNoDebug.join(), /no base time/);
  assert.equal(whyNoDebug.length, 1);
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
