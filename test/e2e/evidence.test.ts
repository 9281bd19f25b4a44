// Evidence in the running service: every part kept (sampled passes at rate 1, near-threshold on)
// at 10 parts/s with 2 workers and the default 100 ms budget, on a store so small that every
// write deletes an older part; every verdict still comes within its budget. Then the API: the
// list, a record, the image with its hash, and hostile ids.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import type { Verdict } from '../../src/verdict.js';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import sharp from 'sharp';
import { collectUntil, freePort, samplesDir, tempDir } from '../helpers/env.js';
import { assertPromtoolClean } from '../helpers/promtool.js';

/** A GET with the path sent exactly as written (fetch would resolve `..` before sending). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('evidence for every part at 10 parts/s on a churning store never delays a verdict; the API lists and serves it and refuses hostile ids', async (t) => {
  const state = tempDir(t);
  const config = buildConfig(
    {
      line: 'hall-9',
      stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' }],
      state: { directory: state },
      inference: { workers: 2 },
      evidence: { enabled: true, passSampleRate: 1, nearThresholdMargin: 0.1, maxFiles: 5, maxQueue: 4 },
      mqtt: { embedded: { port: 0 } },
      api: { port: 0 },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: '/' },
  );
  assert.equal(config.stations[0]!.budgetMs, 100);
  const app = new App(config, { log: silentLogger });
  const verdicts = collectUntil<Verdict>((push) => app.bus.on('verdict', push), 60, 30_000, 'verdicts');
  await app.start();
  t.after(() => app.stop());
  const got = await verdicts;
  const store = app.evidence!;
  await store.flushed();

  const late = got.filter((v) => !v.deadlineMet || v.verdict === 'timeout' || v.verdict === 'error');
  assert.deepEqual(late.map((v) => `${v.partId} ${v.verdict} ${v.timings.totalMs} ms`), [], 'every verdict within the 100 ms budget');
  const stats = store.stats();
  assert.ok(stats.saved >= 20, `saved ${stats.saved}`);
  assert.ok(stats.deleted.files >= 15, `the store churned: ${JSON.stringify(stats)}`);
  assert.ok(stats.files <= 5);
  const dir = config.evidence.directory!;
  assert.ok(readdirSync(dir).filter((f) => f.endsWith('.jpg')).length <= 5, 'at most maxFiles images on disk');

  const api = app.apiUrl;
  const list = (await (await fetch(`${api}/evidence?limit=3`)).json()) as { enabled: boolean; total: number; items: Array<{ id: string; sha256: string; decidedAt: string; verdict: string }> };
  assert.equal(list.enabled, true);
  assert.equal(list.items.length, 3);
  assert.ok(list.items[0]!.decidedAt >= list.items[1]!.decidedAt && list.items[1]!.decidedAt >= list.items[2]!.decidedAt, 'newest first');
  const id = list.items[0]!.id;
  const rec = (await (await fetch(`${api}/evidence/${id}`)).json()) as { verdict: Verdict; image: { sha256: string } };
  assert.equal(rec.verdict.id, id);
  const img = await fetch(`${api}/evidence/${id}/image`);
  assert.equal(img.status, 200);
  assert.equal(img.headers.get('content-type'), 'image/jpeg');
  assert.equal(img.headers.get('x-content-type-options'), 'nosniff');
  const bytes = Buffer.from(await img.arrayBuffer());
  assert.equal(createHash('sha256').update(bytes).digest('hex'), rec.image.sha256);
  assert.equal(img.headers.get('x-linesight-sha256'), rec.image.sha256);
  const fails = (await (await fetch(`${api}/evidence?verdict=fail`)).json()) as { items: Array<{ verdict: string }> };
  assert.ok(fails.items.every((e) => e.verdict === 'fail'));

  // Hostile or unknown ids: a JSON error with a code, never a file.
  for (const path of ['/evidence/..%2F..%2Fetc%2Fpasswd', '/evidence/..%2F..%2Fetc%2Fpasswd/image', '/evidence/%2Fetc%2Fpasswd/image', '/evidence/.hidden/image', '/evidence/a%5Cb']) {
    const r = await rawGet(api, path);
    assert.equal(r.status, 400, `${path}: ${r.body}`);
    assert.equal(JSON.parse(r.body).error, 'LS_ERR_EVIDENCE_ID', path);
  }
  for (const path of ['/evidence/hall-9.cam1.nope.1/image', '/evidence/hall-9.cam1.nope.1']) {
    const r = await rawGet(api, path);
    assert.equal(r.status, 404, `${path}: ${r.body}`);
    assert.equal(JSON.parse(r.body).error, 'LS_ERR_EVIDENCE_NOT_FOUND', path);
  }
  // Raw `..` segments match no route at all (fastify's JSON 404), and so never reach a file.
  const dots = await rawGet(api, '/evidence/../../etc/passwd');
  assert.equal(dots.status, 404);
  assert.doesNotMatch(dots.body, /root:/);
  const bad = await fetch(`${api}/evidence?limit=100000`);
  assert.equal(bad.status, 400);
  const q = ((await (await fetch(`${api}/metrics`)).text()).match(/linesight_queue_dropped\{queue="evidence-files",reason="files"\} (\d+)/) ?? [])[1];
  assert.ok(Number(q) >= 15, `metrics count deletions: ${q}`);
});

test('the running service uploads fail evidence to S3-compatible storage under the key it announced at verdict time', async (t) => {
  const port = await freePort();
  const server = new S3rver({ address: '127.0.0.1', port, directory: tempDir(t), silent: true, configureBuckets: [{ name: 'plant-7' }] });
  await server.run();
  t.after(() => server.close());
  const endpoint = `http://127.0.0.1:${port}`;
  const state = tempDir(t);
  const config = buildConfig(
    {
      line: 'hall-9',
      stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: 'label-orientation' }],
      state: { directory: state },
      evidence: { enabled: true, nearThresholdMargin: 0, s3: { bucket: 'plant-7', endpoint, forcePathStyle: true, prefix: 'ev' } },
      mqtt: { embedded: { port: 0 } },
      api: { port: 0 },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: '/', env: { LINESIGHT_S3_ACCESS_KEY_ID: 'S3RVER', LINESIGHT_S3_SECRET_ACCESS_KEY: 'S3RVER' } },
  );
  const app = new App(config, { log: silentLogger });
  const firstFail = new Promise<Verdict>((resolve) => app.bus.on('verdict', (v) => v.verdict === 'fail' && resolve(v)));
  await app.start();
  t.after(() => app.stop());
  const fail = await firstFail;
  const key = app.evidence!.ref(fail.id)?.objectKey;
  assert.equal(key, `ev/hall-9/cam1/${fail.decidedAt.slice(0, 10).replaceAll('-', '/')}/${fail.id}.jpg`);
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  t.after(() => client.destroy());
  const end = Date.now() + 15_000;
  for (;;) {
    try {
      const o = await client.send(new GetObjectCommand({ Bucket: 'plant-7', Key: key! }));
      const bytes = Buffer.from(await o.Body!.transformToByteArray());
      assert.deepEqual(bytes, (await app.evidence!.image(fail.id)).data);
      assert.equal(o.Metadata?.sha256, createHash('sha256').update(bytes).digest('hex'));
      break;
    } catch (err) {
      if ((err as { name?: string }).name !== 'NoSuchKey' || Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(app.evidenceUploader!.health().uploaded >= 1);
  // The upload jobs wait in the durable outbox (they survive a restart), though cloud publishing is off.
  assert.ok(existsSync(join(state, 'cloud-outbox.db')), 'SQLite outbox in the state directory');
  const metrics = await (await fetch(`${app.apiUrl}/metrics`)).text();
  assert.ok(Number(/^linesight_evidence_uploads\{result="uploaded"\} (\d+)$/m.exec(metrics)?.[1]) >= 1, 'uploads in /metrics');
  assert.match(metrics, /^linesight_evidence_upload_up 1$/m);
  // The cloud, outbox and upload metrics pass promtool's lint as well.
  assertPromtoolClean(metrics);
});

test('1280x1024 camera frames, evidence for every part and the cloud on: every verdict within the 100 ms budget, images kept whole', async (t) => {
  // What a line camera gives: the sample parts as 1280x1024 JPEGs.
  const frames = tempDir(t);
  for (const name of readdirSync(samplesDir).filter((n) => n.endsWith('.jpg')).slice(0, 6)) {
    writeFileSync(join(frames, name), await sharp(join(samplesDir, name)).resize(1280, 1024, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer());
  }
  const state = tempDir(t);
  const config = buildConfig(
    {
      line: 'hall-9',
      stations: [{ id: 'cam1', source: { type: 'replay', path: frames, ratePerSec: 10 }, model: 'label-orientation' }],
      state: { directory: state },
      inference: { workers: 2 },
      evidence: { enabled: true, passSampleRate: 1, maxFiles: 20 },
      // The cloud broker is unreachable: fails pile up in the SQLite outbox (fsync per add) meanwhile.
      cloud: { enabled: true, url: `mqtts://127.0.0.1:${await freePort()}`, reconnect: { initialMs: 100, maxMs: 500 } },
      mqtt: { embedded: { port: 0 } },
      api: { port: 0 },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: '/' },
  );
  const app = new App(config, { log: silentLogger });
  const verdicts = collectUntil<Verdict>((push) => app.bus.on('verdict', push), 50, 30_000, 'verdicts');
  await app.start();
  t.after(() => app.stop());
  const got = await verdicts;
  await app.evidence!.flushed();
  const late = got.filter((v) => !v.deadlineMet || v.verdict === 'timeout' || v.verdict === 'error');
  assert.deepEqual(late.map((v) => `${v.partId} ${v.verdict} ${v.timings.totalMs} ms`), [], 'every verdict within the 100 ms budget');
  const item = app.evidence!.list({ limit: 1 }).items[0]!;
  const meta = await sharp((await app.evidence!.image(item.id)).data).metadata();
  assert.deepEqual([meta.width, meta.height], [1280, 1024]);
  assert.ok(app.cloud!.outbox.stats().depth > 0, 'fails waiting for the cloud');
});
