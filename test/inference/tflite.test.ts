// The TFLite runtime end to end: the bundled face-presence model on its sample frames through
// the real pool (worker threads, sharp preprocessing, tfjs-tflite-node), and the models it
// must refuse at load: not a model, a manifest that does not fit, a custom op it lacks.
import assert from 'node:assert/strict';
import { expectSampleVerdicts } from '../helpers/sample-verdicts.js';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { decide, ruleFromManifest } from '../../src/models/decision.js';
import type { ModelManifest } from '../../src/models/manifest.js';
import type { ModelRef } from '../../src/inference/messages.js';
import { InferencePool } from '../../src/inference/pool.js';
import { ModelRegistry, sha256Hex } from '../../src/models/registry.js';
import { tfliteRuntime } from '../../src/inference/runtimes/tflite.js';
import { modelsDir, repo, tempDir, type ExpectedParts } from '../helpers/env.js';

const samplesDir = join(repo, 'samples', 'face-presence');
const expected = JSON.parse(readFileSync(join(samplesDir, 'expected.json'), 'utf8')) as ExpectedParts;
const runtimeOptions = { intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all' } as const;
let pool: InferencePool;
let model: ModelRef;

before(async () => {
  pool = new InferencePool({ workers: 2, ...runtimeOptions, clock: systemClock, log: silentLogger });
  pool.start();
  const v = await new ModelRegistry(modelsDir).resolve('face-presence');
  model = { key: v.key, bytes: v.bytes, manifest: v.manifest };
  const report = await pool.warmUp(model);
  assert.equal(report.provider, 'cpu');
  assert.equal(report.scores.length, 896, 'one logit per BlazeFace anchor');
});
after(() => pool.close());

function infer(file: string, ref: ModelRef = model) {
  return pool.infer({
    station: 'test',
    model: ref,
    image: { kind: 'encoded', data: new Uint8Array(readFileSync(join(samplesDir, file))) },
    deadline: systemClock.now() + 60_000,
  });
}

/** A copy of the bundled model under `root`, with the manifest changed and the file replaced. */
async function variant(root: string, change: { manifest?: (m: ModelManifest) => void; file?: Uint8Array }): Promise<ModelRef> {
  const dir = join(root, 'face-presence', '1.0.0');
  cpSync(join(modelsDir, 'face-presence', '1.0.0'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ModelManifest;
  if (change.file) {
    writeFileSync(join(dir, manifest.file), change.file);
    manifest.sha256 = sha256Hex(change.file);
  }
  change.manifest?.(manifest);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const v = await new ModelRegistry(root).resolve('face-presence');
  return { key: v.key, bytes: v.bytes, manifest: v.manifest };
}

test('the face-presence model gives the expected verdict on every sample frame', async () => {
  const seen = await expectSampleVerdicts({
    dir: samplesDir,
    expected,
    manifest: model.manifest,
    infer: async (file) => {
      const r = await infer(file);
      if (r.ok) assert.equal(r.scores.length, 896); // one logit per anchor, reduced by the decision
      return r;
    },
    // The generator ran this same code on these bytes; only rounding separates the scores.
    tolerance: 0.005,
  });
  assert.ok(seen.pass >= 3 && seen.fail >= 3 && seen.uncertain >= 1, JSON.stringify(seen));
});

test('a .tflite file that is not a valid model is refused at load', async (t) => {
  const text = await variant(tempDir(t), { file: Buffer.from('this is a text file named model.tflite, not a model') });
  await assert.rejects(pool.warmUp(text), (err: unknown) => {
    assert.ok(isLinesightError(err, 'LS_ERR_MODEL_LOAD'), String(err));
    assert.match(err.message, /not a TFLite flatbuffer \(file identifier " is "/);
    return true;
  });
  const real = readFileSync(join(modelsDir, 'face-presence', '1.0.0', 'model.tflite'));
  const truncated = await variant(tempDir(t), { file: real.subarray(0, Math.floor(real.length / 3)) });
  await assert.rejects(pool.warmUp(truncated), (err: unknown) => isLinesightError(err, 'LS_ERR_MODEL_LOAD') && /does not verify/.test(err.message));
  // The workers still serve the good model.
  assert.ok((await infer('01-astronaut-portrait.jpg')).ok);
});

test('a manifest that does not fit the model is refused at load, naming both sides', async (t) => {
  const refuse = async (change: (m: ModelManifest) => void, pattern: RegExp) => {
    const bad = await variant(tempDir(t), { manifest: change });
    await assert.rejects(pool.warmUp(bad), (err: unknown) => {
      assert.ok(isLinesightError(err, 'LS_ERR_MODEL_SHAPE'), String(err));
      assert.match(err.message, pattern);
      return true;
    });
  };
  await refuse((m) => (m.input.shape = [1, 192, 192, 3]), /input "input" has shape \[1, 128, 128, 3\], manifest says \[1, 192, 192, 3\]/);
  await refuse((m) => (m.input.name = 'image'), /input "image" not in model inputs \[input\]/);
  await refuse((m) => (m.input.dtype = 'uint8'), /input "input" has dtype float32, manifest says uint8/);
  await refuse((m) => (m.output.name = 'scores'), /output "scores" not in model outputs \[regressors, classificators\]/);
});

test('a model with a custom op the runtime lacks is refused at load, naming the op', async (t) => {
  const custom = await variant(tempDir(t), {
    file: tfliteModel({ op: { builtin: BUILTIN_CUSTOM, custom: 'Convolution2DTransposeBias' }, input: [1, 128, 128, 3], output: [1, 256, 256, 3] }),
  });
  await assert.rejects(pool.warmUp(custom), (err: unknown) => {
    assert.ok(isLinesightError(err, 'LS_ERR_MODEL_LOAD'), String(err));
    assert.match(err.message, /model uses custom op Convolution2DTransposeBias, which this TFLite runtime does not provide/);
    return true;
  });
});

test('a quantised uint8 output is dequantised with the scale and zero point in the model', async () => {
  // One QUANTIZE op: float input -> uint8 output with scale 0.5, zero point 10.
  const bytes = tfliteModel({ op: { builtin: BUILTIN_QUANTIZE }, input: [1, 1, 1, 3], output: [1, 1, 1, 3], outputType: TENSOR_UINT8, outputQuantization: { scale: 0.5, zeroPoint: 10 } });
  const manifest = structuredClone(model.manifest);
  manifest.input.shape = [1, 1, 1, 3];
  manifest.output = { reduce: 'none', activation: 'none' };
  const session = await tfliteRuntime.load(bytes, manifest, runtimeOptions);
  // Stored as [11, 12, 14]; read back as the floats they stand for.
  assert.deepEqual([...(await session.run(Float32Array.of(0.5, 1, 2)))], [0.5, 1, 2]);
  await session.dispose();
});

test('the TFLite runtime refuses a CPU-less provider list', async () => {
  await assert.rejects(
    tfliteRuntime.load(model.bytes, model.manifest, { ...runtimeOptions, executionProviders: ['cuda'] }),
    (err: unknown) => isLinesightError(err, 'LS_ERR_PROVIDER_UNAVAILABLE') && /CPU only; configured providers are \[cuda\]/.test(err.message),
  );
});

test('workers terminated after loading the model are replaced, and the next frame runs', async () => {
  // Every thread goes, so no thread still holds the native addon when the replacements load it.
  const old = new Set(pool.threads.map((w) => w.threadId));
  assert.equal(old.size, 2);
  await Promise.all(pool.threads.map((w) => w.terminate()));
  const r = await infer('03-footballer.jpg');
  assert.ok(r.ok, JSON.stringify(r));
  assert.ok(!old.has(r.threadId), `ran on thread ${r.threadId}, one of the terminated ones`);
  assert.equal(decide(r.scores, ruleFromManifest(model.manifest)).verdict, 'pass');
  assert.ok(r.timings.loadMs > 0, 'the replacement thread loaded the model itself');
});

// --- A minimal TFLite flatbuffer writer ------------------------------------------------------
// Enough of tensorflow/lite/schema/schema.fbs to build one-op models for the tests above.
// Objects are laid out front to back, so every offset points forward, as flatbuffers require.

const BUILTIN_CUSTOM = 32;
const BUILTIN_QUANTIZE = 114;
const TENSOR_FLOAT32 = 0;
const TENSOR_UINT8 = 3;

type Field =
  | { byte: number }
  | { int: number }
  | { str: string }
  | { ints: number[] }
  | { floats: number[] }
  | { longs: number[] }
  | { table: Table }
  | { tables: Table[] };
type Table = Array<Field | undefined>;

function tfliteModel(spec: {
  op: { builtin: number; custom?: string };
  input: number[];
  output: number[];
  outputType?: number;
  outputQuantization?: { scale: number; zeroPoint: number };
}): Uint8Array {
  const q = spec.outputQuantization;
  const tensor = (shape: number[], type: number, name: string, quant?: Table): Table => [{ ints: shape }, { byte: type }, { int: 0 }, { str: name }, quant && { table: quant }];
  const opcode: Table = [{ byte: spec.op.builtin }, spec.op.custom === undefined ? undefined : { str: spec.op.custom }, { int: 1 }, { int: spec.op.builtin }];
  const subgraph: Table = [
    { tables: [tensor(spec.input, TENSOR_FLOAT32, 'input'), tensor(spec.output, spec.outputType ?? TENSOR_FLOAT32, 'output', q && [undefined, undefined, { floats: [q.scale] }, { longs: [q.zeroPoint] }])] },
    { ints: [0] },
    { ints: [1] },
    { tables: [[{ int: 0 }, { ints: [0] }, { ints: [1] }]] },
    { str: 'main' },
  ];
  // Model: version, operator_codes, subgraphs, description, buffers (buffer 0 is the empty sentinel).
  return writeFlatBuffer([{ int: 3 }, { tables: [opcode] }, { tables: [subgraph] }, { str: 'Linesight test fixture' }, { tables: [[]] }], 'TFL3');
}

function writeFlatBuffer(root: Table, identifier: string): Uint8Array {
  const out: number[] = [];
  const view = new DataView(new ArrayBuffer(8));
  const put = (n: number, set: (v: DataView) => void) => {
    set(view);
    for (let i = 0; i < n; i++) out.push(view.getUint8(i));
  };
  const u16 = (v: number) => put(2, (d) => d.setUint16(0, v, true));
  const u32 = (v: number) => put(4, (d) => d.setUint32(0, v, true));
  const pad = (to: number, rest = 0) => {
    while (out.length % to !== rest) out.push(0);
  };
  const patch = (at: number, target: number) => {
    view.setUint32(0, target - at, true);
    for (let i = 0; i < 4; i++) out[at + i] = view.getUint8(i);
  };

  function vector(n: number, elem: number, each: (i: number) => void): number {
    pad(elem === 8 ? 8 : 4, elem === 8 ? 4 : 0); // elements, not the length, carry the alignment
    const at = out.length;
    u32(n);
    for (let i = 0; i < n; i++) each(i);
    return at;
  }

  function value(f: Field): number {
    if ('str' in f) {
      const bytes = Buffer.from(f.str, 'utf8');
      const at = vector(bytes.length, 1, (i) => out.push(bytes[i]!));
      out.push(0);
      return at;
    }
    if ('ints' in f) return vector(f.ints.length, 4, (i) => put(4, (d) => d.setInt32(0, f.ints[i]!, true)));
    if ('floats' in f) return vector(f.floats.length, 4, (i) => put(4, (d) => d.setFloat32(0, f.floats[i]!, true)));
    if ('longs' in f) return vector(f.longs.length, 8, (i) => put(8, (d) => d.setBigInt64(0, BigInt(f.longs[i]!), true)));
    if ('table' in f) return table(f.table);
    if ('tables' in f) {
      const slots: number[] = [];
      const at = vector(f.tables.length, 4, () => {
        slots.push(out.length);
        u32(0);
      });
      f.tables.forEach((t, i) => patch(slots[i]!, table(t)));
      return at;
    }
    throw new Error(`not an offset field: ${JSON.stringify(f)}`);
  }

  // A vtable, then the table right after it (4-aligned): an soffset back to the vtable, then one
  // 4-byte slot per present field (a byte field uses the first byte of its slot).
  function table(fields: Table): number {
    const present = fields.map((f, i) => [f, i] as const).filter((e): e is readonly [Field, number] => e[0] !== undefined);
    const vtableSize = 4 + 2 * fields.length;
    pad(4);
    if (vtableSize % 4) pad(4, 2);
    const vtable = out.length;
    u16(vtableSize);
    u16(4 + 4 * present.length);
    let slot = 4;
    for (const f of fields) {
      u16(f ? slot : 0);
      if (f) slot += 4;
    }
    const at = out.length;
    u32(at - vtable);
    const deferred: Array<[number, Field]> = [];
    for (const [f] of present) {
      if ('byte' in f) put(4, (d) => d.setUint32(0, f.byte & 0xff, true));
      else if ('int' in f) put(4, (d) => d.setInt32(0, f.int, true));
      else {
        deferred.push([out.length, f]);
        u32(0);
      }
    }
    for (const [slotAt, f] of deferred) patch(slotAt, value(f));
    return at;
  }

  u32(0);
  for (const c of identifier) out.push(c.charCodeAt(0));
  patch(0, table(root));
  pad(4);
  return Uint8Array.from(out);
}
