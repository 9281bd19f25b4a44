// A trigger gets the frame taken nearest it, not the one that reached Node nearest it. A real
// RTSP camera (gst-rtsp-server) stamps its capture time into every frame; the frames come
// through FfmpegSource and GstreamerSource into a FrameRing, the station's own frame picker,
// and triggers placed at known moments between two captures must get the earlier of the two.
// Through ffmpeg a frame reaches Node more than a frame interval after it was taken, so with
// arrival times the ring would hand out an older frame.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readStamp, stampWidth } from '../../benchmarks/fixtures/stamp.js';
import { FfmpegSource } from '../../src/capture/ffmpeg.js';
import { FrameRing } from '../../src/capture/frame-ring.js';
import type { Frame } from '../../src/capture/frame.js';
import { GstreamerSource } from '../../src/capture/gstreamer.js';
import type { FrameSource } from '../../src/capture/source.js';
import { monotonicMs, systemClock } from '../../src/clock.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { startRtspCamera } from '../helpers/rtsp-camera.js';

const fps = 10;
const interval = 1000 / fps;
/** Frames taken; the first `settle` are not judged (ffmpeg's probe backlog, rtspsrc learning the delay). */
const frameCount = 40;
const settle = 20;
/** Triggers fall at least this fraction of an interval from a capture, so a capture time this close picks right. */
const margin = 0.3;

function sourceConfig(source: Record<string, unknown>) {
  return buildConfig({ stations: [{ id: 'cam1', source, model: 'm' }] }, { origin: 'test', baseDir: '/' }).stations[0]!.source;
}

interface Taken {
  frame: Frame;
  /** The true capture time, read from the image (CLOCK_MONOTONIC ms, as Clock.now()). */
  stamp: number;
  /** When the frame reached this loop: what capturedAt used to be. */
  arrival: number;
}

async function take(source: FrameSource, count: number): Promise<Taken[]> {
  const got: Array<{ frame: Frame; arrival: number }> = [];
  await source.start();
  const timer = setTimeout(() => void source.stop(), 30_000);
  try {
    for await (const frame of source.frames()) {
      got.push({ frame, arrival: monotonicMs() });
      if (got.length === count) break;
    }
  } finally {
    clearTimeout(timer);
    await source.stop();
  }
  assert.equal(got.length, count, `the camera gave ${got.length} of ${count} frames in 30 s; health ${JSON.stringify(source.health())}`);
  return Promise.all(got.map(async (g) => ({ ...g, stamp: await readStamp(g.frame.image.data) })));
}

/** Where between two captures each trigger falls, as a fraction of the interval: the same on every run, never within `margin` of a capture. */
const offsets = [0.3, 0.45, 0.6, 0.7, 0.35, 0.55, 0.65, 0.4, 0.5];

function judge(ctx: { diagnostic(message: string): void }, taken: Taken[], label: string): void {
  const ring = new FrameRing(taken.length);
  const arrivalRing = new FrameRing(taken.length);
  for (const t of taken) {
    ring.push(t.frame);
    arrivalRing.push({ ...t.frame, capturedAt: t.arrival });
  }
  const judged = taken.slice(settle, -1);
  const errors = judged.map((t) => t.frame.capturedAt - t.stamp);
  const shown = errors.map((e) => e.toFixed(0)).join(' ');
  for (const t of judged) {
    // The computed capture time is close enough to the true one for every trigger below, and not the arrival.
    assert.notEqual(t.frame.timeSource, 'arrival', `${label} frame ${t.frame.seq}`);
    assert.ok(Math.abs(t.frame.capturedAt - t.stamp) < margin * interval, `${label} frame ${t.frame.seq}: capturedAt ${(t.frame.capturedAt - t.stamp).toFixed(1)} ms from the stamp (all, ms: ${shown})`);
  }
  let arrivalRight = 0;
  judged.forEach((t, i) => {
    // A trigger between this capture and the next one: the frame taken nearest before it is this one.
    const at = t.stamp + offsets[i % offsets.length]! * interval;
    const expected = taken.filter((x) => x.stamp <= at).at(-1)!;
    assert.equal(expected.frame.seq, t.frame.seq);
    const chosen = ring.nearestBefore(at, interval);
    assert.ok(chosen, `${label}: no frame for a trigger ${(at - t.stamp).toFixed(0)} ms after frame ${t.frame.seq}`);
    const chosenStamp = taken.find((x) => x.frame === chosen)!.stamp;
    assert.equal(chosen.seq, expected.frame.seq, `${label}: trigger at stamp+${(at - t.stamp).toFixed(0)} ms got the frame taken ${(at - chosenStamp).toFixed(0)} ms before it`);
    assert.ok(at - chosenStamp < interval);
    if (arrivalRing.nearestBefore(at, 10 * interval)?.seq === expected.frame.seq) arrivalRight++;
  });
  errors.sort((a, b) => a - b);
  const age = judged.map((t) => t.arrival - t.stamp).sort((a, b) => a - b);
  ctx.diagnostic(
    `${label}: capture time error ${errors[0]!.toFixed(1)}…${errors.at(-1)!.toFixed(1)} ms, age on arrival median ${age[age.length >> 1]!.toFixed(0)} ms; ` +
      `by arrival time ${arrivalRight} of ${judged.length} triggers would have got the right frame`,
  );
}

describe('capture time over RTSP: a trigger gets the frame taken nearest before it', () => {
  test('ffmpeg (receive time from -use_wallclock_as_timestamps)', async (t) => {
    const camera = await startRtspCamera(t, { stamped: true, width: stampWidth, height: 128, fps });
    const source = new FfmpegSource('cam1', sourceConfig({ type: 'ffmpeg', url: camera.url }) as never, { clock: systemClock, log: silentLogger });
    const taken = await take(source, frameCount);
    assert.ok(taken.slice(settle).every((x) => x.frame.timeSource === 'receive'));
    judge(t, taken, 'ffmpeg');
  });

  test('GStreamer (rtspsrc: base time + buffer pts)', async (t) => {
    const camera = await startRtspCamera(t, { stamped: true, width: stampWidth, height: 128, fps });
    const pipeline = `rtspsrc location=${camera.url} latency=0 protocols=tcp ! rtph264depay ! avdec_h264 ! videoconvert`;
    const source = new GstreamerSource('cam1', sourceConfig({ type: 'gstreamer', pipeline }) as never, { clock: systemClock, log: silentLogger });
    const taken = await take(source, frameCount);
    judge(t, taken, 'gstreamer');
  });
});
