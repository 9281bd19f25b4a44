// `linesight models sign` pins the model file and every golden image by sha256 before signing;
// `verify` checks them all and reports the golden digests.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modelsCommand } from '../src/cli-models.js';
import { isLinesightError } from '../src/errors.js';
import { samplesDir, tempDir } from './helpers/env.js';
import { makeVersion } from './helpers/model-versions.js';

async function run(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s), env: {} };
  const code = await modelsCommand(argv, io);
  return { code, out };
}

test('sign fills in the golden digests, verify checks them; an edited golden image then fails verify', async (t) => {
  const keys = join(tempDir(t), 'ci');
  assert.equal((await run('keygen', '--out', keys)).code, 0);
  const upright = join(samplesDir, '001-copy-centre-upright.jpg');
  const dir = makeVersion(tempDir(t), '1.2.0', undefined, {
    golden: [
      { file: 'golden/ok-1.jpg', from: upright, verdict: 'pass', unpinned: true },
      { file: 'golden/bad-1.jpg', from: join(samplesDir, '002-copy-centre-rot180.jpg'), verdict: 'fail', unpinned: true },
    ],
  });
  // Unpinned golden images are not covered by a signature: with a key, verify refuses them.
  await assert.rejects(run('verify', '--key', `${keys}.pub`, dir), (e: unknown) => isLinesightError(e, 'LS_ERR_SIGNATURE'));

  const signed = await run('sign', '--key', `${keys}.key`, dir);
  assert.equal(signed.code, 0, signed.out);
  assert.match(signed.out, /golden\/ok-1\.jpg: sha256 [0-9a-f]{12}…/);
  assert.match(signed.out, /signed label-orientation@1\.2\.0 \(model and 2 golden image\(s\)\)/);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.match(manifest.golden[0].sha256, /^[0-9a-f]{64}$/);
  assert.match(manifest.signature, /^[A-Za-z0-9+/=]{88}$/);

  const ok = await run('verify', '--key', `${keys}.pub`, dir);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /label-orientation@1\.2\.0: OK \(sha256 [0-9a-f]{12}…, signature valid\)/);
  assert.match(ok.out, /golden golden\/ok-1\.jpg \(pass\): sha256 [0-9a-f]{12}… matches the manifest/);
  assert.match(ok.out, /golden golden\/bad-1\.jpg \(fail\): sha256 [0-9a-f]{12}… matches the manifest/);

  writeFileSync(join(dir, 'golden', 'bad-1.jpg'), readFileSync(upright));
  await assert.rejects(run('verify', '--key', `${keys}.pub`, dir), (e: unknown) => isLinesightError(e, 'LS_ERR_GOLDEN_CHECKSUM') && /golden\/bad-1\.jpg has sha256/.test(e.message));
  // Signing again vouches for what is there now (the signer's decision), and verify agrees.
  assert.equal((await run('sign', '--key', `${keys}.key`, dir)).code, 0);
  assert.equal((await run('verify', '--key', `${keys}.pub`, dir)).code, 0);
});

test('sign refuses a broken version and leaves its manifest as it was', async (t) => {
  const keys = join(tempDir(t), 'ci');
  await run('keygen', '--out', keys);
  const dir = makeVersion(tempDir(t), '1.3.0', (m) => (m.failLabels = ['nope']));
  const before = readFileSync(join(dir, 'manifest.json'), 'utf8');
  await assert.rejects(run('sign', '--key', `${keys}.key`, dir), (e: unknown) => isLinesightError(e, 'LS_ERR_MODEL_MANIFEST'));
  assert.equal(readFileSync(join(dir, 'manifest.json'), 'utf8'), before);
});
