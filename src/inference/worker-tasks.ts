// What an inference thread does with a task: decode, preprocess and run a part, warm a model up,
// or drop it. Runs inside a worker thread only. It keeps loaded sessions by model key, so a new
// model version loads beside the old one (blue/green).
import { threadId, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { monotonicMs } from '../clock.js';
import { describeError } from '../errors.js';
import type { InferTask, ModelRef, StageTimings, WorkerOptions, WorkerResult, WorkerTask } from './messages.js';
import { builtJpegDecoder } from './jpeg-decoder.js';
import { toTensor } from './preprocess.js';
import { runtimeFor } from './runtimes/index.js';
import type { ModelSession } from './runtimes/runtime.js';
import { inputGeometry } from '../models/input-geometry.js';

// Loaded outside a worker (the test runner imports every file under dist/test/), workerData is null.
const options = (workerData ?? {}) as WorkerOptions;
const limits = { maxPixels: options.maxImagePixels, jpeg: options.jpegDecoder === 'libjpeg-turbo' ? builtJpegDecoder() : undefined };
// Each worker thread is one unit of parallelism: libvips' own thread pool (one thread per core by
// default, shared by the process) would make 2 workers fight over 2 cores for every decode. Its
// operation cache only holds frames that never come back.
sharp.concurrency(1);
sharp.cache(false);
const sessions = new Map<string, Promise<ModelSession>>();

function session(model: ModelRef): Promise<ModelSession> {
  let s = sessions.get(model.key);
  if (!s) {
    s = runtimeFor(model.manifest.format).then((rt) => rt.load(model.bytes, model.manifest, options));
    sessions.set(model.key, s);
    // A failed load is not cached: the next task may try again (e.g. after a transient error).
    s.catch(() => sessions.delete(model.key));
  }
  return s;
}

function fail(stage: 'load' | 'decode' | 'inference', err: unknown, timings: StageTimings): WorkerResult {
  return { ok: false, error: describeError(err), stage, timings, threadId };
}

async function infer(task: InferTask, timings: StageTimings): Promise<WorkerResult> {
  let s: ModelSession;
  let t = monotonicMs();
  try {
    s = await session(task.model);
  } catch (err) {
    return fail('load', err, timings);
  }
  timings.loadMs = monotonicMs() - t;
  t = monotonicMs();
  let tensor;
  try {
    tensor = await toTensor(task.image, task.model.manifest.input, limits);
  } catch (err) {
    return fail('decode', err, timings);
  }
  timings.preprocessMs = monotonicMs() - t;
  t = monotonicMs();
  try {
    const scores = await s.run(tensor.data);
    timings.inferenceMs = monotonicMs() - t;
    return { ok: true, scores, provider: s.provider, timings, threadId };
  } catch (err) {
    timings.inferenceMs = monotonicMs() - t;
    return fail('inference', err, timings);
  }
}

/** Loads the model and runs it once on a neutral tensor, so the first real part is not slow. */
async function warmup(model: ModelRef, timings: StageTimings): Promise<WorkerResult> {
  let s: ModelSession;
  let t = monotonicMs();
  try {
    s = await session(model);
  } catch (err) {
    return fail('load', err, timings);
  }
  timings.loadMs = monotonicMs() - t;
  const { channels, height, width } = inputGeometry(model.manifest.input);
  const n = channels * height * width;
  const input = model.manifest.input.dtype === 'uint8' ? new Uint8Array(n).fill(128) : new Float32Array(n);
  t = monotonicMs();
  try {
    const scores = await s.run(input);
    timings.inferenceMs = monotonicMs() - t;
    return { ok: true, scores, provider: s.provider, timings, threadId };
  } catch (err) {
    return fail('inference', err, timings);
  }
}

/** Which model versions this thread holds a session for. */
export function residentModels(): string[] {
  return [...sessions.keys()];
}

export async function handleTask(task: WorkerTask): Promise<WorkerResult> {
  const timings: StageTimings = { startedAt: monotonicMs(), loadMs: 0, preprocessMs: 0, inferenceMs: 0 };
  switch (task.kind) {
    case 'infer':
      return infer(task, timings);
    case 'warmup':
      return warmup(task.model, timings);
    case 'unload': {
      const s = sessions.get(task.key);
      sessions.delete(task.key);
      if (s) await s.then((x) => x.dispose(), () => undefined);
      // Give the old session's buffers back now rather than at the next collection (needs --expose-gc).
      (globalThis as { gc?: () => void }).gc?.();
      return { ok: true, scores: new Float32Array(0), provider: '', timings, threadId };
    }
  }
}
