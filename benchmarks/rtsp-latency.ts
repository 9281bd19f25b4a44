// Frame age at dispatch for a live RTSP camera, how far the capture time Linesight computes is
// from the true one, and the CPU one camera stream costs.
//
//   npm run bench:rtsp -- [--seconds 300] [--fps 10,30] [--width 1280] [--height 1024] [--via ffmpeg|gstreamer] [--ntp-sync]
//
// The camera (benchmarks/fixtures/stamped-rtsp-camera.py, gst-rtsp-server) writes its capture
// time (CLOCK_MONOTONIC, ms) into each frame as black/white blocks; the frame travels through
// H.264, RTSP, ffmpeg or GStreamer and the JPEG pipe like a real camera's, and here the stamp is
// read back, so the age is measured from "sensor" to the hand-over to an inference worker, not
// from arrival, and Frame.capturedAt can be checked against it. Each run is cut into ten
// windows: the age must not grow from the first to the last. --ntp-sync sets it on rtspsrc
// (GStreamer path): frame times from the camera's clock through RTCP rather than on receipt.
// Writes benchmarks/results/rtsp-latency-<via>[-ntp-sync].json.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { monotonicMs, systemClock } from '../src/clock.js';
import { buildConfig } from '../src/config/load.js';
import { EventBus } from '../src/events.js';
import { silentLogger } from '../src/log.js';
import { FfmpegSource } from '../src/capture/ffmpeg.js';
import { GstreamerSource } from '../src/capture/gstreamer.js';
import type { Frame } from '../src/capture/frame.js';
import type { FrameSource } from '../src/capture/source.js';
import { InferencePool } from '../src/inference/pool.js';
import { ModelRegistry } from '../src/models/registry.js';
import { Station } from '../src/pipeline/station.js';
import type { Verdict } from '../src/verdict.js';
import { percentile } from '../src/publish/console-summary.js';
import { bundledModelsDir, packageRoot } from '../src/paths.js';
import { readStamp } from './fixtures/stamp.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    fps: { type: 'string', default: '10,30' },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '1024' },
    workers: { type: 'string', default: '2' },
    via: { type: 'string', default: 'ffmpeg' },
    'ffmpeg-options': { type: 'string', default: '' },
    'ntp-sync': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const width = Number(values.width);
const height = Number(values.height);

/**
 * Passes frames on, noting by sequence number each one's true capture stamp, how old it was
 * when it reached the station (arrival − stamp), and the error of its computed capture time
 * (capturedAt − stamp: positive when Linesight thinks it was taken later than it was).
 */
class StampReader implements FrameSource {
  readonly kind = 'stamped';
  readonly stamps = new Map<number, { stamp: number; arrivalAge: number; error: number; timeSource: string }>();
  constructor(readonly inner: FrameSource) {}
  start() {
    return this.inner.start();
  }
  stop() {
    return this.inner.stop();
  }
  health() {
    return this.inner.health();
  }
  set onDrop(fn: FrameSource['onDrop']) {
    this.inner.onDrop = fn;
  }
  async *frames(): AsyncGenerator<Frame> {
    for await (const f of this.inner.frames()) {
      const arrival = monotonicMs();
      const stamp = await readStamp(f.image.data);
      this.stamps.set(f.seq, { stamp, arrivalAge: arrival - stamp, error: f.capturedAt - stamp, timeSource: f.timeSource ?? 'none' });
      yield f;
    }
  }
}

function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ 100)
}

function childPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const s = readFileSync(`/proc/${d}/stat`, 'utf8');
        return (s.includes('(ffmpeg)') || s.includes('(gst-launch-1.0)')) && s.slice(s.lastIndexOf(')') + 2).split(' ')[1] === String(process.pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function startCamera(fps: number): Promise<{ url: string; stop: () => void }> {
  const proc = spawn('/usr/bin/python3', [join(packageRoot, 'benchmarks', 'fixtures', 'stamped-rtsp-camera.py'), '0', String(width), String(height), String(fps)], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => proc.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d;
      const m = /ready (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`camera exited with ${code}`)));
  });
  return { url, stop: () => proc.kill('SIGTERM') };
}

async function run(fps: number, pool: InferencePool, model: { key: string; bytes: Uint8Array; manifest: any }, provider: string) {
  const camera = await startCamera(fps);
  const sourceConfig =
    values.via === 'gstreamer'
      ? { type: 'gstreamer', pipeline: `rtspsrc location=${camera.url} latency=0 protocols=tcp${values['ntp-sync'] ? ' ntp-sync=true' : ''} ! rtph264depay ! avdec_h264 ! videoconvert` }
      : { type: 'ffmpeg', url: camera.url, inputOptions: Object.fromEntries(values['ffmpeg-options']!.split(',').filter(Boolean).map((kv) => kv.split('='))) };
  // A free-running part's budget runs from its frame's capture time, which here includes the
  // capture path being measured: a budget large enough that every frame reaches a worker.
  const config = buildConfig({ stations: [{ id: 'rtsp', source: sourceConfig, model: 'label-orientation', budgetMs: 1000 }] }, { origin: 'bench', baseDir: '/' }).stations[0]!;
  const deps = { clock: systemClock, log: silentLogger };
  const source = new StampReader(values.via === 'gstreamer' ? new GstreamerSource('rtsp', config.source as never, deps) : new FfmpegSource('rtsp', config.source as never, deps));
  const bus = new EventBus(silentLogger);
  const station = new Station({ line: 'bench', config, source, pool, bus, clock: systemClock, log: silentLogger, runId: 'r' });
  station.setModel({ ref: model, manifest: model.manifest, provider });
  const verdicts: Array<Verdict & { at: number }> = [];
  bus.on('verdict', (v) => verdicts.push({ ...v, at: monotonicMs() }));
  let dropped = 0;
  bus.on('frame-dropped', () => dropped++);
  await station.start();
  // Let the stream settle (first keyframe, probe) before measuring.
  await new Promise((r) => setTimeout(r, 3000));
  const t0 = monotonicMs();
  const mark = verdicts.length;
  const pids = childPids();
  const ff0 = pids.reduce((a, p) => a + cpuSecondsOf(p), 0);
  const node0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const ffCpu = pids.reduce((a, p) => a + cpuSecondsOf(p), 0) - ff0;
  const nodeCpu = process.cpuUsage(node0);
  const elapsed = (monotonicMs() - t0) / 1000;
  await station.stop();
  camera.stop();
  const measured = verdicts.slice(mark).filter((v) => v.timings.queueMs !== null && source.stamps.has(v.seq));
  // queueMs runs from the part's start, its frame's capturedAt: error + queueMs = dispatch − stamp.
  const ages = measured.map((v) => ({ at: v.at, age: source.stamps.get(v.seq)!.error + v.timings.queueMs! }));
  const frames = measured.map((v) => source.stamps.get(v.seq)!);
  const sorted = (xs: number[]) => xs.sort((p, q) => p - q);
  const errors = sorted(frames.map((f) => f.error));
  const absErrors = sorted(frames.map((f) => Math.abs(f.error)));
  const arrivalAges = sorted(frames.map((f) => f.arrivalAge));
  const timeSources: Record<string, number> = {};
  for (const f of frames) timeSources[f.timeSource] = (timeSources[f.timeSource] ?? 0) + 1;
  const ms = (x: number) => Math.round(x * 10) / 10;
  const windows = Array.from({ length: 10 }, (_, i) => {
    const from = t0 + (i * elapsed * 1000) / 10;
    const to = t0 + ((i + 1) * elapsed * 1000) / 10;
    const a = ages.filter((x) => x.at >= from && x.at < to).map((x) => x.age).sort((p, q) => p - q);
    return { p50Ms: Math.round(percentile(a, 50) * 10) / 10, p99Ms: Math.round(percentile(a, 99) * 10) / 10, frames: a.length };
  });
  const all = ages.map((x) => x.age).sort((p, q) => p - q);
  return {
    fps,
    via: values.via,
    resolution: `${width}x${height}`,
    seconds: Math.round(elapsed),
    framesInspected: measured.length,
    framesDropped: dropped,
    ageAtDispatch: { p50Ms: ms(percentile(all, 50)), p99Ms: ms(percentile(all, 99)) },
    ageAtArrival: { p50Ms: ms(percentile(arrivalAges, 50)), p99Ms: ms(percentile(arrivalAges, 99)) },
    captureTimeError: { p1Ms: ms(percentile(errors, 1)), p50Ms: ms(percentile(errors, 50)), p99Ms: ms(percentile(errors, 99)), absP99Ms: ms(percentile(absErrors, 99)) },
    timeSources,
    ntpSync: values.via === 'gstreamer' ? values['ntp-sync'] : undefined,
    windows,
    growthLastVsFirstP50: Math.round((windows.at(-1)!.p50Ms / windows[0]!.p50Ms) * 100) / 100,
    timeouts: measured.filter((v) => v.verdict === 'timeout').length,
    cpu: {
      capturePercentOfOneCore: Math.round((ffCpu / elapsed) * 1000) / 10,
      nodePercentOfOneCore: Math.round(((nodeCpu.user + nodeCpu.system) / 1e6 / elapsed) * 1000) / 10,
    },
  };
}

async function main(): Promise<void> {
  const version = await new ModelRegistry(bundledModelsDir).resolve('label-orientation');
  const model = { key: version.key, bytes: version.bytes, manifest: version.manifest };
  const pool = new InferencePool({ workers: Number(values.workers), intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger });
  pool.start();
  const { provider } = await pool.warmUp(model);
  const runs = [];
  for (const fps of values.fps!.split(',').map(Number)) {
    const r = await run(fps, pool, model, provider);
    runs.push(r);
    process.stdout.write(
      `${r.resolution}@${fps}fps ${r.seconds}s: age at dispatch p50=${r.ageAtDispatch.p50Ms}ms p99=${r.ageAtDispatch.p99Ms}ms (at arrival p50=${r.ageAtArrival.p50Ms}ms), ` +
        `capture time error p50=${r.captureTimeError.p50Ms}ms p99=${r.captureTimeError.p99Ms}ms |p99|=${r.captureTimeError.absP99Ms}ms ${JSON.stringify(r.timeSources)}, last/first window p50 ${r.growthLastVsFirstP50}x, ` +
        `inspected=${r.framesInspected} dropped=${r.framesDropped} timeouts=${r.timeouts}, ${values.via} ${r.cpu.capturePercentOfOneCore}% + node ${r.cpu.nodePercentOfOneCore}% of a core\n`,
    );
  }
  await pool.close();
  const result = { benchmark: 'rtsp-latency', date: new Date().toISOString(), host: { name: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version }, runs };
  const dir = join(packageRoot, 'benchmarks', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `rtsp-latency-${values.via}${values['ntp-sync'] ? '-ntp-sync' : ''}.json`), JSON.stringify(result, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
