// Golden samples are pinned by sha256 in the (signed) manifest: an edited image, or one the
// signature does not cover, is refused when the version loads, naming the file.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLinesightError } from '../../src/errors.js';
import { loadModelVersion } from '../../src/models/registry.js';
import { generateSigningKeys, signManifest, loadPrivateKey } from '../../src/models/signature.js';
import { samplesDir, tempDir } from '../helpers/env.js';
import { makeVersion, type GoldenFile } from '../helpers/model-versions.js';

const upright = join(samplesDir, '001-copy-centre-upright.jpg');
const rotated = join(samplesDir, '002-copy-centre-rot180.jpg');
const golden: GoldenFile[] = [
  { file: 'golden/ok-1.jpg', from: upright, verdict: 'pass' },
  { file: 'golden/bad-1.jpg', from: rotated, verdict: 'fail' },
];

function signingKeys(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  const { publicPem, privatePem } = generateSigningKeys();
  writeFileSync(join(dir, 'key.pem'), privatePem);
  return { pub: createPublicKey(publicPem), priv: loadPrivateKey(join(dir, 'key.pem')) };
}

function sign(dir: string, priv: ReturnType<typeof signingKeys>['priv']): void {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  m.signature = signManifest(m, priv);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
}

test('golden images are read once at load and handed out with the version', async (t) => {
  const dir = makeVersion(tempDir(t), '1.0.0', undefined, { golden });
  const v = await loadModelVersion(dir);
  assert.deepEqual(v.golden.map((g) => [g.file, g.verdict]), [['golden/ok-1.jpg', 'pass'], ['golden/bad-1.jpg', 'fail']]);
  assert.deepEqual(Buffer.from(v.golden[0]!.bytes), readFileSync(upright));
});

test('a golden image edited after the manifest was written is refused, naming the file and both digests', async (t) => {
  const keys = signingKeys(t);
  const dir = makeVersion(tempDir(t), '1.0.0', undefined, { golden });
  sign(dir, keys.priv);
  // Someone with write access to the models directory swaps the "fail" sample for a passing one.
  writeFileSync(join(dir, 'golden', 'bad-1.jpg'), readFileSync(upright));
  for (const options of [{}, { keys: [keys.pub] }]) {
    await assert.rejects(loadModelVersion(dir, options), (err: unknown) => {
      assert.ok(isLinesightError(err, 'LS_ERR_GOLDEN_CHECKSUM'), String(err));
      assert.match(err.message, /golden\/bad-1\.jpg has sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64}/);
      return true;
    });
  }
});

test('with trusted keys, a golden entry without sha256 is refused: the signature would not cover it', async (t) => {
  const keys = signingKeys(t);
  const dir = makeVersion(tempDir(t), '1.0.0', undefined, { golden: [golden[0]!, { ...golden[1]!, unpinned: true }] });
  sign(dir, keys.priv);
  await assert.rejects(loadModelVersion(dir, { keys: [keys.pub] }), (err: unknown) => {
    assert.ok(isLinesightError(err, 'LS_ERR_SIGNATURE'), String(err));
    assert.match(err.message, /golden\[1\] \(golden\/bad-1\.jpg\) has no sha256, so the signature does not cover it/);
    return true;
  });
  // Without keys nothing is signed anyway: the unpinned sample is allowed (and still read once).
  assert.equal((await loadModelVersion(dir)).golden.length, 2);
});

test('a missing golden image is refused at load, naming the file', async (t) => {
  const dir = makeVersion(tempDir(t), '1.0.0', (m) => m.golden.push({ file: 'golden/gone.jpg', verdict: 'pass' }), { golden });
  await assert.rejects(loadModelVersion(dir), (err: unknown) => isLinesightError(err, 'LS_ERR_MODEL_GOLDEN') && /golden\[2\] golden\/gone\.jpg: ENOENT/.test(err.message));
});
