// Runtime lookup by manifest format. Imports are lazy so a box without a runtime's native
// library still runs models of the other formats.
import { LinesightError } from '../../errors.js';
import type { ModelManifest } from '../../models/manifest.js';
import type { ModelRuntime } from './runtime.js';

const loaders: Record<ModelManifest['format'], () => Promise<ModelRuntime>> = {
  onnx: async () => (await import('./onnx.js')).onnxRuntime,
  tflite: async () => (await import('./tflite.js')).tfliteRuntime,
};

export async function runtimeFor(format: ModelManifest['format']): Promise<ModelRuntime> {
  const load = loaders[format];
  if (!load) throw new LinesightError('LS_ERR_RUNTIME_UNKNOWN', undefined, { args: [String(format)] });
  return load();
}
