// The reference-model export script, checked by loading what it wrote the way the service does:
// the registry (manifest, sha256) and ONNX Runtime (input/output against the manifest, one run),
// plus the opset-10 copy and the weights the Python baseline uses. Needs Debian's python3-torch
// and python3-torchvision (installed by .ci/run); skipped, saying so, where they are missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { exportScript, hasRandomWeights, systemPython } from '../../src/bench/models.js';
import { onnxRuntime } from '../../src/inference/runtimes/onnx.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { tempDir } from '../helpers/env.js';

const torch = spawnSync(systemPython, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
const missing = torch.status === 0 ? false : `needs ${systemPython} with python3-torch and python3-torchvision: ${(torch.stderr || String(torch.error)).trim().split('\n').at(-1)}`;

test('the export script writes a model the service loads and runs, labelled random weights', { skip: missing }, async (t) => {
  const out = tempDir(t);
  const r = spawnSync(systemPython, [exportScript, '--models', 'mobilenetv3-small', '--out', out], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const line = JSON.parse(r.stdout.trim()) as { model: string; written: boolean; dir: string };
  assert.deepEqual([line.model, line.written], ['mobilenetv3-small', true]);

  const version = await new ModelRegistry(out).resolve('mobilenetv3-small');
  assert.equal(version.manifest.version, '1.0.0-random');
  assert.ok(hasRandomWeights(version), 'manifest source says random weights');
  assert.match(version.manifest.description ?? '', /RANDOM WEIGHTS/);
  assert.deepEqual(version.manifest.input.shape, [1, 3, 224, 224]);
  assert.equal(version.golden.length, 0);

  const session = await onnxRuntime.load(version.bytes, version.manifest, { intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all' });
  t.after(() => session.dispose());
  const scores = await session.run(new Float32Array(3 * 224 * 224).fill(0.5));
  assert.equal(scores.length, version.manifest.labels.length);
  assert.ok([...scores].every(Number.isFinite));

  // The opset-10 copy holds the same weights: the same input gives the same scores.
  const opset10 = await ort.InferenceSession.create(readFileSync(join(version.dir, 'model.opset10.onnx')));
  t.after(() => opset10.release());
  const o = await opset10.run({ input: new ort.Tensor('float32', new Float32Array(3 * 224 * 224).fill(0.5), [1, 3, 224, 224]) });
  const s10 = o[opset10.outputNames[0]!]!.data as Float32Array;
  for (let i = 0; i < scores.length; i++) assert.ok(Math.abs(s10[i]! - scores[i]!) < 1e-3, `score ${i}: ${s10[i]} vs ${scores[i]}`);
  assert.ok(existsSync(join(version.dir, 'weights.pt')));

  // A second run leaves the version alone; an unknown name is refused with the known ones.
  const again = spawnSync(systemPython, [exportScript, '--models', 'mobilenetv3-small', '--out', out], { encoding: 'utf8' });
  assert.equal((JSON.parse(again.stdout.trim()) as { written: boolean }).written, false);
  const bad = spawnSync(systemPython, [exportScript, '--models', 'vgg99', '--out', out], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown reference model\(s\) vgg99; known: mobilenetv3-small, mobilenetv2, efficientnet-b0, resnet50/);
});
