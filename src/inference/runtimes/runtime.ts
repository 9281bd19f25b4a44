// The seam between Linesight and an inference engine. One file per engine in this folder;
// the manifest's `format` picks it. Runtimes run inside worker threads only.
import type { ModelManifest } from '../../models/manifest.js';

export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt';

export interface RuntimeOptions {
  intraOpThreads: number;
  executionProviders: readonly ExecutionProvider[];
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface ModelSession {
  /** The execution provider that actually loaded the model. */
  readonly provider: string;
  /** One input tensor in, the raw output scores out. */
  run(input: Float32Array | Uint8Array): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export interface ModelRuntime {
  readonly format: ModelManifest['format'];
  /** Loads and checks the model against the manifest (input name and shape, output present). */
  load(bytes: Uint8Array, manifest: ModelManifest, options: RuntimeOptions): Promise<ModelSession>;
}
