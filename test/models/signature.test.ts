import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLinesightError } from '../../src/errors.js';
import { loadModelVersion } from '../../src/models/registry.js';
import { generateSigningKeys, signManifest, loadPrivateKey } from '../../src/models/signature.js';
import { tempDir } from '../helpers/env.js';
import { makeVersion } from '../helpers/model-versions.js';

function keys(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  const { publicPem, privatePem } = generateSigningKeys();
  writeFileSync(join(dir, 'key.pem'), privatePem);
  return { pub: createPublicKey(publicPem), priv: loadPrivateKey(join(dir, 'key.pem')) };
}

test('with trusted keys: signed loads; unsigned, wrongly signed and edited-after-signing are refused', async (t) => {
  const root = tempDir(t);
  const trusted = keys(t);
  const other = keys(t);
  const sign = (dir: string, priv = trusted.priv) => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    m.signature = signManifest(m, priv);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 4)); // formatting is not signed
    return m;
  };
  const good = makeVersion(root, '1.0.0');
  sign(good);
  const v = await loadModelVersion(good, { keys: [trusted.pub] });
  assert.equal(v.manifest.version, '1.0.0');

  const unsigned = makeVersion(root, '1.0.1');
  await assert.rejects(loadModelVersion(unsigned, { keys: [trusted.pub] }), (e: unknown) => isLinesightError(e, 'LS_ERR_SIGNATURE') && /is not signed/.test(e.message));
  // Without keys, unsigned versions are fine.
  await loadModelVersion(unsigned);

  const foreign = makeVersion(root, '1.0.2');
  sign(foreign, other.priv);
  await assert.rejects(loadModelVersion(foreign, { keys: [trusted.pub] }), (e: unknown) => isLinesightError(e, 'LS_ERR_SIGNATURE') && /does not verify/.test(e.message));

  const edited = makeVersion(root, '1.0.3');
  const m = sign(edited);
  m.thresholds.fail = 0.5; // loosened after signing
  writeFileSync(join(edited, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(loadModelVersion(edited, { keys: [trusted.pub] }), (e: unknown) => isLinesightError(e, 'LS_ERR_SIGNATURE'));
});
