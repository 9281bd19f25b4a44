// GstreamerSource with real gst-launch-1.0 pipelines: videotestsrc, pipelines that end or never
// parse, elements this box lacks, and Aravis' fake GigE Vision camera on loopback through
// aravissrc. OpencvSource without its optional addon, and with a stand-in for it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type { Frame } from '../../src/capture/frame.js';
import { GstreamerSource, firstElement, launchArgs, launchEnv, pipelineTimeSource, splitPipeline } from '../../src/capture/gstreamer.js';
import { OpencvSource, openCvInstallHint, type OpenCv, type OpenCvMat } from '../../src/capture/opencv.js';
import type { FrameSource } from '../../src/capture/source.js';
import { systemClock } from '../../src/clock.js';
import { buildConfig } from '../../src/config/load.js';
import type { GstreamerSourceConfig, OpencvSourceConfig } from '../../src/config/schema.js';
import { isLinesightError } from '../../src/errors.js';
import { createLogger, silentLogger, type Logger } from '../../src/log.js';
import { repo, tempDir } from '../helpers/env.js';

/** A source config as linesight.yaml would give it: validated, defaults filled in. */
function sourceConfig<T>(source: Record<string, unknown>): T {
  const config = buildConfig({ stations: [{ id: 'cam1', source, model: 'm' }] }, { origin: 'test', baseDir: '/' });
  return config.stations[0]!.source as T;
}

const gstConfig = (source: Record<string, unknown>) => sourceConfig<GstreamerSourceConfig>({ type: 'gstreamer', ...source });
const deps = { clock: systemClock, log: silentLogger };

function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The next `count` frames, or an error with the source's health after `ms`. */
async function takeFrames(source: FrameSource, count: number, ms: number): Promise<Frame[]> {
  const got: Frame[] = [];
  const work = (async () => {
    for await (const f of source.frames()) {
      got.push(f);
      if (got.length === count) break;
    }
    return got;
  })();
  return within(ms, `${count} frames`, work).catch((err: Error) => {
    throw new Error(`${err.message}; got ${got.length}; health ${JSON.stringify(source.health())}`);
  });
}

/** Decodes the whole JPEG, not only its header. */
async function decoded(frame: Frame): Promise<{ format: string | undefined; width: number; height: number; channels: number }> {
  assert.equal(frame.image.kind, 'encoded');
  const meta = await sharp(frame.image.data).metadata();
  const { info } = await sharp(frame.image.data).raw().toBuffer({ resolveWithObject: true });
  return { format: meta.format, width: info.width, height: info.height, channels: info.channels };
}

/** Live (not zombie) processes whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const state = /\) (\S)/.exec(readFileSync(`/proc/${name}/stat`, 'utf8'))?.[1];
      if (cmdline.includes(marker) && state !== 'Z' && Number(name) !== process.pid) pids.push(Number(name));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

/** A logger whose warnings a test can await ("camera session failed"). */
function watchedLog(): { log: Logger; next(msg: string, ms: number): Promise<Record<string, unknown>> } {
  const seen: Array<Record<string, unknown>> = [];
  const waiters: Array<{ msg: string; resolve: (r: Record<string, unknown>) => void }> = [];
  const log = createLogger({
    level: 'warn',
    format: 'json',
    write: (line) => {
      const record = JSON.parse(line) as Record<string, unknown>;
      seen.push(record);
      for (const w of waiters.filter((x) => x.msg === record.msg)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(record);
      }
    },
  });
  return {
    log,
    next: (msg, ms) => {
      const already = seen.find((r) => r.msg === msg);
      if (already) return Promise.resolve(already);
      return within(ms, `log "${msg}"`, new Promise((resolve) => waiters.push({ msg, resolve })));
    },
  };
}

/** Resolves when a line of the child's output matches `ready`; rejects on `failed` or exit. */
function outputLine(child: ChildProcess, ready: RegExp, failed: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    let settled = false;
    const onData = (d: Buffer) => {
      if (settled) return; // keep draining, so a chatty child never blocks on a full pipe
      text = (text + d.toString()).slice(-8192);
      const bad = failed.exec(text);
      const good = ready.exec(text);
      if (bad || good) settled = true;
      if (bad) reject(new Error(`${child.spawnfile}: ${bad[0]}`));
      else if (good) resolve(good[0]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`${child.spawnfile} exited with code ${code}: ${text.trim().slice(-500)}`));
    });
  });
}

/** Whether `pid` is a live process (a zombie waiting to be reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    return /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] !== 'Z';
  } catch {
    return false;
  }
}

describe('splitPipeline and the gst-launch command line', () => {
  test('splits like a shell: quotes group and are removed, backslash escapes, whitespace of any kind separates', () => {
    assert.deepEqual(splitPipeline('videotestsrc  is-live=true !\n videoconvert'), ['videotestsrc', 'is-live=true', '!', 'videoconvert']);
    assert.deepEqual(splitPipeline('capsfilter caps="video/x-raw, width=(int)640"'), ['capsfilter', 'caps=video/x-raw, width=(int)640']);
    assert.deepEqual(splitPipeline(`aravissrc features='Gain=10 ExposureTime=500' ! videoconvert`), ['aravissrc', 'features=Gain=10 ExposureTime=500', '!', 'videoconvert']);
    assert.deepEqual(splitPipeline('filesrc location=/data/line\\ 2.mp4'), ['filesrc', 'location=/data/line 2.mp4']);
    assert.deepEqual(splitPipeline('textoverlay text="say \\"hi\\""'), ['textoverlay', 'text=say "hi"']);
    assert.deepEqual(splitPipeline('a "" b'), ['a', '', 'b']);
    assert.deepEqual(splitPipeline('   '), []);
    assert.throws(() => splitPipeline('capsfilter caps="video/x-raw'), (err) => isLinesightError(err, 'LS_ERR_SOURCE_CONFIG') && /unterminated " quote/.test(err.message));
  });

  test('appends the JPEG encoder at the configured quality, the identity that reports each JPEG, and the fd 3 sink; a trailing "!" is forgiven', () => {
    const args = launchArgs(gstConfig({ pipeline: 'videotestsrc ! videoconvert !', jpegQuality: 75 }));
    assert.deepEqual(args, ['-e', '-v', 'videotestsrc', '!', 'videoconvert', '!', 'jpegenc', 'quality=75', '!', 'identity', 'name=linesight_time', 'silent=false', '!', 'fdsink', 'fd=3']);
    assert.ok(launchArgs(gstConfig({ pipeline: 'videotestsrc' })).includes('quality=90'));
  });

  test('environment: the pipeline debug category added to any GST_DEBUG, English messages', () => {
    assert.equal(launchEnv({}).GST_DEBUG, 'pipeline:5');
    assert.equal(launchEnv({ GST_DEBUG: '*:3' }).GST_DEBUG, '*:3,pipeline:5');
    assert.equal(launchEnv({}).LANGUAGE, 'en');
    assert.equal(launchEnv({}).GST_DEBUG_NO_COLOR, '1');
  });

  test('what buffer timestamps mean: a camera\'s clock, or receipt for network sources (rtspsrc unless ntp-sync=true)', () => {
    const of = (p: string) => pipelineTimeSource(splitPipeline(p));
    assert.equal(of('rtspsrc location=rtsp://cam/1 latency=0 ! rtph264depay ! avdec_h264'), 'receive');
    assert.equal(of('rtspsrc location=rtsp://cam/1 ntp-sync=true ! rtph264depay ! avdec_h264'), 'camera');
    assert.equal(of('souphttpsrc location=http://cam/mjpg ! multipartdemux ! jpegdec'), 'receive');
    assert.equal(of('v4l2src device=/dev/video0 ! videoconvert'), 'camera');
    assert.equal(of('nvarguscamerasrc sensor-id=0 ! nvvidconv'), 'camera');
    assert.equal(of('aravissrc camera-name=10.0.0.5 ! videoconvert'), 'camera');
  });

  test('the source element is the first word; URIs, bins and caps are not checked', () => {
    assert.equal(firstElement(splitPipeline('nvarguscamerasrc sensor-id=0 ! nvvidconv')), 'nvarguscamerasrc');
    assert.equal(firstElement(['videotestsrc!videoconvert']), 'videotestsrc');
    assert.equal(firstElement(['file:///x.mp4', '!', 'decodebin']), undefined);
    assert.equal(firstElement(['(', 'videotestsrc', ')']), undefined);
    assert.equal(firstElement([]), undefined);
  });
});

describe('GstreamerSource', () => {
  test('videotestsrc: decodable 320x240 JPEG frames; stop() ends gst-launch with EOS, no process left', async (t) => {
    const marker = `lstest${process.pid}stop`;
    const source = new GstreamerSource(
      'cam1',
      gstConfig({ pipeline: `videotestsrc name=${marker} is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! videoconvert` }),
      deps,
    );
    t.after(() => source.stop());
    await source.start();
    const frames = await takeFrames(source, 3, 15_000);
    for (const f of frames) assert.deepEqual(await decoded(f), { format: 'jpeg', width: 320, height: 240, channels: 3 });
    assert.ok(frames[2]!.seq > frames[0]!.seq);
    // The pipeline's own timestamps (base time + pts on the monotonic clock), in order, before arrival.
    assert.deepEqual(frames.map((f) => f.timeSource), ['camera', 'camera', 'camera']);
    assert.ok(frames[0]!.capturedAt < frames[1]!.capturedAt && frames[1]!.capturedAt < frames[2]!.capturedAt);
    assert.ok(frames[2]!.capturedAt <= systemClock.now());
    assert.equal(source.health().timeSource, 'camera');
    assert.equal(source.health().state, 'streaming');

    const pids = processesWith(marker);
    assert.equal(pids.length, 1, `one gst-launch-1.0 for the session: ${pids}`);
    const stopping = Date.now();
    await source.stop();
    const stopMs = Date.now() - stopping;
    assert.deepEqual(processesWith(marker), [], 'no gst-launch-1.0 of this test is left');
    assert.ok(!alive(pids[0]!), `pid ${pids[0]} is gone`);
    // Well under the 2 s SIGKILL fallback: SIGINT made gst-launch -e finish the stream itself.
    assert.ok(stopMs < 1_500, `stop() took ${stopMs} ms`);
    assert.equal(source.health().state, 'stopped');
  });

  test('a pipeline that ends (num-buffers=10) is reopened: reconnects, and frames continue across sessions', async (t) => {
    // The quoted caps also prove that a value with spaces reaches gst-launch as one property.
    const source = new GstreamerSource(
      'cam1',
      gstConfig({
        pipeline: 'videotestsrc num-buffers=10 is-live=true ! capsfilter caps="video/x-raw, width=(int)160, height=(int)120, framerate=(fraction)30/1" ! videoconvert',
        reconnect: { initialMs: 50, maxMs: 200, stallMs: 5000 },
      }),
      deps,
    );
    t.after(() => source.stop());
    await source.start();
    // 25 frames taken means at least 25 made, by at least three 10-frame sessions.
    const frames = await takeFrames(source, 25, 25_000);
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.seq > frames[i - 1]!.seq, 'sequence keeps rising across sessions');
    const h = source.health();
    assert.ok(h.reconnects >= 2, `reconnects ${h.reconnects}`);
    assert.deepEqual(await decoded(frames.at(-1)!), { format: 'jpeg', width: 160, height: 120, channels: 3 });
    assert.equal(source.counters.decodeErrors, 0);
  });

  test('a camera that goes quiet: the stall watchdog ends its gst-launch-1.0 and opens a new one', async (t) => {
    const marker = `lstest${process.pid}stall`;
    const watch = watchedLog();
    // One frame at once, the next only after 10 s: far past the 300 ms watchdog.
    const source = new GstreamerSource(
      'cam1',
      gstConfig({ pipeline: `videotestsrc name=${marker} is-live=true ! video/x-raw,width=160,height=120,framerate=1/10 ! videoconvert`, reconnect: { initialMs: 50, maxMs: 100, stallMs: 300 } }),
      { clock: systemClock, log: watch.log },
    );
    t.after(() => source.stop());
    await source.start();
    const [first] = await takeFrames(source, 1, 15_000);
    const firstSession = processesWith(marker);
    await watch.next('camera stalled; reconnecting', 5_000);
    const [second] = await takeFrames(source, 1, 15_000);
    assert.ok(second!.seq > first!.seq);
    assert.ok(source.health().reconnects >= 1);
    assert.equal(firstSession.length, 1);
    assert.ok(!alive(firstSession[0]!), 'the stalled session\'s process is gone');
    assert.ok(processesWith(marker).length <= 1, 'never more than one gst-launch-1.0 per source');
  });

  test('a Jetson pipeline on this box: start() rejects LS_ERR_SOURCE_UNAVAILABLE naming nvarguscamerasrc', async () => {
    const source = new GstreamerSource(
      'cam1',
      gstConfig({ pipeline: 'nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM),width=1920,height=1080 ! nvvidconv ! video/x-raw,format=BGRx ! videoconvert' }),
      deps,
    );
    await assert.rejects(source.start(), (err) => isLinesightError(err, 'LS_ERR_SOURCE_UNAVAILABLE') && /GStreamer element nvarguscamerasrc \(NVIDIA JetPack, on Jetson boards only\) not installed/.test(err.message));
    assert.equal(source.health().state, 'failed');
    assert.match(source.health().lastError!, /nvarguscamerasrc/);
    await source.stop();
    assert.equal(source.health().state, 'failed');
  });

  test('a syntax error: start() resolves, health is failed with gst-launch\'s own words, nothing crashes', async (t) => {
    const watch = watchedLog();
    const source = new GstreamerSource('cam1', gstConfig({ pipeline: 'videotestsrc ! ! videoconvert', reconnect: { initialMs: 10_000, maxMs: 10_000, stallMs: 5000 } }), {
      clock: systemClock,
      log: watch.log,
    });
    t.after(() => source.stop());
    await source.start();
    await watch.next('camera session failed', 15_000);
    const h = source.health();
    assert.equal(h.state, 'failed');
    assert.match(h.lastError!, /gst-launch-1\.0 exited with code 1: WARNING: erroneous pipeline: syntax error/);
    assert.equal(h.framesEmitted, 0);
    await source.stop();
    assert.equal(source.health().state, 'stopped');
  });

  test('no gst-launch-1.0 on PATH: LS_ERR_SOURCE_UNAVAILABLE naming gstreamer1.0-tools', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const source = new GstreamerSource('cam1', gstConfig({ pipeline: 'videotestsrc ! videoconvert' }), deps);
      await assert.rejects(source.start(), (err) => isLinesightError(err, 'LS_ERR_SOURCE_UNAVAILABLE') && /gst-launch-1\.0 not found.*gstreamer1\.0-tools/.test(err.message));
    } finally {
      process.env.PATH = path;
    }
  });

  test('Node exiting without stop() (process.exit) takes gst-launch-1.0 with it', async (t) => {
    const marker = `lstest${process.pid}exit`;
    const script = join(tempDir(t), 'exit.mjs');
    const module = pathToFileURL(join(repo, 'dist', 'src', 'capture', 'gstreamer.js')).href;
    const clock = pathToFileURL(join(repo, 'dist', 'src', 'clock.js')).href;
    const log = pathToFileURL(join(repo, 'dist', 'src', 'log.js')).href;
    const config = { type: 'gstreamer', pipeline: `videotestsrc name=${marker} is-live=true ! videoconvert`, jpegQuality: 80, reconnect: { initialMs: 500, maxMs: 30000, stallMs: 5000 } };
    writeFileSync(
      script,
      `import { GstreamerSource } from ${JSON.stringify(module)};
import { systemClock } from ${JSON.stringify(clock)};
import { silentLogger } from ${JSON.stringify(log)};
const source = new GstreamerSource('cam1', ${JSON.stringify(config)}, { clock: systemClock, log: silentLogger });
await source.start();
for await (const frame of source.frames()) {
  console.log('frame', frame.seq);
  process.exit(0);
}
`,
    );
    const node = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => node.kill('SIGKILL'));
    let out = '';
    node.stdout.on('data', (d: Buffer) => (out += d.toString()));
    node.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await within(20_000, 'the script to exit', new Promise((resolve) => node.once('exit', resolve)));
    assert.equal(code, 0, out);
    assert.match(out, /frame 1/);
    // The exit hook sent SIGKILL to a process that is not ours to wait for: poll, bounded.
    const deadline = Date.now() + 3_000;
    while (processesWith(marker).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(processesWith(marker), [], 'gst-launch-1.0 died with its Node process');
  });

  test('GigE Vision: frames of Aravis\' fake camera on 127.0.0.1 arrive through aravissrc as decodable JPEGs', async (t) => {
    // The camera is addressed by IP, so Aravis talks to 127.0.0.1 only (checked with strace). By
    // name (camera-name=Aravis-Fake-GV01) it broadcasts a discovery on every interface, and on a
    // box with a LAN it then got no frames as root; in a namespace with only loopback it did.
    const camera = spawn('arv-fake-gv-camera-0.8', ['-i', '127.0.0.1', '-d', 'device:2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const reap = () => camera.kill('SIGKILL');
    process.once('exit', reap);
    t.after(() => {
      process.off('exit', reap);
      camera.kill('SIGKILL');
    });
    await within(
      10_000,
      'the fake GigE Vision camera to listen',
      outputLine(camera, /Listening to \d+ sockets/, /Failed to bind GVCP socket[^\n]*/).catch((err: Error) => {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        throw new Error(missing ? 'arv-fake-gv-camera-0.8 is missing: apt-get install aravis-tools' : `${err.message} (another GigE Vision camera or fake camera holds 127.0.0.1:3956?)`);
      }),
    );

    // 320x240 rather than the fake camera's 512x512: a frame that fits the default UDP receive
    // buffer, so the test also streams where Aravis falls back to a plain socket (not root).
    const source = new GstreamerSource(
      'gige',
      gstConfig({
        pipeline: 'aravissrc camera-name=127.0.0.1 ! video/x-raw,format=GRAY8,width=320,height=240 ! videoconvert',
        reconnect: { initialMs: 200, maxMs: 1000, stallMs: 10_000 },
      }),
      deps,
    );
    t.after(() => source.stop());
    await source.start();
    const frames = await takeFrames(source, 5, 20_000);
    for (const f of frames) assert.deepEqual(await decoded(f), { format: 'jpeg', width: 320, height: 240, channels: 3 }); // videoconvert hands jpegenc YUV
    // The fake camera draws a moving pattern, not a blank frame.
    const stats = await sharp(frames.at(-1)!.image.data).stats();
    assert.ok(stats.channels[0]!.max > stats.channels[0]!.min, 'the image has content');
    await source.stop();
    assert.equal(camera.exitCode, null, 'the camera outlives the session');
  });
});

describe('OpencvSource', () => {
  const cvConfig = (source: Record<string, unknown>) => sourceConfig<OpencvSourceConfig>({ type: 'opencv', device: 0, ...source });

  test('without @u4/opencv4nodejs: start() rejects LS_ERR_SOURCE_UNAVAILABLE with the install hint', async (t) => {
    const name: string = '@u4/opencv4nodejs';
    if (await import(name).then(() => true, () => false)) return t.skip('@u4/opencv4nodejs is installed here');
    const source = new OpencvSource('cam1', cvConfig({}), deps);
    await assert.rejects(source.start(), (err) => {
      assert.ok(isLinesightError(err, 'LS_ERR_SOURCE_UNAVAILABLE'));
      assert.match(err.message, /@u4\/opencv4nodejs is not installed/);
      assert.ok(err.message.includes(openCvInstallHint));
      assert.match(err.message, /libopencv-dev.*OPENCV4NODEJS_DISABLE_AUTOBUILD=1 OPENCV_INCLUDE_DIR=\/usr\/include\/opencv4 OPENCV_LIB_DIR=\/usr\/lib\/x86_64-linux-gnu OPENCV_BIN_DIR=\/usr\/bin npm install @u4\/opencv4nodejs/);
      return true;
    });
    assert.equal(source.health().state, 'failed');
  });

  test('with the addon (a stand-in): requested size, JPEG frames, a camera that stops giving frames is reopened and released', async (t) => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3080c0' } }).jpeg().toBuffer();
    const opened: Array<number | string> = [];
    const sets: Array<[number, number]> = [];
    let released = 0;
    let onRelease = () => {};
    const framesPerSession = 3;
    class VideoCapture {
      #left = framesPerSession;
      constructor(device: number | string) {
        opened.push(device);
      }
      read(): OpenCvMat {
        return { empty: this.#left-- <= 0 };
      }
      async readAsync(): Promise<OpenCvMat> {
        await new Promise((r) => setTimeout(r, 5));
        return this.read();
      }
      set(property: number, value: number): boolean {
        sets.push([property, value]);
        return true;
      }
      release(): void {
        released++;
        onRelease();
      }
    }
    const cv: OpenCv = { VideoCapture, CAP_PROP_FRAME_WIDTH: 3, CAP_PROP_FRAME_HEIGHT: 4, imencode: () => new Uint8Array(jpeg) };
    const source = new OpencvSource('cam1', cvConfig({ device: '/dev/video7', width: 640, height: 480, reconnect: { initialMs: 10, maxMs: 20, stallMs: 5000 } }), {
      ...deps,
      loadOpenCv: async () => cv,
    });
    t.after(() => source.stop());
    await source.start();
    const frames = await takeFrames(source, 7, 10_000);
    assert.deepEqual(await decoded(frames[0]!), { format: 'jpeg', width: 64, height: 48, channels: 3 });
    assert.ok(source.health().reconnects >= 2, `reconnects ${source.health().reconnects}`);
    assert.equal(opened[0], '/dev/video7');
    assert.deepEqual(sets.slice(0, 2), [
      [3, 640],
      [4, 480],
    ]);
    await source.stop();
    // The last capture is released once its in-flight read returns, after stop() settles.
    const allReleased = new Promise<void>((resolve) => (onRelease = () => released === opened.length && resolve()));
    onRelease();
    await within(2_000, 'every capture opened to be released', allReleased);
    assert.equal(released, opened.length);
  });
});
