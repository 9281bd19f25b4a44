// inference.freeBuffersEarly: each thread asks V8 for a young-generation collection once every
// few MiB of new outside-heap memory (young-gc.ts). The pacing with an injected gc and byte count;
// V8's gc() exposed at run time really frees dead buffers; and the real pool with the option on,
// 2 workers and the default budget, answers every camera-size frame and collects on the way.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { InferencePool } from '../src/inference/pool.js';
import { ModelRegistry } from '../src/models/registry.js';
import { exposedGc, YoungGcPacer } from '../src/young-gc.js';
import { modelsDir } from './helpers/env.js';
import { cameraFrame } from './helpers/jpeg-frames.js';

const MiB = 1024 * 1024;

function pacer(everyBytes = 8 * MiB) {
  let external = 100 * MiB;
  const calls: string[] = [];
  const p = new YoungGcPacer({ everyBytes, gc: (o) => calls.push(o.type), externalBytes: () => external });
  return { p, calls, alloc: (n: number) => (external += n), sweep: (n: number) => (external -= n) };
}

test('a young collection after every 8 MiB of new outside-heap memory, not before', () => {
  const { p, calls, alloc } = pacer();
  assert.equal(p.tick(), false, 'nothing allocated yet');
  alloc(7 * MiB);
  assert.equal(p.tick(), false);
  alloc(1 * MiB);
  assert.equal(p.tick(), true);
  assert.deepEqual(calls, ['minor']);
  alloc(4 * MiB);
  assert.equal(p.tick(), false, 'counted from the last collection');
  assert.equal(p.collections, 1);
});

test("the count falls only at a later sweep: the fall lowers the mark, it does not bring the next collection forward", () => {
  const { p, calls, alloc, sweep } = pacer();
  alloc(8 * MiB);
  assert.ok(p.tick());
  sweep(20 * MiB); // a collection's sweep (ours or V8's own) catches up
  assert.equal(p.tick(), false);
  alloc(7 * MiB);
  assert.equal(p.tick(), false, '7 MiB since the fall');
  alloc(1 * MiB);
  assert.ok(p.tick());
  assert.equal(calls.length, 2);
});

test('without a gc() (V8 refused the flag) it never collects', () => {
  let external = 0;
  const p = new YoungGcPacer({ gc: null, externalBytes: () => (external += 64 * MiB) });
  assert.equal(p.tick(), false);
  assert.equal(p.tick(), false);
});

test("V8's gc(), exposed at run time, frees dead buffers in a young collection", async () => {
  const gc = exposedGc();
  assert.equal(typeof gc, 'function');
  const before = process.memoryUsage().arrayBuffers;
  let keep: Buffer[] | null = Array.from({ length: 16 }, () => Buffer.allocUnsafeSlow(MiB));
  assert.ok(process.memoryUsage().arrayBuffers >= before + 16 * MiB);
  keep = null;
  gc!({ type: 'minor' });
  // The buffers' sweep runs beside the thread, after the collection.
  for (let i = 0; i < 50 && process.memoryUsage().arrayBuffers > before + 4 * MiB; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(process.memoryUsage().arrayBuffers <= before + 4 * MiB, `array buffers ${process.memoryUsage().arrayBuffers} against ${before} before`);
  assert.equal(keep, null);
});

test('the real pool with freeBuffersEarly: every 1280 x 1024 frame answered, its bytes back, collections on the way', async (t) => {
  const pool = new InferencePool({ workers: 2, intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger, freeBuffersEarly: true });
  t.after(() => pool.close());
  pool.start();
  const v = await new ModelRegistry(modelsDir).resolve('label-orientation');
  const model = { key: v.key, bytes: v.bytes, manifest: v.manifest };
  await pool.warmUp(model);
  const frame = await cameraFrame(1280, 1024);
  // 60 frames of about 1 MiB: each crosses the main thread twice (out and back), well past 8 MiB.
  for (let i = 0; i < 60; i++) {
    const r = await pool.infer({ station: 's1', model, image: { kind: 'encoded', data: new Uint8Array(frame) }, deadline: systemClock.now() + 100 });
    assert.ok(r.ok, `part ${i}: ${r.ok ? '' : r.error.message}`);
    assert.deepEqual(r.frame, new Uint8Array(frame), `part ${i}: the frame came back`);
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(pool.youngCollections > 0, 'the main thread collected its young generation');
});
