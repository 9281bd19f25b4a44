// TensorFlow Lite (tfjs-tflite-node: the TFLite C library behind a node-addon-api binding).
// We use the binding's Interpreter directly: it takes the model as an ArrayBuffer and exposes
// each tensor as a typed array, so nothing of TensorFlow.js (which the package's public entry
// imports) is loaded. CPU only: the library has no GPU delegate, and although it contains
// XNNPACK it never creates the XNNPACK delegate (profiled: the time goes to TFLite's builtin
// kernels), so the provider is reported as 'cpu'.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LinesightError } from '../../errors.js';
import type { ModelManifest } from '../../models/manifest.js';
import type { ModelRuntime, ModelSession, RuntimeOptions } from './runtime.js';

/** One tensor as the binding shows it; `data()` is a persistent copy refreshed by `infer()`. */
interface TensorInfo {
  readonly name: string;
  /** Comma-separated dimensions, e.g. "1,128,128,3". */
  readonly shape: string;
  /** 'float32', 'uint8', 'int8', 'int32', … (unsupported types start with 'kTfLite'). */
  readonly dataType: string;
  data(): Float32Array | Uint8Array | Int8Array | Int16Array | Int32Array | Uint32Array | Float64Array;
}

interface Interpreter {
  getInputs(): TensorInfo[];
  getOutputs(): TensorInfo[];
  /** Copies inputs in, invokes, copies outputs out; throws with TFLite's message. */
  infer(): boolean;
}

type Binding = { Interpreter: new (model: ArrayBuffer, options: { threads?: number }) => Interpreter };

let binding: Binding | undefined;

function bindingUnavailable(detail: string, cause?: unknown): LinesightError {
  return new LinesightError('LS_ERR_RUNTIME_UNKNOWN', detail, { args: ['tflite'], cause });
}

/**
 * This thread's own instance of the binding. tfjs-tflite-node 0.0.2 keeps the constructor of
 * its tensor class in a C++ static that every thread loading the addon overwrites with its own
 * V8 function; a thread then builds tensors with another thread's function and the process
 * aborts ("Entering the V8 API without proper locking in place") as soon as two workers load
 * models. A distinct file is a distinct library instance with its own statics, so each thread
 * loads a private copy of the .node file (staged in the temp directory and deleted once
 * mapped); libtensorflowlite_c.so, found through the copy's RUNPATH, stays one shared instance.
 */
function loadBinding(): Binding {
  if (binding) return binding;
  let pkg: string;
  try {
    pkg = dirname(createRequire(import.meta.url).resolve('tfjs-tflite-node/package.json'));
  } catch (err) {
    throw bindingUnavailable('package tfjs-tflite-node is not installed', err);
  }
  const original = join(pkg, 'build', 'Release', 'node_tflite_binding.node');
  // node-gyp builds it in the package's install script (approved in package.json's allowScripts).
  if (!existsSync(original)) throw bindingUnavailable(`${original} was never built; run "npm rebuild tfjs-tflite-node" (needs python3, make and g++)`);
  let stage: string | undefined;
  try {
    stage = mkdtempSync(join(tmpdir(), 'linesight-tflite-'));
    const copy = join(stage, 'build', 'Release', 'node_tflite_binding.node');
    mkdirSync(dirname(copy), { recursive: true });
    copyFileSync(original, copy);
    // The RUNPATH is $ORIGIN/../../cc_deps/<platform>: mirror the package layout around the copy.
    symlinkSync(join(pkg, 'cc_deps'), join(stage, 'cc_deps'), 'dir');
    const module = { exports: {} as Binding };
    process.dlopen(module, copy);
    binding = module.exports;
    return binding;
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    throw bindingUnavailable(`cannot load this thread's copy of ${original} in ${tmpdir()} (${why}); the temp directory must be writable and allow executable mappings`, err);
  } finally {
    if (stage) rmSync(stage, { recursive: true, force: true });
  }
}

// --- Reading the model flatbuffer ---------------------------------------------------------
// The binding exposes neither quantisation parameters nor why a buffer was rejected (TFLite
// prints that to stderr), so the few fields we need are read from the file itself, following
// tensorflow/lite/schema/schema.fbs. Every read is bounds-checked; a malformed file yields
// undefined here and the library's own verifier gives the verdict.

const MODEL_SUBGRAPHS = 2;
const SUBGRAPH_TENSORS = 0;
const SUBGRAPH_OUTPUTS = 2;
const TENSOR_QUANTIZATION = 4;
const QUANT_SCALE = 2;
const QUANT_ZERO_POINT = 3;

class FlatBuffer {
  readonly #view: DataView;

  constructor(bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #check(pos: number, size: number): number {
    if (pos < 0 || pos + size > this.#view.byteLength) throw new RangeError(`flatbuffer read at ${pos} past ${this.#view.byteLength}`);
    return pos;
  }

  u32(pos: number): number {
    return this.#view.getUint32(this.#check(pos, 4), true);
  }

  root(): number {
    return this.u32(0);
  }

  /** "TFL3" at bytes 4..8, the file identifier of TFLite models. */
  identifier(): string {
    return this.#view.byteLength < 8 ? '' : String.fromCharCode(...Array.from({ length: 4 }, (_, i) => this.#view.getUint8(4 + i)));
  }

  /** Absolute position of a table's field, or undefined when the field is absent. */
  field(table: number, id: number): number | undefined {
    const vtable = table - this.#view.getInt32(this.#check(table, 4), true);
    const vsize = this.#view.getUint16(this.#check(vtable, 2), true);
    if (4 + 2 * id >= vsize) return undefined;
    const off = this.#view.getUint16(this.#check(vtable + 4 + 2 * id, 2), true);
    return off === 0 ? undefined : table + off;
  }

  /** Follows an offset field to the table/vector it points at. */
  ref(table: number, id: number): number | undefined {
    const at = this.field(table, id);
    return at === undefined ? undefined : at + this.u32(at);
  }

  vectorLength(vec: number): number {
    return this.u32(vec);
  }

  tableAt(vec: number, i: number): number {
    const at = vec + 4 + 4 * i;
    return at + this.u32(at);
  }

  i32At(vec: number, i: number): number {
    return this.#view.getInt32(this.#check(vec + 4 + 4 * i, 4), true);
  }

  f32At(vec: number, i: number): number {
    return this.#view.getFloat32(this.#check(vec + 4 + 4 * i, 4), true);
  }

  i64At(vec: number, i: number): number {
    return Number(this.#view.getBigInt64(this.#check(vec + 4 + 8 * i, 8), true));
  }
}

/** Per-tensor scale and zero point of the main subgraph's `index`-th output, if it has them. */
function outputQuantization(bytes: Uint8Array, index: number): { scale: number; zeroPoint: number } | undefined {
  try {
    const fb = new FlatBuffer(bytes);
    const model = fb.root();
    const subgraphs = fb.ref(model, MODEL_SUBGRAPHS);
    if (subgraphs === undefined || fb.vectorLength(subgraphs) === 0) return undefined;
    const main = fb.tableAt(subgraphs, 0);
    const outputs = fb.ref(main, SUBGRAPH_OUTPUTS);
    const tensors = fb.ref(main, SUBGRAPH_TENSORS);
    if (outputs === undefined || tensors === undefined || index >= fb.vectorLength(outputs)) return undefined;
    const tensor = fb.tableAt(tensors, fb.i32At(outputs, index));
    const q = fb.ref(tensor, TENSOR_QUANTIZATION);
    if (q === undefined) return undefined;
    const scale = fb.ref(q, QUANT_SCALE);
    const zero = fb.ref(q, QUANT_ZERO_POINT);
    // Per-channel quantisation (several scales) does not occur on classifier outputs.
    if (scale === undefined || fb.vectorLength(scale) !== 1) return undefined;
    const zeroPoint = zero !== undefined && fb.vectorLength(zero) > 0 ? fb.i64At(zero, 0) : 0;
    return { scale: fb.f32At(scale, 0), zeroPoint };
  } catch {
    return undefined;
  }
}

// --- Loading ------------------------------------------------------------------------------

function dims(t: TensorInfo): number[] {
  return t.shape === '' ? [] : t.shape.split(',').map(Number);
}

const list = (ts: readonly TensorInfo[]) => ts.map((t) => t.name).join(', ');

/** The library's error, on one line; unresolved custom ops are named up front. */
function loadFailure(err: unknown, bytes: Uint8Array): LinesightError {
  const raw = (err as Error)?.message ?? String(err);
  const text = raw
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('See instructions'))
    .join(' ');
  const customOp = /unresolved custom op: ([A-Za-z0-9_.-]+?)\.?(?:\s|$)/.exec(raw)?.[1];
  if (customOp) {
    return new LinesightError('LS_ERR_MODEL_LOAD', `model uses custom op ${customOp}, which this TFLite runtime does not provide (${text})`, { cause: err });
  }
  if (/Failed to create tflite model/.test(raw)) {
    const id = new FlatBuffer(bytes).identifier();
    const what = id === 'TFL3' ? 'a TFLite file that does not verify (truncated or corrupt?)' : `not a TFLite flatbuffer (file identifier ${JSON.stringify(id)}, expected "TFL3")`;
    return new LinesightError('LS_ERR_MODEL_LOAD', `${text.replace(/\.$/, '')}: ${bytes.byteLength} bytes, ${what}`, { cause: err });
  }
  return new LinesightError('LS_ERR_MODEL_LOAD', text, { cause: err });
}

/** The model's input and the chosen output must be what the manifest says. */
function checkShape(interpreter: Interpreter, manifest: ModelManifest): { input: TensorInfo; output: TensorInfo; outputIndex: number } {
  const inputs = interpreter.getInputs();
  const outputs = interpreter.getOutputs();
  const { input: want, output: wantOut } = manifest;
  const input = inputs.find((t) => t.name === want.name);
  if (!input) throw new LinesightError('LS_ERR_MODEL_SHAPE', `input "${want.name}" not in model inputs [${list(inputs)}]`);
  if (inputs.length !== 1) throw new LinesightError('LS_ERR_MODEL_SHAPE', `model has ${inputs.length} inputs [${list(inputs)}]; Linesight feeds one`);
  const shape = dims(input);
  // The binding cannot resize inputs, so every dimension must match exactly.
  if (shape.length !== want.shape.length || shape.some((d, i) => d !== want.shape[i])) {
    throw new LinesightError('LS_ERR_MODEL_SHAPE', `input "${want.name}" has shape [${shape.join(', ')}], manifest says [${want.shape.join(', ')}]`);
  }
  if (input.dataType !== want.dtype) {
    throw new LinesightError('LS_ERR_MODEL_SHAPE', `input "${want.name}" has dtype ${input.dataType}, manifest says ${want.dtype}`);
  }
  const outputIndex = wantOut.name === undefined ? 0 : outputs.findIndex((t) => t.name === wantOut.name);
  const output = outputs[outputIndex];
  if (!output) throw new LinesightError('LS_ERR_MODEL_SHAPE', `output "${wantOut.name}" not in model outputs [${list(outputs)}]`);
  return { input, output, outputIndex };
}

class TfliteSession implements ModelSession {
  readonly provider = 'cpu';
  #interpreter: Interpreter | undefined;
  readonly #input: ReturnType<TensorInfo['data']>;
  readonly #output: TensorInfo;
  readonly #dequantize: { scale: number; zeroPoint: number } | undefined;

  constructor(interpreter: Interpreter, input: TensorInfo, output: TensorInfo, dequantize: { scale: number; zeroPoint: number } | undefined) {
    this.#interpreter = interpreter;
    this.#input = input.data();
    this.#output = output;
    this.#dequantize = dequantize;
  }

  async run(input: Float32Array | Uint8Array): Promise<Float32Array> {
    const interpreter = this.#interpreter;
    if (!interpreter) throw new LinesightError('LS_ERR_INFERENCE', 'TFLite session was disposed');
    if (input.length !== this.#input.length) {
      throw new LinesightError('LS_ERR_INFERENCE', `input has ${input.length} values, the model takes ${this.#input.length}`);
    }
    this.#input.set(input);
    try {
      interpreter.infer();
    } catch (err) {
      throw new LinesightError('LS_ERR_INFERENCE', (err as Error).message.trim(), { cause: err });
    }
    // The binding reuses its output array on every infer(): copy before handing it on.
    const data = this.#output.data();
    const q = this.#dequantize;
    if (q) return Float32Array.from(data as ArrayLike<number>, (v) => (v - q.zeroPoint) * q.scale);
    return data instanceof Float32Array ? data.slice() : Float32Array.from(data as ArrayLike<number>);
  }

  async dispose(): Promise<void> {
    // The binding has no explicit delete: the interpreter and its buffers go with the last reference.
    this.#interpreter = undefined;
  }
}

export const tfliteRuntime: ModelRuntime = {
  format: 'tflite',
  async load(bytes: Uint8Array, manifest: ModelManifest, options: RuntimeOptions): Promise<ModelSession> {
    if (!options.executionProviders.includes('cpu')) {
      throw new LinesightError('LS_ERR_PROVIDER_UNAVAILABLE', `the TFLite runtime runs on the CPU only; configured providers are [${options.executionProviders.join(', ')}]`);
    }
    const { Interpreter } = loadBinding();
    // The binding wants a whole, plain ArrayBuffer (it copies the model); the registry's is shared.
    const own = bytes.slice().buffer;
    let interpreter: Interpreter;
    try {
      interpreter = new Interpreter(own, { threads: options.intraOpThreads });
    } catch (err) {
      throw loadFailure(err, bytes);
    }
    const { input, output, outputIndex } = checkShape(interpreter, manifest);
    let dequantize: { scale: number; zeroPoint: number } | undefined;
    if (output.dataType === 'uint8' || output.dataType === 'int8') {
      dequantize = outputQuantization(bytes, outputIndex);
      if (!dequantize) {
        throw new LinesightError('LS_ERR_MODEL_LOAD', `output "${output.name}" is ${output.dataType} without a scale and zero point in the model; its scores cannot be read as probabilities`);
      }
    } else if (output.dataType.startsWith('kTfLite') || output.dataType === 'bool') {
      throw new LinesightError('LS_ERR_MODEL_SHAPE', `output "${output.name}" has dtype ${output.dataType}; scores must be numeric`);
    }
    return new TfliteSession(interpreter, input, output, dequantize);
  },
};
