// Caps on what a manifest may declare: each refusal names the field and the limit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manifestLimits, manifestProblems } from '../../src/models/manifest.js';
import { isLinesightError } from '../../src/errors.js';
import { loadModelVersion } from '../../src/models/registry.js';
import { tempDir } from '../helpers/env.js';
import { bundledManifest, makeVersion } from '../helpers/model-versions.js';

function problems(change: (m: Record<string, any>) => void): string {
  const m = structuredClone(bundledManifest);
  change(m);
  const r = manifestProblems(m);
  assert.equal(r.manifest, undefined, 'expected the manifest to be refused');
  return r.problems.join('; ');
}

test('the bundled manifest is within every cap', () => {
  assert.deepEqual(manifestProblems(structuredClone(bundledManifest)).problems, []);
});

test('input dimensions and the input tensor size are bounded', () => {
  assert.match(problems((m) => (m.input.shape = [1, 3, 48, 100_000])), /input\.shape\[3\]: got 100000, expected a number <= 8192/);
  assert.match(problems((m) => (m.input.shape = [1, 3, 8192, 8192])), /input\.shape: got \[1,3,8192,8192\] \(201326592 elements\), expected at most 16777216 elements/);
});

test('label count and length are bounded', () => {
  const many = Array.from({ length: manifestLimits.labels + 1 }, (_, i) => `l${i}`);
  assert.match(problems((m) => (m.labels = many)), /labels: got 10001 items, expected at most 10000/);
  assert.match(problems((m) => (m.labels = ['upright', 'x'.repeat(129)])), /labels\[1\]: got 129 characters, expected at most 128/);
  assert.match(problems((m) => (m.failLabels = ['y'.repeat(200)])), /failLabels\[0\]: got 200 characters, expected at most 128/);
});

test('golden count, strings and provenance are bounded; golden digests must be sha256 hex', () => {
  const golden = Array.from({ length: manifestLimits.golden + 1 }, (_, i) => ({ file: `g${i}.jpg`, verdict: 'pass' }));
  assert.match(problems((m) => (m.golden = golden)), /golden: got 101 items, expected at most 100/);
  assert.match(problems((m) => (m.golden = [{ file: 'g.jpg', verdict: 'pass', sha256: 'abc' }])), /golden\[0\]\.sha256: got "abc", expected a string matching/);
  assert.match(problems((m) => (m.description = 'd'.repeat(5000))), /description: got 5000 characters, expected at most 4096/);
  assert.match(problems((m) => (m.input.name = 'n'.repeat(300))), /input\.name: got 300 characters, expected at most 256/);
  assert.match(problems((m) => (m.source = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'])))), /source: got 40 keys, expected at most 32/);
});

test('a manifest.json over 1 MiB is refused before it is parsed', async (t) => {
  const dir = makeVersion(tempDir(t), '1.0.0', (m) => (m.source = { notes: 'x'.repeat(manifestLimits.fileBytes) }));
  await assert.rejects(loadModelVersion(dir), (err: unknown) => isLinesightError(err, 'LS_ERR_MODEL_MANIFEST') && /manifest\.json is \d+ bytes, over the 1048576-byte limit/.test(err.message));
});
