// Evidence to a real S3-compatible server (s3rver) on loopback, through the outbox: the object
// arrives under the deterministic key with the image's bytes, and an outage of the server
// buffers the upload jobs, which go up once it is back.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { systemClock } from '../../src/clock.js';
import { EvidenceUploader } from '../../src/evidence/s3-uploader.js';
import { evidenceObjectKey } from '../../src/evidence/object-key.js';
import { EvidenceStore, type DecidedPart } from '../../src/evidence/store.js';
import { silentLogger } from '../../src/log.js';
import { MemoryOutbox } from '../../src/publish/outbox-memory.js';
import type { Verdict } from '../../src/verdict.js';
import { freePort, samplesDir, tempDir } from '../helpers/env.js';

const bucket = 'linesight-evidence';
const jpegs = readdirSync(samplesDir).filter((f) => f.endsWith('.jpg')).map((f) => new Uint8Array(readFileSync(join(samplesDir, f))));

let seq = 0;
function fail(): DecidedPart {
  seq++;
  const decidedAt = '2026-05-06T07:08:09.000Z';
  const verdict: Verdict = {
    id: `hall-9.cam1.run1.${seq}`, line: 'hall-9', camera: 'cam1', partId: `p${seq}`, seq, verdict: 'fail', action: 'reject',
    label: 'rot180', score: 0.97, scores: { upright: 0.03, rot180: 0.97 }, model: { name: 'label-orientation', version: '1.0.0' }, budgetMs: 100, deadlineMet: true,
    timings: { queueMs: 1, preprocessMs: 1, inferenceMs: 5, totalMs: 8 }, capturedAt: decidedAt, captureTimeSource: 'arrival', decidedAt,
  };
  return { verdict, image: { kind: 'encoded', data: jpegs[seq % jpegs.length]! }, rule: { failLabels: ['rot180'], thresholds: { pass: 0.7, fail: 0.6 } } };
}

/** Polls `done` (the uploader works on its own timers; there is no event to await). */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('evidence uploads arrive under the expected key with the image bytes; an S3 outage buffers them until it is back', async (t) => {
  const port = await freePort();
  const s3dir = tempDir(t);
  const startS3 = async () => {
    const server = new S3rver({ address: '127.0.0.1', port, directory: s3dir, silent: true, configureBuckets: [{ name: bucket }] });
    await server.run();
    return server;
  };
  let server: S3rver | undefined = await startS3();
  t.after(() => server?.close());

  const s3 = { bucket, region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, prefix: 'plant-7', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', maxAttempts: 1000, timeoutMs: 5000 };
  const outbox = new MemoryOutbox({ clock: systemClock });
  let uploader: EvidenceUploader | undefined;
  const store = new EvidenceStore({
    directory: tempDir(t), quotaBytes: 1 << 30, maxAgeMs: 86_400_000, maxFiles: 1000, maxQueue: 100, jpegQuality: 90,
    policy: () => ({ enabled: true, passSampleRate: 0, nearThresholdMargin: 0 }),
    objectKey: (v) => evidenceObjectKey(s3.prefix, v),
    onSaved: (record) => uploader!.enqueue(record),
    clock: systemClock, log: silentLogger,
  });
  uploader = new EvidenceUploader({ outbox, s3, imagePath: (id) => store.imagePath(id), clock: systemClock, log: silentLogger, idleMs: 50, backoffMs: 50, maxBackoffMs: 200 });
  await store.start();
  uploader.start();
  t.after(async () => {
    await uploader!.stop();
    await store.stop();
  });
  const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  t.after(() => client.destroy());
  const fetchObject = async (key: string) => {
    const o = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { bytes: Buffer.from(await o.Body!.transformToByteArray()), metadata: o.Metadata ?? {}, contentType: o.ContentType };
  };

  const first = fail();
  const ref = store.offer(first)!;
  assert.equal(ref.objectKey, `plant-7/hall-9/cam1/2026/05/06/${first.verdict.id}.jpg`, 'the key is known at verdict time');
  await until(() => uploader!.health().uploaded === 1, 10_000, 'the first upload');
  const got = await fetchObject(ref.objectKey!);
  const kept = await store.image(first.verdict.id);
  assert.deepEqual(got.bytes, kept.data);
  assert.equal(got.metadata.sha256, kept.sha256);
  assert.equal(got.contentType, 'image/jpeg');
  assert.equal(outbox.stats().depth, 0);

  // Outage: the server goes away; new evidence is kept, its upload jobs wait in the outbox.
  await server.close();
  server = undefined;
  const during = [fail(), fail(), fail()];
  for (const p of during) store.offer(p);
  await store.flushed();
  await until(() => uploader!.health().failed >= 2, 10_000, 'failed uploads during the outage');
  assert.equal(outbox.stats().depth, 3, 'every job still in the outbox');
  assert.equal(outbox.stats().quarantined, 0);
  assert.equal(uploader.health().connected, false);
  assert.match(uploader.health().lastError ?? '', /LS_ERR_EVIDENCE_UPLOAD|upload to bucket/);

  server = await startS3();
  await until(() => uploader!.health().uploaded === 4, 15_000, 'the buffered uploads after the outage');
  assert.equal(outbox.stats().depth, 0);
  for (const p of during) {
    const key = evidenceObjectKey(s3.prefix, p.verdict);
    assert.deepEqual((await fetchObject(key)).bytes, (await store.image(p.verdict.id)).data, key);
  }
  assert.equal(uploader.health().connected, true);
});

test('an upload the store refuses for good (no such bucket) is quarantined and does not block the next', async (t) => {
  const port = await freePort();
  const server = new S3rver({ address: '127.0.0.1', port, directory: tempDir(t), silent: true, configureBuckets: [{ name: bucket }] });
  await server.run();
  t.after(() => server.close());
  const outbox = new MemoryOutbox({ clock: systemClock });
  const dir = tempDir(t);
  const store = new EvidenceStore({
    directory: dir, quotaBytes: 1 << 30, maxAgeMs: 86_400_000, maxFiles: 1000, maxQueue: 100, jpegQuality: 90,
    policy: () => ({ enabled: true, passSampleRate: 0, nearThresholdMargin: 0 }),
    clock: systemClock, log: silentLogger,
  });
  await store.start();
  t.after(() => store.stop());
  const parts = [fail(), fail()];
  for (const p of parts) store.offer(p);
  await store.flushed();
  const s3 = { bucket, region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, prefix: '', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', maxAttempts: 3, timeoutMs: 5000 };
  const good = new EvidenceUploader({ outbox, s3, imagePath: (id) => store.imagePath(id), clock: systemClock, log: silentLogger, idleMs: 50, backoffMs: 50 });
  const wrong = new EvidenceUploader({ outbox, s3: { ...s3, bucket: 'no-such-bucket' }, imagePath: (id) => store.imagePath(id), clock: systemClock, log: silentLogger, idleMs: 50, backoffMs: 50 });
  // The first job through the uploader of the wrong bucket, the second through the right one.
  const records = await Promise.all(parts.map((p) => store.record(p.verdict.id)));
  wrong.enqueue({ ...records[0]!, objectKey: 'x/first.jpg' });
  wrong.start();
  await until(() => wrong.health().quarantined === 1, 10_000, 'the refused upload to be quarantined');
  await wrong.stop();
  good.enqueue({ ...records[1]!, objectKey: 'x/second.jpg' });
  good.start();
  t.after(() => good.stop());
  await until(() => good.health().uploaded === 1, 10_000, 'the next upload');
  const q = outbox.listQuarantine();
  assert.equal(q.length, 1);
  assert.equal(q[0]!.id, `evidence:${parts[0]!.verdict.id}`);
  assert.match(q[0]!.reason, /NoSuchBucket/);
});
