// The only types shared by the pool (main thread) and the worker threads (like piscina's common.ts).
import type { FrameImage } from '../capture/frame.js';
import type { ModelRef } from '../models/model-ref.js';
import type { RuntimeOptions } from './runtimes/runtime.js';

export type { ModelRef };

/** Sized for 20 MP cameras with room to spare; the config's inference.maxImagePixels overrides it. */
export const defaultMaxImagePixels = 25_000_000;

/** What every worker thread is started with (workerData). */
export interface WorkerOptions extends RuntimeOptions {
  /** Frames with more pixels are refused from their header (LS_ERR_IMAGE_TOO_LARGE). */
  maxImagePixels: number;
  /** How JPEG frames are decoded: resolved by the pool, so every thread decodes the same way. */
  jpegDecoder: 'libjpeg-turbo' | 'sharp';
  /** Collect the young generation as buffers pile up (young-gc.ts; inference.freeBuffersEarly). */
  freeBuffersEarly: boolean;
}

export interface InferTask {
  kind: 'infer';
  model: ModelRef;
  image: FrameImage;
}

export interface WarmupTask {
  kind: 'warmup';
  model: ModelRef;
}

export interface UnloadTask {
  kind: 'unload';
  key: string;
}

export type WorkerTask = InferTask | WarmupTask | UnloadTask;

/** Main thread to worker: one task at a time per thread. */
export interface TaskMessage {
  id: number;
  task: WorkerTask;
}

/** Worker to main thread: the answer, and which model sessions the thread now holds. */
export interface ResultMessage {
  id: number;
  result: WorkerResult;
  resident: string[];
  /**
   * An infer task's frame bytes, handed back (moved, not copied) with the answer: the station
   * keeps them for evidence and the dashboard, so it needs no copy of its own.
   */
  frame?: Uint8Array;
}

export interface StageTimings {
  /** Monotonic ms when the worker picked the task up. */
  startedAt: number;
  loadMs: number;
  preprocessMs: number;
  inferenceMs: number;
}

export type WorkerResult =
  | { ok: true; scores: Float32Array; provider: string; timings: StageTimings; threadId: number }
  | { ok: false; error: { code: string; message: string }; stage: 'load' | 'decode' | 'inference'; timings: StageTimings; threadId: number };
