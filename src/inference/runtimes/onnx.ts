// ONNX Runtime (onnxruntime-node). Execution providers are tried in the configured order;
// a provider whose binaries are missing (CUDA/TensorRT on a CPU box) is skipped, not fatal.
import * as ort from 'onnxruntime-node';
import { LinesightError } from '../../errors.js';
import type { ModelManifest } from '../../models/manifest.js';
import type { ExecutionProvider, ModelRuntime, ModelSession, RuntimeOptions } from './runtime.js';

function dimsMatch(declared: ReadonlyArray<number | string> | undefined, wanted: readonly number[]): boolean {
  if (!declared) return true;
  if (declared.length !== wanted.length) return false;
  // Symbolic (string) or -1 dimensions accept any size.
  return declared.every((d, i) => typeof d !== 'number' || d < 0 || d === wanted[i]);
}

function checkShape(session: ort.InferenceSession, manifest: ModelManifest): void {
  const { input, output } = manifest;
  if (!session.inputNames.includes(input.name)) {
    throw new LinesightError('LS_ERR_MODEL_SHAPE', `input "${input.name}" not in model inputs [${session.inputNames.join(', ')}]`);
  }
  const meta = session.inputMetadata.find((m) => m.name === input.name);
  const shape = meta && meta.isTensor ? meta.shape : undefined;
  if (!dimsMatch(shape, input.shape)) {
    throw new LinesightError('LS_ERR_MODEL_SHAPE', `input "${input.name}" has shape [${shape?.join(', ')}], manifest says [${input.shape.join(', ')}]`);
  }
  if (output.name && !session.outputNames.includes(output.name)) {
    throw new LinesightError('LS_ERR_MODEL_SHAPE', `output "${output.name}" not in model outputs [${session.outputNames.join(', ')}]`);
  }
}

class OnnxSession implements ModelSession {
  readonly provider: string;
  readonly #session: ort.InferenceSession;
  readonly #inputName: string;
  readonly #outputName: string;
  readonly #dims: readonly number[];
  readonly #dtype: 'float32' | 'uint8';

  constructor(session: ort.InferenceSession, manifest: ModelManifest, provider: string) {
    this.#session = session;
    this.provider = provider;
    this.#inputName = manifest.input.name;
    this.#outputName = manifest.output.name ?? session.outputNames[0]!;
    this.#dims = manifest.input.shape;
    this.#dtype = manifest.input.dtype;
  }

  async run(input: Float32Array | Uint8Array): Promise<Float32Array> {
    const tensor = new ort.Tensor(this.#dtype, input, this.#dims);
    const out = await this.#session.run({ [this.#inputName]: tensor }, [this.#outputName]);
    const t = out[this.#outputName]!;
    const data = t.data;
    const scores = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    t.dispose();
    return scores;
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }
}

export const onnxRuntime: ModelRuntime = {
  format: 'onnx',
  async load(bytes: Uint8Array, manifest: ModelManifest, options: RuntimeOptions): Promise<ModelSession> {
    // The native binding takes only a plain ArrayBuffer; the registry shares a SharedArrayBuffer.
    const own = bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes);
    const failures: string[] = [];
    for (const provider of options.executionProviders) {
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(own, {
          executionProviders: [provider satisfies ExecutionProvider],
          intraOpNumThreads: options.intraOpThreads,
          interOpNumThreads: 1,
          // Idle intra-op threads sleep instead of spinning: the other workers' decodes need those
          // cores (MobileNetV2 with 2 threads on 2 cores at 10 parts/s: inference p50 8.9 ms
          // spinning, 6.5 ms not).
          extra: { session: { intra_op: { allow_spinning: '0' } } },
          graphOptimizationLevel: options.graphOptimization,
        });
      } catch (err) {
        failures.push(`${provider}: ${(err as Error).message}`);
        continue;
      }
      try {
        checkShape(session, manifest);
      } catch (err) {
        await session.release();
        throw err;
      }
      return new OnnxSession(session, manifest, provider);
    }
    // If even the CPU provider failed, the bytes are the problem, not the box.
    const code = options.executionProviders.includes('cpu') ? 'LS_ERR_MODEL_LOAD' : 'LS_ERR_PROVIDER_UNAVAILABLE';
    throw new LinesightError(code, failures.join('; '));
  },
};
