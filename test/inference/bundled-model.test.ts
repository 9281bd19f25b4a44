// The bundled model on the bundled sample parts, through the real pool (worker threads,
// sharp preprocessing, onnxruntime-node), against the verdicts recorded in expected.json.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { InferencePool } from '../../src/inference/pool.js';
import { ModelRegistry, sha256Hex, type ModelVersion } from '../../src/models/registry.js';
import { modelsDir, samplesDir, tempDir, truncatedJpeg, type ExpectedParts } from '../helpers/env.js';
import { expectSampleVerdicts } from '../helpers/sample-verdicts.js';

const expected = JSON.parse(readFileSync(join(samplesDir, 'expected.json'), 'utf8')) as ExpectedParts;
let pool: InferencePool;
let model: ModelVersion;

before(async () => {
  pool = new InferencePool({ workers: 2, intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger });
  pool.start();
  model = await new ModelRegistry(modelsDir).resolve('label-orientation');
  const report = await pool.warmUp({ key: model.key, bytes: model.bytes, manifest: model.manifest });
  assert.equal(report.provider, 'cpu');
  assert.equal(report.scores.length, 2);
});
after(() => pool.close());

function infer(bytes: Uint8Array) {
  return pool.infer({
    station: 'test',
    model: { key: model.key, bytes: model.bytes, manifest: model.manifest },
    image: { kind: 'encoded', data: new Uint8Array(bytes) },
    deadline: systemClock.now() + 60_000,
  });
}

test('the bundled model gives the expected verdict on every bundled sample part', async () => {
  const seen = await expectSampleVerdicts({
    dir: samplesDir,
    expected,
    manifest: model.manifest,
    infer: (file) => infer(readFileSync(join(samplesDir, file))),
    // Same preprocessing as the generator: scores agree closely, not just the verdicts.
    tolerance: 0.02,
  });
  assert.ok(seen.pass >= 10 && seen.fail >= 10 && seen.uncertain >= 1, JSON.stringify(seen));
});

test('a corrupt JPEG is a decode error from the worker, and the next part still runs', async () => {
  const bad = await infer(readFileSync(truncatedJpeg));
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok && bad.stage === 'decode' && bad.error.code === 'LS_ERR_IMAGE_DECODE', JSON.stringify(bad));
  const junk = await infer(Buffer.from('this is not an image at all'));
  assert.ok(!junk.ok && junk.error.code === 'LS_ERR_IMAGE_DECODE');
  const good = await infer(readFileSync(join(samplesDir, '001-copy-centre-upright.jpg')));
  assert.ok(good.ok);
});

test('a model file with one byte changed is refused with a checksum error', async (t) => {
  const root = tempDir(t);
  cpSync(join(modelsDir, 'label-orientation'), join(root, 'label-orientation'), { recursive: true });
  const file = join(root, 'label-orientation', '1.0.0', 'model.onnx');
  const bytes = readFileSync(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  writeFileSync(file, bytes);
  await assert.rejects(new ModelRegistry(root).resolve('label-orientation'), (err: unknown) => {
    assert.ok(isLinesightError(err, 'LS_ERR_MODEL_CHECKSUM'), String(err));
    assert.match(err.message, /model\.onnx has sha256 [0-9a-f]{64}, manifest says 491843a3/);
    return true;
  });
});

test('bad manifests are refused naming the field', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'label-orientation', '1.0.0');
  cpSync(join(modelsDir, 'label-orientation', '1.0.0'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const registry = new ModelRegistry(root);
  const refuse = async (change: (m: any) => void, pattern: RegExp) => {
    const m = structuredClone(manifest);
    change(m);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    await assert.rejects(registry.resolve('label-orientation'), (err: unknown) => isLinesightError(err, 'LS_ERR_MODEL_MANIFEST') && pattern.test(err.message));
  };
  await refuse((m) => delete m.sha256, /missing required key "sha256"/);
  await refuse((m) => (m.input.layout = 'CHWN'), /input\.layout: got "CHWN", expected one of "NCHW", "NHWC"/);
  await refuse((m) => (m.failLabels = ['upside-down']), /failLabels\[0\]: got "upside-down", expected one of labels/);
  await refuse((m) => (m.input.colorOrder = 'GRAY'), /input\.shape: got 3 channel\(s\) in NCHW order, expected 1 for colorOrder GRAY/);
  await refuse((m) => (m.version = '9.9.9'), /manifest names label-orientation@9\.9\.9 but lives in label-orientation\/1\.0\.0/);
  await assert.rejects(registry.resolve('label-orientation@2.0.0'), (err: unknown) => isLinesightError(err, 'LS_ERR_MODEL_NOT_FOUND') && /known versions: 1\.0\.0/.test(err.message));
});

test('a truncated model and a wrong input name are refused at load, before serving', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'label-orientation', '1.0.0');
  cpSync(join(modelsDir, 'label-orientation', '1.0.0'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const full = readFileSync(join(dir, 'model.onnx'));
  const cut = full.subarray(0, Math.floor(full.length / 3));
  writeFileSync(join(dir, 'model.onnx'), cut);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, sha256: sha256Hex(cut) }));
  const truncated = await new ModelRegistry(root).resolve('label-orientation');
  await assert.rejects(pool.warmUp({ key: truncated.key, bytes: truncated.bytes, manifest: truncated.manifest }), (err: unknown) => isLinesightError(err, 'LS_ERR_MODEL_LOAD'));

  writeFileSync(join(dir, 'model.onnx'), full);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, input: { ...manifest.input, name: 'image' } }));
  const renamed = await new ModelRegistry(root).resolve('label-orientation');
  await assert.rejects(pool.warmUp({ key: renamed.key, bytes: renamed.bytes, manifest: renamed.manifest }), (err: unknown) => isLinesightError(err, 'LS_ERR_MODEL_SHAPE') && /input "image" not in model inputs \[x\]/.test(err.message));
  // The pool still serves the good model afterwards.
  assert.ok((await infer(readFileSync(join(samplesDir, '003-notice-upright.jpg')))).ok);
});

test('execution providers are tried in order; unavailable GPU providers fall back to cpu, and none at all is a clear error', async () => {
  const ref = { key: `${model.key}-providers`, bytes: model.bytes, manifest: model.manifest };
  const gpuFirst = new InferencePool({ workers: 2, intraOpThreads: 1, executionProviders: ['tensorrt', 'cuda', 'cpu'], graphOptimization: 'basic', clock: systemClock, log: silentLogger });
  gpuFirst.start();
  try {
    // This machine has no CUDA/TensorRT providers installed: the chosen provider is reported as cpu.
    assert.equal((await gpuFirst.warmUp(ref)).provider, 'cpu');
  } finally {
    await gpuFirst.close();
  }
  const gpuOnly = new InferencePool({ workers: 2, intraOpThreads: 1, executionProviders: ['cuda'], graphOptimization: 'all', clock: systemClock, log: silentLogger });
  gpuOnly.start();
  try {
    await assert.rejects(gpuOnly.warmUp(ref), (err: unknown) => isLinesightError(err, 'LS_ERR_PROVIDER_UNAVAILABLE') && /cuda:/.test(err.message));
  } finally {
    await gpuOnly.close();
  }
});
