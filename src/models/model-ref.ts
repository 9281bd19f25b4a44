// A model version as the rest of the box holds it once the registry has verified it: the
// checked bytes (in shared memory, so every worker thread reads the one copy that was
// verified) and its manifest. The key names this exact build in worker caches.
import type { ModelManifest } from './manifest.js';

export interface ModelRef {
  key: string;
  bytes: Uint8Array;
  manifest: ModelManifest;
}

/** A version loaded and warmed up in every worker thread. */
export interface LoadedModel {
  ref: ModelRef;
  manifest: ModelManifest;
  provider: string;
}

export const modelLabel = (m: { name: string; version: string }): string => `${m.name}@${m.version}`;
