// Model deployments by archive upload (HTTP) and by a Greengrass model component's install step:
// both land in the models directory and go through the same checks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { repo, samplesDir, tempDir } from '../helpers/env.js';
import { makeVersion } from '../helpers/model-versions.js';
import { startApp } from '../helpers/app.js';

const token = 'deploy-test-token-0123456789';

async function start(t: Parameters<typeof tempDir>[0], models: string, maxUploadMB = 8) {
  const app = await startApp(t, {
    stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' }],
    models: { directory: models, watch: true, scanIntervalMs: 3_600_000, maxUploadMB, autoRollback: { parts: 0 } },
    api: { port: 0, token },
  });
  return app;
}

const upload = (app: App, body: Buffer, type = 'application/gzip', auth = `Bearer ${token}`) =>
  fetch(`${app.apiUrl}/models`, { method: 'POST', headers: { 'content-type': type, authorization: auth }, body });

test('an uploaded archive is checked, installed and activated; bad archives are refused with the reason', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  const app = await start(t, models);
  const work = tempDir(t);
  makeVersion(work, '1.5.0');
  const archive = execFileSync('tar', ['-czf', '-', '-C', join(work, 'label-orientation'), '1.5.0']);

  assert.equal((await upload(app, archive, 'application/gzip', '')).status, 401);
  const r = await upload(app, archive);
  const body = (await r.json()) as { name: string; version: string; activations: Array<{ to: string }> };
  assert.equal(r.status, 201, JSON.stringify(body));
  assert.equal(body.version, '1.5.0');
  assert.equal(body.activations[0]!.to, 'label-orientation@1.5.0');
  assert.equal(app.stations[0]!.model!.manifest.version, '1.5.0');
  assert.equal((await upload(app, archive)).status, 409, 'a version number is never replaced');

  // "../" entries (GNU tar -P keeps them) are refused and nothing is written outside.
  const evil = tempDir(t);
  mkdirSync(join(evil, 'v'));
  writeFileSync(join(evil, 'escape.txt'), 'x');
  const traversal = execFileSync('tar', ['-cPf', '-', '-C', join(evil, 'v'), '../escape.txt']);
  const tr = await upload(app, traversal, 'application/x-tar');
  assert.equal(tr.status, 400);
  assert.match(((await tr.json()) as { message: string }).message, /"\.\." is not allowed/);

  const link = tempDir(t);
  makeVersion(link, '1.6.0');
  execFileSync('ln', ['-s', '/etc/passwd', join(link, 'label-orientation', '1.6.0', 'passwd')]);
  const withLink = execFileSync('tar', ['-czf', '-', '-C', join(link, 'label-orientation'), '1.6.0']);
  const lr = await upload(app, withLink);
  assert.equal(lr.status, 400);
  assert.match(((await lr.json()) as { message: string }).message, /SymbolicLink entries are not allowed/);

  const notTar = await upload(app, Buffer.from('definitely not a tarball'));
  assert.equal(notTar.status, 400);

  const tampered = tempDir(t);
  makeVersion(tampered, '1.7.0', (m) => (m.sha256 = 'b'.repeat(64)));
  const tr2 = await upload(app, execFileSync('tar', ['-czf', '-', '-C', join(tampered, 'label-orientation'), '1.7.0']));
  assert.equal(tr2.status, 422);
  assert.equal(((await tr2.json()) as { error: string }).error, 'LS_ERR_MODEL_CHECKSUM');

  const big = Buffer.alloc(9 * 1024 * 1024, 1);
  assert.equal((await upload(app, big)).status, 413);
  // Nothing half-installed, no staging left behind; 1.5.0 still serving.
  assert.deepEqual(readdirSync(join(models, 'label-orientation')).sort(), ['1.0.0', '1.5.0']);
  assert.deepEqual(readdirSync(models).filter((n) => n.startsWith('.')), []);
  assert.equal(app.stations[0]!.model!.manifest.version, '1.5.0');
});

test('a Greengrass model component install step delivers a version the watcher activates', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  const app = await start(t, models);
  // What Greengrass leaves in the component's decompressed artifact directory.
  const artifacts = tempDir(t);
  const unpacked = makeVersion(artifacts, '1.1.0');
  const out = execFileSync('sh', [join(repo, 'deploy', 'greengrass', 'install-model.sh'), unpacked, models, 'label-orientation', '1.1.0'], { encoding: 'utf8' });
  assert.match(out, /label-orientation@1\.1\.0 installed/);
  await app.watcher!.scan();
  await app.watcher!.scan();
  assert.equal(app.stations[0]!.model!.manifest.version, '1.1.0');
});
