// The real pool (worker threads + onnxruntime-node), two workers, under scheduling pressure:
// earliest deadline first, shedding of free-run frames, parts that cannot make their deadline,
// dead workers, and control work addressed to every thread.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { isLinesightError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { ModelRef } from '../../src/inference/messages.js';
import { InferencePool, type InferJob } from '../../src/inference/pool.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { modelsDir, samplesDir } from '../helpers/env.js';

let pool: InferencePool;
let model: ModelRef;
const jpeg = readFileSync(join(samplesDir, '001-copy-centre-upright.jpg'));

before(async () => {
  pool = new InferencePool({ workers: 2, intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock: systemClock, log: silentLogger });
  pool.start();
  const v = await new ModelRegistry(modelsDir).resolve('label-orientation');
  model = { key: v.key, bytes: v.bytes, manifest: v.manifest };
  await pool.warmUp(model);
});
after(() => pool.close());

const job = (deadlineIn: number, extra: Partial<InferJob> = {}): InferJob => ({
  station: 's1',
  model,
  image: { kind: 'encoded', data: new Uint8Array(jpeg) },
  deadline: systemClock.now() + deadlineIn,
  ...extra,
});

/** Occupies both workers. */
const blockers = () => [pool.infer(job(60_000)), pool.infer(job(60_000))];

test('warm-up reaches every thread, checked by thread id', () => {
  const report = pool.threadReport();
  assert.equal(report.length, 2);
  assert.equal(new Set(report.map((t) => t.threadId)).size, 2);
  for (const t of report) assert.deepEqual(t.resident, [model.key], `thread ${t.threadId} holds ${t.resident}`);
});

test('waiting parts run earliest deadline first', async () => {
  const busy = blockers();
  const rest = [30_000, 10_000, 20_000].map((d) => pool.infer(job(d)).then((r) => ({ d, at: r.dispatchedAt })));
  assert.equal(pool.stats.queued, 3);
  await Promise.all(busy);
  // The order they were handed to a worker (two run at once, so finishing order says nothing).
  const order = (await Promise.all(rest)).sort((a, b) => a.at - b.at).map((x) => x.d);
  assert.deepEqual(order, [10_000, 20_000, 30_000]);
});

test('free-run frames beyond the station queue bound shed the oldest; others are kept', async () => {
  const busy = blockers();
  const outcomes = await Promise.allSettled([1, 2, 3, 4].map(() => pool.infer(job(60_000, { shedBeyond: 2 }))));
  await Promise.all(busy);
  assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'fulfilled', 'fulfilled']);
  for (const o of outcomes.slice(0, 2)) assert.ok(o.status === 'rejected' && isLinesightError(o.reason, 'LS_ERR_SHED'));
  // A triggered part (no shedBeyond) is never shed, however deep the queue.
  const busy2 = blockers();
  const triggered = await Promise.allSettled([1, 2, 3, 4, 5].map(() => pool.infer(job(60_000))));
  await Promise.all(busy2);
  assert.ok(triggered.every((o) => o.status === 'fulfilled'));
});

test('a part that cannot make its deadline is answered at once, without using a worker', async () => {
  const before = pool.stats.completed;
  const busy = blockers();
  const doomed = pool.infer(job(-1));
  await assert.rejects(doomed, (err: unknown) => isLinesightError(err, 'LS_ERR_ADMISSION_REFUSED'));
  await Promise.all(busy);
  assert.equal(pool.stats.completed, before + 2);
  assert.ok(pool.stats.refused >= 1);
});

test('an aborted part leaves the queue', async () => {
  const busy = blockers();
  const ac = new AbortController();
  const aborted = pool.infer(job(60_000, { signal: ac.signal }));
  assert.equal(pool.stats.queued, 1);
  ac.abort(new Error('part cancelled'));
  await assert.rejects(aborted, /part cancelled/);
  assert.equal(pool.stats.queued, 0);
  await Promise.all(busy);
});

test('a worker killed mid-inference gives its part an error; its replacement is warmed before it serves', async () => {
  const before = pool.threadReport().map((t) => t.threadId);
  const victim = pool.infer(job(60_000));
  const busy = pool.threadReport().find((t) => t.busy)!;
  await pool.threads.find((w) => w.threadId === busy.threadId)!.terminate();
  const r = await victim;
  assert.ok(!r.ok && r.error.code === 'LS_ERR_WORKER_CRASHED', JSON.stringify(r));
  assert.equal(r.frame, undefined, 'the frame died with its thread');
  assert.equal(pool.stats.crashed, 1);
  // Parts keep flowing on the other thread meanwhile, and then on the replacement.
  for (let i = 0; i < 6; i++) assert.ok((await pool.infer(job(60_000))).ok);
  await waitFor(() => pool.threadReport().length === 2 && pool.threadReport().every((t) => !t.warming && t.resident.includes(model.key)));
  const after = pool.threadReport().map((t) => t.threadId);
  assert.equal(after.filter((id) => !before.includes(id)).length, 1, 'one new thread');
});

test("a part's frame is moved to its worker and back with the answer, undamaged; a decode error brings it back too", async () => {
  const sent = job(60_000);
  const data = sent.image.data;
  const answer = pool.infer(sent);
  assert.equal(data.byteLength, 0, 'moved to the worker, not copied');
  const r = await answer;
  assert.ok(r.ok);
  assert.ok(r.frame && Buffer.from(r.frame).equals(jpeg), 'the same bytes come back');
  const broken = new Uint8Array(jpeg.subarray(0, 2000));
  const bad = await pool.infer(job(60_000, { image: { kind: 'encoded', data: new Uint8Array(broken) } }));
  assert.ok(!bad.ok && bad.error.code === 'LS_ERR_IMAGE_DECODE');
  assert.ok(bad.frame && Buffer.from(bad.frame).equals(broken));
});

test('unload reaches every thread; a model unloaded is resident nowhere', async () => {
  const v = await new ModelRegistry(modelsDir).resolve('label-orientation');
  const copy: ModelRef = { key: `${v.key}-copy`, bytes: v.bytes, manifest: v.manifest };
  const report = await pool.warmUp(copy);
  assert.deepEqual(new Set(report.threads), new Set(pool.threadReport().map((t) => t.threadId)));
  for (const t of pool.threadReport()) assert.ok(t.resident.includes(copy.key));
  await pool.unload(copy);
  for (const t of pool.threadReport()) assert.deepEqual(t.resident, [model.key]);
});

test('under sustained overload a warm-up still reaches every thread, while parts keep being served', async () => {
  const v = await new ModelRegistry(modelsDir).resolve('label-orientation');
  const next: ModelRef = { key: `${v.key}-next`, bytes: v.bytes, manifest: v.manifest };
  // Keep the queue full for as long as the warm-up takes: more work than two workers can do.
  let flooding = true;
  let served = 0;
  const flood = (async () => {
    const inFlight = new Set<Promise<unknown>>();
    while (flooding) {
      while (inFlight.size < 8) {
        const p = pool.infer(job(60_000)).then((r) => r.ok && served++);
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(pool.stats.queued > 0, 'the queue is never empty');
  const servedBefore = served;
  const report = await pool.warmUp(next);
  flooding = false;
  await flood;
  assert.deepEqual(new Set(report.threads), new Set(pool.threadReport().map((t) => t.threadId)));
  assert.ok(served > servedBefore, 'parts were served during the warm-up');
  await pool.unload(next);
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
