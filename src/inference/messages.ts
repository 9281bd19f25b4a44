// The only types shared by the pool (main thread) and the worker (piscina's common.ts).
import type { FrameImage } from '../capture/frame.js';
import type { ModelManifest } from './manifest.js';

/** What a worker needs to load a model: verified bytes (shared memory) and the manifest. */
export interface ModelRef {
  key: string;
  bytes: Uint8Array;
  manifest: ModelManifest;
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
