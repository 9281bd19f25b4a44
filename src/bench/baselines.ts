// The in-process baselines, on the same frames as the service: what one frame costs to decode and
// preprocess, what the model costs on one thread, the compute limit those two imply, a naive
// sequential loop, and session.run alone, in this (main) thread one frame at a time; then one
// naive loop per core at once (naive-worker.ts), what the cores really give in parallel.
// The compute limit decodes as the service does (libjpeg-turbo's scaled decode when built); the
// naive loops decode with sharp alone, as a user writing their own loop would.
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { monotonicMs } from '../clock.js';
import { builtJpegDecoder } from '../inference/jpeg-decoder.js';
import { defaultMaxImagePixels } from '../inference/messages.js';
import { toTensor } from '../inference/preprocess.js';
import { runtimeFor } from '../inference/runtimes/index.js';
import type { ModelVersion } from '../models/registry.js';
import type { Baselines } from './result.js';
import { median, round } from './stats.js';

/** Runs `once` repeatedly for `seconds` (and at least `minRuns` times); the durations and the rate. */
async function timed(seconds: number, minRuns: number, once: (i: number) => Promise<unknown>): Promise<{ ms: number[]; perSec: number }> {
  const ms: number[] = [];
  const t0 = monotonicMs();
  const end = t0 + seconds * 1000;
  for (let i = 0; monotonicMs() < end || i < minRuns; i++) {
    const t = monotonicMs();
    await once(i);
    ms.push(monotonicMs() - t);
  }
  return { ms, perSec: (ms.length * 1000) / (monotonicMs() - t0) };
}

/** One naive loop per core, all at once, in worker threads: parts per second together. */
async function parallelNaiveLoops(version: ModelVersion, frames: readonly Uint8Array[], seconds: number, loops: number): Promise<number> {
  // Shared copies: every loop reads the same frames without a copy per thread.
  const shared = frames.map((f) => {
    const s = new Uint8Array(new SharedArrayBuffer(f.byteLength));
    s.set(f);
    return s;
  });
  const workers = Array.from(
    { length: loops },
    () => new Worker(new URL('./naive-worker.js', import.meta.url), { workerData: { bytes: version.bytes, manifest: version.manifest, frames: shared, seconds } }),
  );
  try {
    const message = (w: Worker) =>
      new Promise<{ ready?: boolean; runs?: number; ms?: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`naive loop thread exited (${code}) before it answered`)));
      });
    await Promise.all(workers.map(message));
    const done = Promise.all(workers.map(message));
    for (const w of workers) w.postMessage('go');
    return (await done).reduce((sum, r) => sum + ((r.runs ?? 0) * 1000) / (r.ms ?? 1), 0);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export async function measureBaselines(version: ModelVersion, frames: readonly Uint8Array[], seconds: number): Promise<Omit<Baselines, 'python'>> {
  // As in a worker thread: libvips' pool would otherwise spread one decode over every core, and
  // "one thread" would not be one thread.
  sharp.concurrency(1);
  sharp.cache(false);
  const { manifest } = version;
  const session = await (await runtimeFor(manifest.format)).load(version.bytes, manifest, { intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all' });
  try {
    const image = (i: number) => ({ kind: 'encoded' as const, data: frames[i % frames.length]! });
    const service = { maxPixels: defaultMaxImagePixels, jpeg: builtJpegDecoder() };
    // Warm-up: first decodes and the first runs allocate what later ones reuse.
    let prepared = (await toTensor(image(0), manifest.input, service)).data;
    for (let i = 0; i < 3; i++) await session.run(prepared);
    const pre = await timed(seconds, frames.length, async (i) => {
      prepared = (await toTensor(image(i), manifest.input, service)).data;
    });
    const sharpPre = service.jpeg ? await timed(seconds, frames.length, (i) => toTensor(image(i), manifest.input)) : pre;
    const raw = await timed(seconds, 10, () => session.run(prepared));
    const naive = await timed(seconds, 10, async (i) => session.run((await toTensor(image(i), manifest.input)).data));
    const preprocessMsP50 = median(pre.ms);
    const inferenceMsP50 = median(raw.ms);
    const parallel = await parallelNaiveLoops(version, frames, seconds, cpus().length);
    return {
      jpegDecoder: service.jpeg ? 'libjpeg-turbo' : 'sharp',
      preprocessMsP50: round(preprocessMsP50, 2),
      sharpPreprocessMsP50: round(median(sharpPre.ms), 2),
      inferenceMsP50: round(inferenceMsP50, 2),
      computeLimitPerSec: round((cpus().length * 1000) / (preprocessMsP50 + inferenceMsP50)),
      naiveLoopPerSec: round(naive.perSec),
      parallelNaivePerSec: round(parallel),
      rawRunPerSec: round(raw.perSec),
    };
  } finally {
    await session.dispose();
  }
}
