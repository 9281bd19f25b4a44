// One step of the naive loop a user would write instead of the service: decode the frame with
// sharp alone, then session.run, on one thread. Shared by the parallel loops (naive-worker.ts)
// and the memory bench's one-thread script (naive-process.ts).
import sharp from 'sharp';
import { toTensor } from '../inference/preprocess.js';
import { runtimeFor } from '../inference/runtimes/index.js';
import type { ModelManifest } from '../models/manifest.js';

export interface NaiveLoop {
  /** Decodes and runs one encoded frame. */
  once(frame: Uint8Array): Promise<unknown>;
  dispose(): Promise<void>;
}

export async function openNaiveLoop(bytes: Uint8Array, manifest: ModelManifest): Promise<NaiveLoop> {
  // One thread means one: libvips' pool would otherwise spread each decode over every core.
  sharp.concurrency(1);
  sharp.cache(false);
  const session = await (await runtimeFor(manifest.format)).load(bytes, manifest, { intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all' });
  return {
    once: async (frame) => session.run((await toTensor({ kind: 'encoded', data: frame }, manifest.input)).data),
    dispose: () => session.dispose(),
  };
}
