// The evidence store on a real disk: quota, file count and age (oldest first, counted), a bounded
// write queue, a directory shared with other files, and a restart that finds what was kept.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { EvidenceStore, type DecidedPart, type EvidenceStoreOptions } from '../../src/evidence/store.js';
import { silentLogger } from '../../src/log.js';
import { systemClock } from '../../src/clock.js';
import type { Verdict, VerdictKind } from '../../src/verdict.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { samplesDir, tempDir } from '../helpers/env.js';

const rule = { failLabels: ['rot180'], thresholds: { pass: 0.7, fail: 0.6 } };
const jpegs = readdirSync(samplesDir).filter((f) => f.endsWith('.jpg')).map((f) => new Uint8Array(readFileSync(join(samplesDir, f))));

let seq = 0;
function decided(kind: VerdictKind, image = jpegs[seq % jpegs.length]!, camera = 'cam1', decidedAt = new Date(Date.UTC(2026, 0, 1)).toISOString()): DecidedPart {
  seq++;
  const rot = kind === 'fail' ? 0.95 : 0.02;
  const verdict: Verdict = {
    id: `hall-9.${camera}.run1.${seq}`, line: 'hall-9', camera, partId: `p${seq}`, seq, verdict: kind, action: kind === 'pass' ? 'accept' : 'reject',
    label: kind === 'fail' ? 'rot180' : 'upright', score: kind === 'fail' ? rot : 1 - rot, scores: { upright: 1 - rot, rot180: rot },
    model: { name: 'label-orientation', version: '1.0.0' }, budgetMs: 100, deadlineMet: true,
    timings: { queueMs: 1, preprocessMs: 1, inferenceMs: 5, totalMs: 8 }, capturedAt: decidedAt, captureTimeSource: 'arrival', decidedAt,
  };
  return { verdict, image: { kind: 'encoded', data: image }, rule };
}

function store(dir: string, over: Partial<EvidenceStoreOptions> = {}): EvidenceStore {
  return new EvidenceStore({
    directory: dir, quotaBytes: 1 << 30, maxAgeMs: 30 * 86_400_000, maxFiles: 100_000, maxQueue: 1000, jpegQuality: 90,
    policy: () => ({ enabled: true, passSampleRate: 0, nearThresholdMargin: 0 }),
    clock: systemClock, log: silentLogger, ...over,
  });
}

const ours = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('hall-9.') && f !== 'hall-9.foreign.json');
const diskBytes = (dir: string) => ours(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);

test('fails are saved with their verdict JSON and the sha256 of the image bytes; passes are not (sample rate 0)', async (t) => {
  const dir = tempDir(t);
  const s = store(dir);
  await s.start();
  t.after(() => s.stop());
  const fail = decided('fail');
  assert.deepEqual(s.offer(fail), { id: fail.verdict.id });
  assert.equal(s.offer(decided('pass')), undefined);
  await s.flushed();
  const rec = await s.record(fail.verdict.id);
  assert.deepEqual(rec.verdict, fail.verdict);
  assert.equal(rec.reason, 'fail');
  const img = await s.image(fail.verdict.id);
  assert.deepEqual(new Uint8Array(img.data), fail.image!.data, 'a camera JPEG is kept byte for byte');
  assert.equal(img.sha256, createHash('sha256').update(img.data).digest('hex'));
  assert.equal(rec.image.sha256, img.sha256);
  assert.deepEqual(s.stats().skipped.full, 0);
  assert.equal(s.stats().saved, 1);
  await s.stop();
});

test('raw frames are encoded as JPEG off the verdict path', async (t) => {
  const dir = tempDir(t);
  const s = store(dir);
  await s.start();
  t.after(() => s.stop());
  const part = decided('fail');
  const pixels = new Uint8Array(64 * 48 * 3).fill(200);
  part.image = { kind: 'raw', data: pixels, width: 64, height: 48, format: 'rgb' };
  s.offer(part);
  await s.flushed();
  const img = await s.image(part.verdict.id);
  const meta = await sharp(img.data).metadata();
  assert.equal(meta.format, 'jpeg');
  assert.equal(meta.width, 64);
  assert.equal(meta.height, 48);
  await s.stop();
});

test('the quota holds: the oldest evidence is deleted first and counted; other files in the directory are untouched', async (t) => {
  const dir = tempDir(t);
  const others = { 'notes.txt': 'keep me', 'photo.jpg': 'not evidence', 'other.json': '{"kind":"something-else"}', 'hall-9.foreign.json': '{}' };
  for (const [name, text] of Object.entries(others)) writeFileSync(join(dir, name), text);
  const image = jpegs[0]!; // about 10 KB
  const quotaBytes = 3 * image.length + 3 * 2500; // room for three parts and their records
  const s = store(dir, { quotaBytes });
  await s.start();
  t.after(() => s.stop());
  const parts = Array.from({ length: 8 }, () => decided('fail', image));
  for (const p of parts) {
    s.offer(p);
    await s.flushed();
    assert.ok(s.stats().bytes <= quotaBytes, `${s.stats().bytes} bytes kept, quota ${quotaBytes}`);
    assert.ok(diskBytes(dir) <= quotaBytes + image.length, 'on disk too');
  }
  const kept = s.list().items.map((e) => e.id);
  assert.deepEqual(kept, parts.slice(-3).map((p) => p.verdict.id).reverse(), 'the newest three, newest first');
  assert.equal(s.stats().deleted.quota, 5);
  assert.equal(s.stats().bytes, diskBytes(dir));
  assert.deepEqual(ours(dir).sort(), kept.flatMap((id) => [`${id}.jpg`, `${id}.json`]).sort());
  for (const [name, text] of Object.entries(others)) assert.equal(readFileSync(join(dir, name), 'utf8'), text, `${name} untouched`);
  await assert.rejects(s.image(parts[0]!.verdict.id), { code: 'LS_ERR_EVIDENCE_NOT_FOUND' });
  const files = s.queues().find((q) => q.queue === 'evidence-files')!;
  assert.equal(files.depth, 3);
  assert.equal(files.dropped.quota, 5);
  await s.stop();
});

test('the file count holds like the quota', async (t) => {
  const dir = tempDir(t);
  const s = store(dir, { maxFiles: 2 });
  await s.start();
  t.after(() => s.stop());
  for (let i = 0; i < 5; i++) s.offer(decided('fail'));
  await s.flushed();
  assert.equal(s.list().total, 2);
  assert.equal(s.stats().deleted.files, 3);
  assert.equal(ours(dir).length, 4);
  await s.stop();
});

test('evidence older than maxAge is deleted (counted), the rest kept', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const s = store(dir, { clock, maxAgeMs: 86_400_000 });
  await s.start();
  t.after(() => s.stop());
  const old = [decided('fail'), decided('fail')];
  for (const p of old) s.offer(p);
  await s.flushed();
  clock.advance(12 * 3_600_000);
  const middle = decided('fail');
  s.offer(middle);
  await s.flushed();
  clock.advance(13 * 3_600_000); // the first two are now 25 h old, the third 13 h
  const fresh = decided('fail');
  s.offer(fresh);
  await s.flushed();
  assert.deepEqual(s.list().items.map((e) => e.id), [fresh.verdict.id, middle.verdict.id]);
  assert.equal(s.stats().deleted.age, 2);
  for (const p of old) assert.equal(existsSync(join(dir, `${p.verdict.id}.jpg`)), false);
  await s.stop();
});

test('a full write queue skips evidence (counted) instead of waiting', async (t) => {
  const dir = tempDir(t);
  const s = store(dir, { maxQueue: 1 });
  await s.start();
  t.after(() => s.stop());
  const refs = Array.from({ length: 5 }, () => s.offer(decided('fail')));
  // The first is being written, the second waits, the other three find the queue full.
  assert.equal(refs.filter(Boolean).length, 2);
  await s.flushed();
  assert.equal(s.stats().saved, 2);
  assert.equal(s.stats().skipped.full, 3);
  assert.equal(s.queues().find((q) => q.queue === 'evidence-writes')!.dropped.full, 3);
  await s.stop();
});

test('a restart finds the kept evidence; a write cut short by a kill leaves nothing behind', async (t) => {
  const dir = tempDir(t);
  const a = store(dir);
  await a.start();
  t.after(() => a.stop());
  const parts = [decided('fail'), decided('fail', jpegs[1], 'cam2'), decided('fail')];
  for (const p of parts) a.offer(p);
  await a.flushed();
  await a.stop();
  writeFileSync(join(dir, 'hall-9.cam1.run1.999.jpg.evidence-tmp'), 'half an image');
  const b = store(dir);
  await b.start();
  t.after(() => b.stop());
  assert.deepEqual(b.list().items.map((e) => e.id), parts.map((p) => p.verdict.id).reverse());
  assert.deepEqual(b.list({ station: 'cam2' }).items.map((e) => e.id), [parts[1]!.verdict.id]);
  assert.deepEqual(b.list({ limit: 1, offset: 1 }), { total: 3, items: [b.list().items[1]!] });
  assert.equal(existsSync(join(dir, 'hall-9.cam1.run1.999.jpg.evidence-tmp')), false);
  assert.equal((await b.record(parts[1]!.verdict.id)).station, 'cam2');
  await b.stop();
});

test('hostile ids are refused before any file is touched', async (t) => {
  const dir = tempDir(t);
  const s = store(dir);
  await s.start();
  t.after(() => s.stop());
  for (const id of ['../etc/passwd', '/etc/passwd', '..', '.hidden', 'a/b', 'a\\b', '', 'x'.repeat(300)]) {
    await assert.rejects(s.image(id), { code: 'LS_ERR_EVIDENCE_ID' }, id);
  }
  await assert.rejects(s.image('hall-9.cam1.nope.1'), { code: 'LS_ERR_EVIDENCE_NOT_FOUND' });
  await s.stop();
});
