// FfmpegSource against real components on loopback: an RTSP camera (gst-rtsp-server) that goes
// away and comes back, video files made here with ffmpeg, configurations that can never work,
// and a Node process that exits without stopping its source.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { FfmpegSource, ffmpegArgs, parseFfmpegVersion, type SpawnProcess } from '../../src/capture/ffmpeg.js';
import type { Frame } from '../../src/capture/frame.js';
import type { SourceHealth } from '../../src/capture/source.js';
import { systemClock } from '../../src/clock.js';
import { buildConfig } from '../../src/config/load.js';
import type { FfmpegSourceConfig } from '../../src/config/schema.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { freePort, repo, tempDir } from '../helpers/env.js';
import { startRtspCamera } from '../helpers/rtsp-camera.js';

type TestContext = Parameters<typeof tempDir>[0];

/** A source config as linesight.yaml would give it: validated, defaults filled in. */
function sourceConfig(source: Record<string, unknown>): FfmpegSourceConfig {
  const config = buildConfig({ stations: [{ id: 'cam1', source: { type: 'ffmpeg', ...source }, model: 'm' }] }, { origin: 'test', baseDir: '/' });
  return config.stations[0]!.source as FfmpegSourceConfig;
}

/** The source, with a spawn that remembers every ffmpeg it ran; stopped after the test. */
function ffmpegSource(t: TestContext, source: Record<string, unknown>, spawnWith: SpawnProcess = spawn) {
  const children: ChildProcess[] = [];
  const watched: SpawnProcess = (command, args, options) => {
    const child = spawnWith(command, args, options);
    children.push(child);
    return child;
  };
  const s = new FfmpegSource('cam1', sourceConfig(source), { clock: systemClock, log: silentLogger, spawn: watched });
  t.after(() => s.stop());
  return { source: s, children };
}

function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function next(frames: AsyncIterator<Frame>): Promise<Frame> {
  const r = await frames.next();
  assert.ok(!r.done, 'the frame stream ended');
  return r.value;
}

/** Health has no events: poll it, bounded, for a state that follows from something outside (a camera dying). */
async function healthUntil(source: FfmpegSource, ms: number, what: string, ok: (h: SourceHealth) => boolean): Promise<SourceHealth> {
  const deadline = Date.now() + ms;
  for (;;) {
    const h = source.health();
    if (ok(h)) return h;
    if (Date.now() > deadline) throw new Error(`health never showed ${what}; last: ${JSON.stringify(h)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function collectAll(source: FfmpegSource): Promise<Frame[]> {
  const got: Frame[] = [];
  for await (const f of source.frames()) got.push(f);
  return got;
}

const run = promisify(execFile);

/** A 2 s, 25 fps, 320x240 H.264 clip: 50 frames. */
async function makeClip(t: TestContext): Promise<string> {
  const file = join(tempDir(t, 'clip-'), 'clip.mp4');
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-t', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', file]);
  return file;
}

const allExited = (children: ChildProcess[]) => children.every((c) => c.exitCode !== null || c.signalCode !== null);

test('command line: live inputs get low-latency flags, files -re/-stream_loop, config options before -i', () => {
  const rtsp = ffmpegArgs(sourceConfig({ url: 'rtsp://cam/1', rtspTransport: 'udp', inputOptions: { stimeout: 2000000 }, ratePerSec: 5, width: 320, height: 240 }));
  const i = rtsp.indexOf('-i');
  // Network input: each frame's receive time, printed by showinfo (hence level info) and kept by -copyts.
  assert.deepEqual(rtsp.slice(0, 3), ['-hide_banner', '-loglevel', 'level+info']);
  assert.ok(rtsp.indexOf('-use_wallclock_as_timestamps') < i && rtsp[rtsp.indexOf('-use_wallclock_as_timestamps') + 1] === '1');
  assert.ok(rtsp.indexOf('-copyts') > i);
  assert.ok(rtsp.includes('-nostdin'));
  assert.deepEqual(rtsp.slice(rtsp.indexOf('-fflags'), rtsp.indexOf('-fflags') + 4), ['-fflags', 'nobuffer', '-flags', 'low_delay']);
  assert.equal(rtsp[rtsp.indexOf('-rtsp_transport') + 1], 'udp');
  assert.ok(rtsp.indexOf('-stimeout') < i && rtsp[rtsp.indexOf('-stimeout') + 1] === '2000000');
  assert.equal(rtsp[i + 1], 'rtsp://cam/1');
  // The rate cap keeps each frame's own timestamp (no fps filter grid, no duplicates).
  assert.equal(rtsp[rtsp.indexOf('-vf') + 1], "select='not(eq(floor(t*5),floor(prev_selected_t*5)))',scale=320:240,showinfo=checksum=0");
  assert.deepEqual(rtsp.slice(-7), ['-c:v', 'mjpeg', '-q:v', '3', '-f', 'image2pipe', 'pipe:1']);
  assert.ok(!rtsp.includes('-re'));
  // Every decoded frame written once, by a single-threaded encoder (after -i: the encoder's option).
  assert.deepEqual(rtsp.slice(rtsp.indexOf('-fps_mode'), rtsp.indexOf('-fps_mode') + 2), ['-fps_mode', 'passthrough']);
  assert.ok(rtsp.lastIndexOf('-threads') > i && rtsp[rtsp.lastIndexOf('-threads') + 1] === '1');
  assert.equal(rtsp[rtsp.indexOf('-enc_time_base') + 1], '-1');
  // ffmpeg before 5.1 (Ubuntu 22.04 on a Jetson) knows the option as -vsync.
  const old = ffmpegArgs(sourceConfig({ url: 'rtsp://cam/1' }), parseFfmpegVersion('ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021'));
  assert.ok(old.includes('-vsync') && !old.includes('-fps_mode'));
  assert.equal(old[old.indexOf('-vf') + 1], 'showinfo', 'no checksum option before 5.0');
  assert.deepEqual(parseFfmpegVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright'), { major: 5, minor: 1 });
  assert.equal(parseFfmpegVersion('ffmpeg version N-112233-g0123abcd Copyright'), undefined);

  const file = ffmpegArgs(sourceConfig({ url: '/data/line:2.mp4', loop: true, output: 'raw', width: 64, height: 48 }));
  assert.ok(file.includes('-re') && file[file.indexOf('-stream_loop') + 1] === '-1');
  assert.ok(!file.includes('-fflags') && !file.includes('-rtsp_transport'));
  // A file has no capture time to report: no showinfo, arrival times.
  assert.ok(!file.includes('-copyts') && !file.includes('-use_wallclock_as_timestamps'));
  assert.equal(file[file.indexOf('-vf') + 1], 'scale=64:48');
  assert.equal(file[file.indexOf('-loglevel') + 1], 'level+error');
  assert.equal(file[file.indexOf('-i') + 1], 'file:/data/line:2.mp4');
  assert.deepEqual(file.slice(-5), ['-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);

  const device = ffmpegArgs(sourceConfig({ url: '/dev/video0', inputOptions: { input_format: 'mjpeg', video_size: '1280x1024' } }));
  assert.deepEqual(device.slice(device.indexOf('-f'), device.indexOf('-i') + 2), ['-f', 'v4l2', '-input_format', 'mjpeg', '-video_size', '1280x1024', '-i', '/dev/video0']);
});

test('RTSP camera: JPEG frames of its size; killed and restarted, health shows the outage and frames resume', async (t) => {
  const camera = await startRtspCamera(t, { width: 640, height: 480, fps: 10 });
  const { source, children } = ffmpegSource(t, { url: camera.url, reconnect: { initialMs: 100, maxMs: 400, stallMs: 3000 } });
  await source.start();
  const frames = source.frames()[Symbol.asyncIterator]();

  const first = await within(15_000, 'the first RTSP frame', next(frames));
  assert.equal(first.image.kind, 'encoded');
  const meta = await sharp(first.image.data).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 640, 480]);
  let last = first;
  for (let i = 0; i < 5; i++) last = await within(5_000, 'more RTSP frames', next(frames));
  assert.ok(last.seq > first.seq);
  // Stamped when ffmpeg read them off the network, before it parsed and decoded them.
  assert.equal(last.timeSource, 'receive');
  assert.ok(last.capturedAt < systemClock.now());
  assert.equal(source.health().state, 'streaming');

  await camera.kill();
  const outage = await healthUntil(source, 10_000, 'the outage', (h) => h.state !== 'streaming' && h.lastError !== null && h.reconnects > 0);
  assert.match(outage.state, /failed|connecting|stalled/);

  await camera.restart();
  const emittedBefore = outage.framesEmitted;
  let resumed: Frame;
  do resumed = await within(15_000, 'frames after the camera came back', next(frames));
  while (resumed.seq <= emittedBefore);
  const after = source.health();
  assert.equal(after.state, 'streaming');
  assert.equal(after.lastError, null);
  assert.ok(after.reconnects >= outage.reconnects);
  assert.equal((await sharp(resumed.image.data).metadata()).width, 640);

  await source.stop();
  assert.equal(source.health().state, 'stopped');
  assert.ok(children.length >= 3, `ffmpeg -version, then one ffmpeg per session (got ${children.length})`);
  assert.ok(allExited(children), 'no ffmpeg outlives stop()');
  assert.equal((await frames.next()).done, true);
});

test('video file as fast as possible: exactly its 50 frames, then the source ends', async (t) => {
  const clip = await makeClip(t);
  const { source, children } = ffmpegSource(t, { url: clip, realtime: false });
  await source.start();
  const got = await within(20_000, 'the clip to end', collectAll(source));
  const h = source.health();
  assert.equal(h.state, 'ended');
  assert.equal(h.framesEmitted, 50);
  // Newest frame wins: a frame the reader had not taken yet is superseded, never lost silently.
  assert.equal(got.length + source.counters.superseded, 50);
  assert.equal(source.counters.decodeErrors, 0);
  assert.equal(h.reconnects, 0);
  assert.ok(got.every((f) => f.timeSource === 'arrival'), 'a file has no capture times');
  const meta = await sharp(got.at(-1)!.image.data).metadata();
  assert.deepEqual([meta.width, meta.height], [320, 240]);
  assert.ok(allExited(children));
});

test('video file in real time at ratePerSec 10: 20 frames over about 2 s', async (t) => {
  const clip = await makeClip(t);
  const { source } = ffmpegSource(t, { url: clip, realtime: true, ratePerSec: 10 });
  await source.start();
  const started = Date.now();
  const got = await within(20_000, 'the clip to end', collectAll(source));
  const elapsed = Date.now() - started;
  // fps=10 over 2.00 s of input gives frames at t = 0, 0.1 … 1.9.
  assert.equal(source.health().framesEmitted, 20);
  assert.equal(got.length + source.counters.superseded, 20);
  assert.equal(source.health().state, 'ended');
  assert.ok(elapsed > 1500, `-re paces the file at its frame rate (took ${elapsed} ms)`);
});

test('raw output: RGB buffers of width*height*3 with kind raw', async (t) => {
  const clip = await makeClip(t);
  const { source } = ffmpegSource(t, { url: clip, realtime: false, output: 'raw', width: 160, height: 120 });
  await source.start();
  const got = await within(20_000, 'the clip to end', collectAll(source));
  assert.equal(source.health().framesEmitted, 50);
  assert.ok(got.length > 0);
  for (const f of got) {
    assert.equal(f.image.kind, 'raw');
    if (f.image.kind !== 'raw') continue;
    assert.deepEqual([f.image.width, f.image.height, f.image.format, f.image.data.length], [160, 120, 'rgb', 160 * 120 * 3]);
  }
  // testsrc's colour bars are there, not an empty buffer.
  const stats = await sharp(got[0]!.image.data, { raw: { width: 160, height: 120, channels: 3 } }).stats();
  assert.ok(stats.channels.every((c) => c.max > 100));
});

test('configurations that can never work: start() rejects with LS_ERR_SOURCE_CONFIG naming the problem', async (t) => {
  const dir = tempDir(t);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ url: 'ftp://cam.local/stream' }, /ftp:\/\/cam\.local\/stream.*unknown scheme ftp:\/\/.*rtsp:\/\/.*\/dev\/video/],
    [{ url: 'foo://x' }, /unknown scheme foo:\/\//],
    [{ url: join(dir, 'missing.mp4') }, /no such file: .*missing\.mp4/],
    [{ url: '/dev/video9' }, /no such device: \/dev\/video9/],
    [{ url: dir }, /is a directory/],
    [{ url: 'rtsp://cam/1', output: 'raw', width: 64 }, /raw needs width and height/],
  ];
  for (const [config, message] of cases) {
    const { source, children } = ffmpegSource(t, config);
    await assert.rejects(source.start(), (err) => isLinesightError(err, 'LS_ERR_SOURCE_CONFIG') && message.test(err.message), JSON.stringify(config));
    assert.equal(source.health().state, 'failed');
    assert.match(source.health().lastError!, message);
    assert.equal(children.length, 0, 'nothing is spawned for a bad config');
  }
});

test('no ffmpeg on the machine: LS_ERR_SOURCE_UNAVAILABLE', async (t) => {
  const clip = await makeClip(t);
  const missing: SpawnProcess = (_command, args, options) => spawn('ffmpeg-not-installed', args, options);
  const { source } = ffmpegSource(t, { url: clip }, missing);
  await assert.rejects(source.start(), (err) => isLinesightError(err, 'LS_ERR_SOURCE_UNAVAILABLE') && /ffmpeg not found/.test(err.message));
});

test('unreachable camera: start() resolves, health says failed and why, it keeps retrying; the password stays hidden', async (t) => {
  const port = await freePort();
  const { source, children } = ffmpegSource(t, { url: `rtsp://admin:s3cret@127.0.0.1:${port}/x`, reconnect: { initialMs: 50, maxMs: 200, stallMs: 3000 } });
  await source.start();
  const h = await healthUntil(source, 10_000, 'failed with retries', (x) => x.state === 'failed' && x.reconnects >= 2);
  assert.match(h.lastError!, /Connection refused/);
  assert.ok(!h.lastError!.includes('s3cret'), h.lastError!);
  assert.equal(h.framesEmitted, 0);
  await source.stop();
  assert.equal(source.health().state, 'stopped');
  assert.ok(allExited(children));
});

/** Gone, or a zombie waiting for a reaper that is not ours to be. */
function processGone(pid: number): boolean {
  try {
    return /^[ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? 'X');
  } catch {
    return true;
  }
}

test('Node exiting without stop() takes its ffmpeg with it', async (t) => {
  // A "camera" that accepts the connection and never answers: ffmpeg waits on it, writing
  // nothing, so only the exit hook (not SIGPIPE) can end it.
  let connected!: (socket: Socket) => void;
  const connection = new Promise<Socket>((r) => (connected = r));
  const silent = createNetServer((socket) => connected(socket.resume()));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(async () => {
    (await Promise.race([connection, undefined]))?.destroy();
    silent.close();
  });
  const url = `rtsp://127.0.0.1:${(silent.address() as AddressInfo).port}/x`;

  const script = join(tempDir(t), 'exit-early.mjs');
  const dist = join(repo, 'dist', 'src');
  writeFileSync(
    script,
    `import { spawn } from 'node:child_process';
import { FfmpegSource } from '${dist}/capture/ffmpeg.js';
import { systemClock } from '${dist}/clock.js';
import { silentLogger } from '${dist}/log.js';
const config = { type: 'ffmpeg', url: '${url}', inputOptions: {}, rtspTransport: 'tcp', output: 'jpeg', realtime: true, loop: false, jpegQuality: 3, reconnect: { stallMs: 60000 } };
const watch = (c, a, o) => { const child = spawn(c, a, o); if (a.includes('-i')) console.log('ffmpeg', child.pid); return child; };
await new FfmpegSource('cam1', config, { clock: systemClock, log: silentLogger, spawn: watch }).start();
process.stdin.once('data', () => process.exit(0));
`,
  );
  const node = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => node.kill('SIGKILL'));
  let stdout = '';
  node.stdout!.on('data', (d) => (stdout += d));
  const socket = await within(10_000, 'ffmpeg to connect', connection);
  const pid = Number(/ffmpeg (\d+)/.exec(stdout)?.[1]);
  assert.ok(pid > 0, stdout);
  const ffmpegGone = new Promise((r) => socket.once('close', r));
  node.stdin!.end('exit\n');
  await within(5_000, 'ffmpeg to die with Node', ffmpegGone);
  // The kernel closes a dying process's sockets a moment before it turns zombie; not ours to await.
  const deadline = Date.now() + 2000;
  while (!processGone(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(processGone(pid), `ffmpeg ${pid} outlived Node`);
});
