// Hostile model uploads against a running service: refused before their body is read when they
// can be (no token, too large by Content-Length, wrong type, too many at once), cut off at the
// limit when they cannot (chunked), and never left behind as staging files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { startApp } from '../helpers/app.js';
import { samplesDir, tempDir } from '../helpers/env.js';
import { makeVersion } from '../helpers/model-versions.js';
import { openChunkedUpload, streamUntilAnswered } from '../helpers/raw-http.js';
import { tarOf } from '../helpers/tar-entries.js';

const token = 'uploads-test-token-0123456789';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

async function start(t: Parameters<typeof tempDir>[0], models: string) {
  const app = await startApp(t, {
    stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' }],
    models: { directory: models, watch: false, maxUploadMB: 8, autoRollback: { parts: 0 } },
    api: { port: 0, token },
  });
  return app;
}

const head = (app: App, headers: string[]) => [`POST /models HTTP/1.1`, `Host: ${new URL(app.apiUrl).host}`, ...headers].join('\r\n');
const staged = (models: string) => readdirSync(models).filter((n) => n.startsWith('.'));
const rssMiB = () => process.memoryUsage().rss / MiB;
const uploadsDepth = async (app: App) => {
  const text = await (await fetch(`${app.apiUrl}/metrics`)).text();
  return Number(/^linesight_queue_depth\{queue="model-uploads"\} (\d+)$/m.exec(text)?.[1]);
};

test('an unauthenticated 2 GiB upload is answered 401 and disconnected before its body is read', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  const app = await start(t, models);
  const rssBefore = rssMiB();
  for (const chunked of [true, false]) {
    const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${2 * GiB}`;
    const r = await streamUntilAnswered(app.apiUrl, head(app, ['Content-Type: application/gzip', framing]), { total: 2 * GiB, chunked });
    assert.equal(r.status, 401, r.text);
    assert.match(r.text, /"error":"LS_ERR_UNAUTHORIZED"/);
    assert.match(r.text, /connection: close/i);
    assert.ok(r.closed, 'the server closed the connection');
    // What the socket buffers held, not what the server read: far from 2 GiB.
    t.diagnostic(`${chunked ? 'chunked' : 'Content-Length'}: answered 401 after ${(r.sentAtAnswer / MiB).toFixed(1)} MiB sent`);
    assert.ok(r.sentAtAnswer < 16 * MiB, `${chunked ? 'chunked' : 'Content-Length'}: ${r.sentAtAnswer} bytes sent before the answer`);
  }
  t.diagnostic(`RSS ${rssBefore.toFixed(0)} -> ${rssMiB().toFixed(0)} MiB`);
  assert.ok(rssMiB() - rssBefore < 64, `RSS grew from ${rssBefore.toFixed(0)} to ${rssMiB().toFixed(0)} MiB`);
  assert.equal((await fetch(`${app.apiUrl}/healthz`)).status, 200, 'still serving');
  assert.deepEqual(staged(models), []);
});

test('uploads over the limit get 413 (by Content-Length at once, chunked at the limit); wrong types 415; all staging files go', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  const app = await start(t, models);
  const auth = `Authorization: Bearer ${token}`;

  const declared = await streamUntilAnswered(app.apiUrl, head(app, [auth, 'Content-Type: application/gzip', `Content-Length: ${2 * GiB}`]), { total: 2 * GiB, chunked: false });
  assert.equal(declared.status, 413, declared.text);
  assert.match(declared.text, /"error":"LS_ERR_UPLOAD_TOO_LARGE".*Content-Length is 2147483648 bytes; the limit is 8388608 bytes \(models\.maxUploadMB\)/);
  assert.ok(declared.closed && declared.sentAtAnswer < 16 * MiB, `${declared.sentAtAnswer} bytes sent before the answer`);

  const chunked = await streamUntilAnswered(app.apiUrl, head(app, [auth, 'Content-Type: application/x-tar', 'Transfer-Encoding: chunked']), { total: 2 * GiB, chunked: true });
  assert.equal(chunked.status, 413, chunked.text);
  assert.match(chunked.text, /the body passed 8388608 bytes; the limit is 8388608 bytes/);
  assert.ok(chunked.closed, 'the connection is closed, the rest of the body is never read');
  t.diagnostic(`chunked: answered 413 after ${(chunked.sentAtAnswer / MiB).toFixed(1)} MiB sent`);
  assert.ok(chunked.sentAtAnswer >= 8 * MiB && chunked.sentAtAnswer < 8 * MiB + 16 * MiB, `${chunked.sentAtAnswer} bytes sent before the answer`);
  assert.deepEqual(staged(models), [], 'the partial staging file is deleted');

  for (const type of ['application/json', undefined]) {
    const r = await fetch(`${app.apiUrl}/models`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...(type ? { 'content-type': type } : {}) }, body: new Uint8Array(10) });
    const body = (await r.json()) as { error: string; message: string };
    assert.equal(r.status, 415, JSON.stringify(body));
    assert.equal(body.error, 'LS_ERR_UPLOAD_TYPE');
    assert.match(body.message, /send the archive as application\/gzip/);
  }
});

test('uploads beyond models.maxConcurrentUploads get 429 at once; hostile archives 400 naming the entry; a good one 201', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0');
  const app = await start(t, models);
  const auth = `Authorization: Bearer ${token}`;
  const upload = (body: Uint8Array, type = 'application/gzip') =>
    fetch(`${app.apiUrl}/models`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${token}` }, body });

  // Two uploads in progress (half sent, then the clients stall) hold both slots.
  const held = [
    await openChunkedUpload(app.apiUrl, head(app, [auth, 'Content-Type: application/gzip', 'Transfer-Encoding: chunked']), 256 * 1024),
    await openChunkedUpload(app.apiUrl, head(app, [auth, 'Content-Type: application/gzip', 'Transfer-Encoding: chunked']), 256 * 1024),
  ];
  while ((await uploadsDepth(app)) < 2) await new Promise((r) => setTimeout(r, 20));
  const busy = await upload(new Uint8Array(100));
  const busyBody = (await busy.json()) as { error: string; message: string };
  assert.equal(busy.status, 429, JSON.stringify(busyBody));
  assert.equal(busyBody.error, 'LS_ERR_UPLOAD_BUSY');
  assert.match(busyBody.message, /2 of 2 \(models\.maxConcurrentUploads\)/);
  assert.equal(staged(models).length, 2, 'the two stalled uploads are being received into staging files');
  // The clients give up: their slots and staging files go.
  for (const s of held) s.destroy();
  while ((await uploadsDepth(app)) > 0) await new Promise((r) => setTimeout(r, 20));
  while (staged(models).length > 0) await new Promise((r) => setTimeout(r, 20));
  assert.match(await (await fetch(`${app.apiUrl}/metrics`)).text(), /^linesight_queue_dropped\{queue="model-uploads",reason="busy"\} 1$/m);

  const m = readFileSync(join(makeVersion(tempDir(t), '9.0.0'), 'manifest.json'));
  const hostile: Array<[Buffer, RegExp]> = [
    [tarOf([{ path: '9.0.0/manifest.json', body: m }, { path: '../../escape.txt', body: m }]), /\.\.\/\.\.\/escape\.txt: "\.\." is not allowed/],
    [tarOf([{ path: '/etc/cron.d/evil', body: m }]), /\/etc\/cron\.d\/evil: absolute paths are not allowed/],
    [tarOf([{ path: '9.0.0/manifest.json', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), /9\.0\.0\/manifest\.json: SymbolicLink entries are not allowed/],
    [tarOf([{ path: '9.0.0/model.onnx', type: 'Link', linkpath: '/etc/shadow' }]), /9\.0\.0\/model\.onnx: Link entries are not allowed/],
    [tarOf([{ path: '9.0.0/zeros', size: 9 * MiB }]).subarray(0, 4096), /unpacked size exceeds 8388608 bytes/],
  ];
  for (const [archive, reason] of hostile) {
    const r = await upload(archive, 'application/x-tar');
    const body = (await r.json()) as { error: string; message: string };
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(body.error, 'LS_ERR_MODEL_ARCHIVE');
    assert.match(body.message, reason);
  }

  const work = tempDir(t);
  makeVersion(work, '1.5.0');
  const good = await upload(execFileSync('tar', ['-czf', '-', '-C', join(work, 'label-orientation'), '1.5.0']));
  assert.equal(good.status, 201, await good.clone().text());
  assert.equal(((await good.json()) as { version: string }).version, '1.5.0');
  assert.deepEqual(readdirSync(join(models, 'label-orientation')).sort(), ['1.0.0', '1.5.0']);
  assert.deepEqual(staged(models), [], 'no staging file or directory left');
});
